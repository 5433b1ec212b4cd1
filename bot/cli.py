"""The `learnloop` command: serve, db upgrade, export, demo."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from dotenv import load_dotenv
from rich.console import Console

from bot.settings import Settings, SettingsError, database_url_from_env

cli = typer.Typer(
    name="learnloop",
    help="LearnLoop: social learning inside Slack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
err = Console(stderr=True)

EXIT_BAD_SETTING = 2


def _fail_setting(error: SettingsError) -> NoReturn:
    err.print(f"[bold red]Configuration error:[/] {error}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_SETTING)


def _settings(port: int | None = None) -> Settings:
    environ = dict(os.environ)
    if port is not None:
        environ["PORT"] = str(port)
    try:
        return Settings.from_env(environ)
    except SettingsError as error:
        _fail_setting(error)


def _database_url() -> str:
    try:
        return database_url_from_env(os.environ)
    except SettingsError as error:
        _fail_setting(error)


@cli.command()
def serve(
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: $PORT or 3000).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",
) -> None:
    """Run the app: HTTP mode on /slack/events, or Socket Mode when SLACK_APP_TOKEN is set."""
    settings = _settings(port)
    from bot.serve import run_http, run_socket_mode

    if settings.socket_mode:
        asyncio.run(run_socket_mode(settings))
    else:
        run_http(settings, host=host)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema (safe to run repeatedly)."""
    from storage.db import create_db_engine, upgrade

    url = _database_url()
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    err.print("Database is up to date.")


@cli.command()
def export(
    format: Annotated[str, typer.Option("--format", help="Output format.")] = "jsonl",
    team: Annotated[str | None, typer.Option(help="Only this workspace (team id).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Every stored record, one JSON object a line, streamed."""
    from bot.export import export_jsonl
    from storage.db import create_db_engine, create_session_factory, session_scope

    if format != "jsonl":
        err.print(f"[bold red]Unsupported format {format!r}:[/] only jsonl is available.")
        raise typer.Exit(EXIT_BAD_SETTING)
    engine = create_db_engine(_database_url())
    try:
        with session_scope(create_session_factory(engine)) as session:
            if out is None:
                count = export_jsonl(sys.stdout, session=session, team_id=team)
            else:
                with out.open("w", encoding="utf-8") as stream:
                    count = export_jsonl(stream, session=session, team_id=team)
    finally:
        engine.dispose()
    err.print(f"Exported {count} records.")


@cli.command()
def demo() -> None:
    """Run a scripted conversation through the real app against the local Slack emulator."""
    from bot.demo import run_demo

    run_demo(Console())


def main() -> None:
    load_dotenv(override=False)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    cli()
