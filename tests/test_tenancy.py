"""Tenancy: two workspaces installed through OAuth, the same people's ids in both (as across
an Enterprise Grid), and nothing of one ever shows in the other's commands, App Home or export."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from bot.emulator import ALICE, BOB, DAVE, GENERAL, SlackEmulator
from bot.serve import BackgroundServer
from tests.conftest import OTHER_TEAM, eventually, install, stored_tils
from tests.test_cli import learnloop


def seed(workspace: SlackEmulator, word: str, expert: str) -> None:
    workspace.post_message(ALICE, GENERAL, f"TIL {word} #kubernetes")
    workspace.slash_command(expert, GENERAL, "/expert", "add #kubernetes")


def seen_by(workspace: SlackEmulator) -> str:
    """Everything ALICE can look at in the workspace: search, the directory, the summary (after
    the ack, on the response_url) and her App Home."""
    search = workspace.slash_command(ALICE, GENERAL, "/til", "search kept").json()
    experts = workspace.slash_command(ALICE, GENERAL, "/expert", "list #kubernetes").json()
    workspace.slash_command(ALICE, GENERAL, "/summary", "")
    summary = eventually(lambda: workspace.responses, what="the summary")
    workspace.open_app_home(ALICE)
    home = eventually(lambda: workspace.home_view(ALICE), what="ALICE's App Home")
    return json.dumps([search, experts, summary, home])


def test_two_workspaces_never_see_each_others_tils_experts_summaries_or_exports(
    oauth_server: BackgroundServer,
    emulator: SlackEmulator,
    other_workspace: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    here, there = emulator, other_workspace
    for workspace in (here, there):
        assert install(oauth_server.url, workspace.team_id).status == 200
    seed(here, "alpha-kept-here", DAVE)
    seed(there, "beta-kept-there", BOB)
    eventually(lambda: len(stored_tils(engine)) == 2, what="both TILs kept")

    shown_here, shown_there = seen_by(here), seen_by(there)
    assert "1 TIL posted" in shown_here and "1 TIL posted" in shown_there, "counts, too"
    assert "alpha-kept-here" in shown_here and DAVE in shown_here
    assert "beta-kept-there" not in shown_here and BOB not in shown_here
    assert "beta-kept-there" in shown_there and BOB in shown_there
    assert "alpha-kept-here" not in shown_there and DAVE not in shown_there

    exported = learnloop(
        "export", "--team", OTHER_TEAM, env={"DATABASE_URL": database_url}, cwd=tmp_path
    )
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert records and {record["team_id"] for record in records} == {OTHER_TEAM}
    assert "beta-kept-there" in exported.stdout and "alpha-kept-here" not in exported.stdout
