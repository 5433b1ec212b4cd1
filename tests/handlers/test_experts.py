"""/expert end to end: the directory as people build it, over signed HTTP."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import ALICE, BOB, CAROL, DAVE, GENERAL, SlackEmulator
from bot.serve import BackgroundServer
from storage.models import Expert, ExpertStatus


def expert(emulator: SlackEmulator, user: str, text: str) -> str:
    """Run /expert as `user`; the private answer's text."""
    delivery = emulator.slash_command(user, GENERAL, "/expert", text)
    assert delivery.status == 200
    reply = delivery.json()
    assert reply["response_type"] == "ephemeral", "directory answers are private"
    return str(reply["text"])


def directory(engine: Engine) -> set[tuple[str, str]]:
    with Session(engine) as session:
        return {(row.user_id, row.tag) for row in session.exec(select(Expert))}


def test_expert_add_tags_yourself_normalised(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    answer = expert(emulator, BOB, "add #Postgres #sql.")
    assert "Added" in answer and "#postgres" in answer and "#sql" in answer
    assert directory(engine) == {(BOB, "postgres"), (BOB, "sql")}
    assert "already" in expert(emulator, BOB, "add #postgres")
    assert directory(engine) == {(BOB, "postgres"), (BOB, "sql")}


def test_tagging_someone_else_takes_a_lead_or_manager(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    refused = expert(emulator, BOB, f"add <@{CAROL}|carol> #kubernetes")
    assert "Only a team lead or community manager" in refused
    assert directory(engine) == set()
    # alice is a workspace admin (users.info), so a manager
    assert "Added" in expert(emulator, ALICE, f"add <@{CAROL}|carol> <@{DAVE}|dave> #kubernetes")
    assert directory(engine) == {(CAROL, "kubernetes"), (DAVE, "kubernetes")}


def test_expert_remove_and_list(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    expert(emulator, BOB, "add #postgres #python")
    expert(emulator, CAROL, "add #python")
    listing = expert(emulator, DAVE, "list")
    assert "#postgres" in listing and "#python" in listing and f"<@{CAROL}>" in listing
    only_python = expert(emulator, DAVE, "list #Python")
    assert "#postgres" not in only_python and f"<@{BOB}> (0 answered)" in only_python
    assert "Removed" in expert(emulator, BOB, "remove #python")
    assert directory(engine) == {(BOB, "postgres"), (CAROL, "python")}
    assert "No experts yet on `#rust`" in expert(emulator, DAVE, "list #rust")


def test_channel_named_tags_count_as_tags(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    """With should_escape, "#general" arrives as a channel link; it is still a tag."""
    expert(emulator, BOB, "add <#C0GENERAL|general>")
    assert directory(engine) == {(BOB, "general")}


def test_aliases_are_for_managers_and_merge_tags(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    expert(emulator, BOB, "add #k8s")
    assert "Only a community manager" in expert(emulator, BOB, "alias #k8s #kubernetes")
    assert "now means" in expert(emulator, ALICE, "alias #k8s #kubernetes")
    assert directory(engine) == {(BOB, "kubernetes")}, "existing experts move to the tag"
    expert(emulator, CAROL, "add #K8s")
    assert directory(engine) == {(BOB, "kubernetes"), (CAROL, "kubernetes")}
    assert "Give an alias" in expert(emulator, ALICE, "alias #k8s")


def test_away_and_back(server: BackgroundServer, emulator: SlackEmulator, engine: Engine) -> None:
    assert "until you're back" in expert(emulator, BOB, "away")
    assert "until 2099-01-31" in expert(emulator, BOB, "away until 2099-01-31")
    with Session(engine) as session:
        status = session.exec(select(ExpertStatus).where(ExpertStatus.user_id == BOB)).one()
        assert status.away_until is not None and status.away_until.isoformat().startswith(
            "2099-02-01"
        )
    assert "Welcome back" in expert(emulator, BOB, "back")
    with Session(engine) as session:
        status = session.exec(select(ExpertStatus).where(ExpertStatus.user_id == BOB)).one()
        assert status.away_until is None
    for bad in ("until tomorrow", "until 2020-01-01", "until 2099-02-30"):
        assert "/expert away" in expert(emulator, BOB, f"away {bad}"), bad


def test_unknown_or_empty_subcommands_show_usage(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for text in ("", "help", "frobnicate #x", "add", "follow"):
        answer = expert(emulator, BOB, text)
        assert "/expert" in answer or "#tag" in answer, text
    assert directory(engine) == set()
