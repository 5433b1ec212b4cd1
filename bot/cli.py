"""The `learnloop` command: serve, worker, db upgrade, export, forget, summary, demo, sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer
from dotenv import load_dotenv
from rich.console import Console

from bot.settings import (
    DEFAULT_PORT,
    Settings,
    SettingsError,
    api_url_from_env,
    bot_token_from_env,
    database_url_from_env,
    timezone_from_env,
)

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


@cli.command()
def worker() -> None:
    """Run the Slack work that serving processes store (LEARNLOOP_FOLLOW_UPS=worker), until
    SIGTERM or Ctrl-C."""
    settings = _settings()
    from bot.worker import run_worker

    run_worker(settings)


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
def forget(
    team: Annotated[str, typer.Option(help="The workspace (team id, T...).")],
    user: Annotated[str, typer.Option(help="The person (user id, U... or W...).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete or anonymise everything stored about a person, as /learnloop forget-me does."""
    from bot.privacy import USER_ID
    from bot.privacy import forget as forget_person
    from storage.db import create_db_engine, create_session_factory, session_scope

    if not USER_ID.match(user):
        err.print(f"[bold red]--user:[/] {user!r} is not a Slack user id (U... or W...).")
        raise typer.Exit(EXIT_BAD_SETTING)
    url = _database_url()
    if not yes and not typer.confirm(
        f"Delete or anonymise everything LearnLoop stores about {user} in {team}? "
        "This cannot be undone",
        err=True,
    ):
        err.print("Nothing was changed.")
        raise typer.Exit(1)
    engine = create_db_engine(url)
    try:
        with session_scope(create_session_factory(engine)) as session:
            report = forget_person(team, user, session=session)
    finally:
        engine.dispose()
    for line in report.lines() or [f"Nothing was stored about {user} in {team}."]:
        print(line)


SUMMARY_FORMATS = ("md", "json", "csv")


@cli.command()
def summary(
    team: Annotated[str, typer.Option(help="The workspace (team id, T...).")],
    channel: Annotated[
        str | None, typer.Option(help="One channel (id, C...); the whole workspace by default.")
    ] = None,
    week: Annotated[str, typer.Option(help="YYYY-Www, 'this week' or 'last week'.")] = "this week",
    format: Annotated[str, typer.Option("--format", help="md, json or csv.")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Also write a PNG chart of the 8 weeks to this week.")
    ] = None,
    health: Annotated[
        bool,
        typer.Option(
            "--health",
            help="Community health over the 8 weeks to this week instead, as /summary health.",
        ),
    ] = False,
) -> None:
    """A week's summary, the same figures as /summary, for scripts and spreadsheets.

    With SLACK_BOT_TOKEN set, channel sizes come from Slack; without it they are left out, and
    nothing from a channel not known to be public is quoted, nor anyone named from one.
    """
    from bot import health_report, summary_report
    from bot.health import assess
    from bot.slack_client import create_web_client
    from bot.summary import Summary, Week, chart_series, chart_title, summarise, workspace_zone
    from storage.db import create_db_engine, create_session_factory, session_scope
    from storage.types import utcnow

    if format not in SUMMARY_FORMATS:
        err.print(f"[bold red]Unsupported format {format!r}:[/] use md, json or csv.")
        raise typer.Exit(EXIT_BAD_SETTING)
    if health and chart is not None:
        err.print("[bold red]--chart:[/] the chart belongs to the weekly summary, not --health.")
        raise typer.Exit(EXIT_BAD_SETTING)
    try:
        token = bot_token_from_env(os.environ)
        client = create_web_client(token, api_url_from_env(os.environ)) if token else None
        default_zone = timezone_from_env(os.environ)
    except SettingsError as error:
        _fail_setting(error)
    engine = create_db_engine(_database_url())
    try:
        with session_scope(create_session_factory(engine)) as session:
            zone_name = workspace_zone(team, default_zone, session=session)
            try:
                chosen = Week.parse(week, utcnow().astimezone(ZoneInfo(zone_name)).date())
            except ValueError as error:
                err.print(f"[bold red]--week:[/] {error}")
                raise typer.Exit(EXIT_BAD_SETTING) from None
            report = (assess if health else summarise)(
                team, channel, chosen, zone_name, session=session, client=client
            )
            if format == "json":
                rendered = json.dumps(report.as_dict(), indent=2) + "\n"
            elif format == "csv":
                rendered = summary_report.csv_text(report)
            elif isinstance(report, Summary):
                rendered = summary_report.markdown(report)
            else:
                rendered = health_report.markdown(report)
            if chart is not None and isinstance(report, Summary):
                chart.write_bytes(
                    summary_report.chart_png(
                        *chart_series(report, session=session), chart_title(report)
                    )
                )
    finally:
        engine.dispose()
    if out is None:
        sys.stdout.write(rendered)
    else:
        out.write_text(rendered, encoding="utf-8")
        err.print(f"Wrote {out}.")


@cli.command()
def demo() -> None:
    """Run a scripted conversation through the real app against the local Slack emulator."""
    from bot.demo import run_demo

    run_demo(Console())


@cli.command()
def sandbox(
    port: Annotated[
        int, typer.Option(envvar="PORT", help="Port of the page on 127.0.0.1 (0: any free one).")
    ] = DEFAULT_PORT,
) -> None:
    """Try LearnLoop in the browser: a local Slack workspace wired to the real app."""
    from bot.sandbox import SandboxError, run_sandbox

    try:
        run_sandbox(os.environ, port=port)
    except SettingsError as error:
        _fail_setting(error)
    except SandboxError as error:
        err.print(f"[bold red]The sandbox did not start:[/] {error}", highlight=False)
        raise typer.Exit(1) from None


def main() -> None:
    load_dotenv(override=False)
    from bot.logs import configure_logging

    try:
        configure_logging(
            os.environ.get("LOG_LEVEL", "INFO").strip() or "INFO",
            os.environ.get("LOG_FORMAT", "text").strip().lower() or "text",
        )
    except ValueError as error:
        err.print(f"[bold red]Configuration error:[/] {error}.", highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_SETTING)
    cli()
