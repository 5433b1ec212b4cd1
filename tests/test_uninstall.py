"""Uninstalling: Slack's tokens_revoked and app_uninstalled mark the workspace as no longer
served and delete its installation; the sweeps then send it nothing while the other workspace's
work goes out, and installing again brings it back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, func, select

from bot.emulator import ALICE, BOB, DAVE, GENERAL, SlackEmulator
from bot.jobs import (
    run_digests,
    run_escalations,
    run_follow_ups,
    run_reflections,
    run_reminders,
)
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from storage.models import (
    FollowUp,
    HelpRequest,
    ReflectionSchedule,
    SummarySubscription,
    Workspace,
)
from tests.conftest import OTHER_TEAM, eventually, install, stored_tils

SECOND = timedelta(seconds=1)


def seed_due_work(workspace: SlackEmulator, engine: Engine) -> None:
    """A reflection schedule, a weekly digest, a question to escalate and a TIL confirmation
    Slack refused (a follow-up to replay), all made through the app."""
    workspace.slash_command(ALICE, GENERAL, "/reflect", "schedule daily 09:00 Etc/UTC")
    workspace.slash_command(ALICE, GENERAL, "/summary", "subscribe <#C0GENERAL|general> mon 09:00")
    workspace.slash_command(ALICE, GENERAL, "/expert", "add <@U0BOB> #db")
    workspace.slash_command(DAVE, GENERAL, "/ask", "index or not? #db")
    workspace.wait_for_call("chat.postMessage", lambda c: c.params.get("channel") == "D0BOB")
    workspace.fail("reactions.add", status=503, times=3)
    workspace.post_message(BOB, GENERAL, "TIL replays wait for their workspace")
    eventually(lambda: failed_follow_up(engine, workspace.team_id), what="a follow-up to replay")


def failed_follow_up(engine: Engine, team_id: str) -> bool:
    with Session(engine) as session:
        query = select(FollowUp).where(FollowUp.team_id == team_id, col(FollowUp.attempts) > 0)
        return session.exec(query).first() is not None


def latest(engine: Engine, model: type[SQLModel], column: object, team_id: str) -> datetime | None:
    with Session(engine) as session:
        team = col(model.team_id)  # type: ignore[attr-defined]
        return session.exec(select(func.max(column)).where(team == team_id)).one()


def sweep(runtime: Runtime, engine: Engine, team_ids: list[str]) -> None:
    """Every sweep step, each just after its work in these workspaces is due."""
    steps: list[tuple[Callable[[Runtime, datetime], list[int]], type[SQLModel], object]] = [
        (run_follow_ups, FollowUp, FollowUp.run_after),
        (run_escalations, HelpRequest, HelpRequest.escalate_at),
        (run_reflections, ReflectionSchedule, ReflectionSchedule.next_run_at),
        (run_digests, SummarySubscription, SummarySubscription.next_run_at),
    ]
    for step, model, column in steps:
        due = [latest(engine, model, column, team) for team in team_ids]
        step(runtime, max(d for d in due if d is not None) + SECOND)
    run_reminders(runtime, max(d for d in due if d is not None) + timedelta(days=1))


def served(engine: Engine, team_id: str) -> bool | None:
    with Session(engine) as session:
        return session.exec(select(Workspace.active).where(Workspace.team_id == team_id)).first()


def bot_rows(engine: Engine, team_id: str) -> int:
    with engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM slack_bots WHERE team_id = :team")
        return int(connection.execute(query, {"team": team_id}).scalar_one())


@pytest.fixture
def runtime(oauth_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(oauth_settings)
    yield runtime
    runtime.close()


def test_an_uninstalled_workspace_gets_nothing_from_the_sweeps_and_the_other_still_does(
    oauth_server: BackgroundServer,
    emulator: SlackEmulator,
    other_workspace: SlackEmulator,
    engine: Engine,
    runtime: Runtime,
) -> None:
    for team in (emulator.team_id, OTHER_TEAM):
        assert install(oauth_server.url, team).status == 200
    for workspace in (emulator, other_workspace):
        seed_due_work(workspace, engine)
    old_token = other_workspace.bot_token

    assert [d.status for d in other_workspace.uninstall_app()] == [200, 200]
    assert served(engine, OTHER_TEAM) is False and bot_rows(engine, OTHER_TEAM) == 0
    for workspace in (emulator, other_workspace):
        workspace.reset_calls()
    sweep(runtime, engine, [emulator.team_id, OTHER_TEAM])

    assert other_workspace.calls == [], "nothing is sent to an uninstalled workspace"
    assert all(call.token != old_token for call in emulator.calls)
    texts = [str(c.params.get("text")) for c in emulator.calls_to("chat.postMessage")]
    assert any("Time to reflect" in text for text in texts), texts
    assert emulator.calls_to("reactions.add"), "the other workspace's replay went out"
    assert emulator.calls_to("files.completeUploadExternal"), "and its digest"

    # Installing again serves the workspace again, with the new token.
    assert install(oauth_server.url, OTHER_TEAM).status == 200
    assert served(engine, OTHER_TEAM) is True and other_workspace.bot_token != old_token
    sweep(runtime, engine, [OTHER_TEAM])
    reactions = other_workspace.calls_to("reactions.add")
    assert reactions and {c.token for c in reactions} == {other_workspace.bot_token}


def test_in_single_token_mode_an_uninstalled_workspace_gets_nothing_either(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    seed_due_work(emulator, engine)
    emulator.uninstall_app()
    emulator.reset_calls()
    runtime = Runtime(settings)
    try:
        sweep(runtime, engine, [emulator.team_id])
    finally:
        runtime.close()
    assert emulator.calls == []


def test_tils_of_an_uninstalled_workspace_are_no_longer_kept(
    oauth_server: BackgroundServer,
    emulator: SlackEmulator,
    other_workspace: SlackEmulator,
    engine: Engine,
) -> None:
    """The gate captures a workspace's TILs itself once it knows the workspace (bot.server);
    after an uninstall it leaves them to Bolt again, which refuses them."""
    for team in (emulator.team_id, OTHER_TEAM):
        assert install(oauth_server.url, team).status == 200
    for number in (1, 2):  # the second is the gate's
        ts, _ = other_workspace.post_message(BOB, GENERAL, f"TIL kept while installed {number}")
        other_workspace.wait_for_call("reactions.add", lambda c, ts=ts: c.params["timestamp"] == ts)
    assert [til.text for til in stored_tils(engine)] == [
        "TIL kept while installed 1",
        "TIL kept while installed 2",
    ]
    assert {c.token for c in other_workspace.calls_to("reactions.add")} == {
        other_workspace.bot_token
    }

    other_workspace.uninstall_app()
    other_workspace.post_message(BOB, GENERAL, "TIL sent after the uninstall")
    emulator.post_message(BOB, GENERAL, "TIL in the workspace that stayed")
    assert [til.text for til in stored_tils(engine)][2:] == ["TIL in the workspace that stayed"]

    assert install(oauth_server.url, OTHER_TEAM).status == 200
    other_workspace.reset_calls()
    for number in (1, 2):
        ts, _ = other_workspace.post_message(BOB, GENERAL, f"TIL kept again {number}")
        other_workspace.wait_for_call("reactions.add", lambda c, ts=ts: c.params["timestamp"] == ts)
    assert {c.token for c in other_workspace.calls_to("reactions.add")} == {
        other_workspace.bot_token
    }, "confirmed with the new installation's token"
