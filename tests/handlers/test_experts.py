"""/expert end to end: the directory as people build it, over signed HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from bot.emulator import ALICE, BOB, CAROL, DAVE, GENERAL, SlackEmulator
from bot.experts import learned_scores
from bot.jobs import run_held_routing
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from storage import til as til_store
from storage.help_requests import add_help_request
from storage.models import (
    Expert,
    ExpertStatus,
    HelpRoute,
    HelpStatus,
    RouteAnswer,
    Til,
    TilSource,
)
from tests.conftest import eventually


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


def test_colleagues_who_posted_tils_on_a_tag_are_listed_and_asked_when_no_expert_is(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine, settings: Settings
) -> None:
    emulator.post_message(DAVE, GENERAL, "TIL redis SCAN is safe where KEYS is not #redis")
    emulator.post_message(CAROL, GENERAL, "TIL about something else #css")
    listing = expert(emulator, BOB, "list #redis")
    assert "Also recently helped or shared TILs on it: <@U0DAVE>" in listing
    assert "U0CAROL" not in listing
    emulator.slash_command(ALICE, GENERAL, "/ask", "how do I find big keys? #redis")
    shown = emulator.wait_for_response(lambda r: "Maybe it's already answered" in r["text"])
    assert "redis SCAN" in shown["text"], "dave's TIL is suggested first"
    runtime = Runtime(settings)
    try:
        eventually(
            lambda: run_held_routing(runtime, datetime.now(UTC) + timedelta(minutes=3)),
            what="the held question routed",
        )
    finally:
        runtime.close()
    dm = emulator.open_im(DAVE).id
    emulator.wait_for_call("chat.postMessage", lambda c: c.params["channel"] == dm)


def test_learned_expertise_fades_by_half_every_90_days_and_declines_weaken_it(
    engine: Engine,
) -> None:
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with Session(engine) as session:
        for author, age_days, ts in ((BOB, 0, "1.1"), (CAROL, 90, "1.2"), (DAVE, 180, "1.3")):
            til = til_store.add_til(
                til_store.NewTil("T1", "C1", ts, author, author, TilSource.KEYWORD, "TIL", ("db",)),
                session=session,
            )
            session.execute(
                update(Til)
                .where(col(Til.id) == til.id)
                .values(created_at=now - timedelta(days=age_days))
            )
        question = add_help_request("T1", "C1", ALICE, "q", ["db"], session=session)
        question.status, question.answerer_id = HelpStatus.RESOLVED, BOB
        question.resolved_at = now - timedelta(days=90)
        session.add(question)
        session.add(
            HelpRoute(
                team_id="T1",
                help_request_id=question.id,
                expert_id=DAVE,
                routed_at=now,
                answer=RouteAnswer.DECLINED,
                answered_at=now,
            )
        )
        session.commit()
        scores = learned_scores("T1", ["db"], now, session=session)
    # BOB: a TIL today (0.5) and an answer 90 days ago (1 * 0.5); CAROL: a TIL 90 days ago;
    # DAVE: a TIL 180 days ago (0.125) outweighed by a question he declined today (-1).
    assert scores == {BOB: 1.0, CAROL: 0.25}


def test_tils_under_an_alias_count_for_the_tag_it_stands_for(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.post_message(DAVE, GENERAL, "TIL kubectl rollout undo exists #k8s")
    expert(emulator, ALICE, "alias #k8s #kubernetes")
    listing = expert(emulator, BOB, "list #kubernetes")
    assert "Also recently helped or shared TILs on it: <@U0DAVE>" in listing
