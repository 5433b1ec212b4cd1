"""Community health over signed HTTP through the emulator: /summary health for a manager and
not for a member, the weekly summary's health line, the manager's App Home section, and
`learnloop summary --health` as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from bot.emulator import ALICE, BOB, GENERAL, SlackEmulator
from bot.serve import BackgroundServer
from bot.summary import Week
from storage.models import MemberJoin, Til
from storage.types import utcnow
from tests.conftest import eventually
from tests.handlers.test_summary import rows, shown_privately, summary_command
from tests.health_data import A1, A4, X1, seed_flow, seed_participation
from tests.test_cli import learnloop
from tests.week_data import ZONE, seed

P03 = "U0P03"  # asked once in 2026-W45, unanswered, and never answered anyone


def seed_both(engine: Engine, team_id: str) -> None:
    seed_participation(engine, team_id)
    seed_flow(engine, team_id)


def test_a_manager_sees_community_health_over_eight_weeks_privately(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    seed_both(engine, emulator.team_id)
    summary_command(emulator, ALICE, f"timezone {ZONE}")
    answer = summary_command(emulator, ALICE, "health all 2026-W47")
    assert "Looking at the 8 weeks to 2026-W47" in answer
    shown = shown_privately(emulator)
    assert shown["response_type"] == "ephemeral"
    text = shown["text"]
    assert "Community health of the whole workspace, the 8 weeks to 2026-W47" in text
    assert "Mon 28 Sep 2026 to Sun 22 Nov 2026 (America/New_York)" in text
    assert "2026-W41: no contributions" in text
    assert "2026-W44: 5.8% / 15.1% / 79.1% (2 / 13 / 135 people)" in text
    assert "2026-W45: 20.0% / 20.0% / 60.0% (1 / 2 / 18 people)" in text
    assert "2026-W46: no contributions" in text
    assert "Asked about, no expert: #rust (2 questions), #go (1 question)" in text
    # #leads is private: its overloaded expert and its only-asker are counted, not named.
    assert f"<@{X1}> (4 questions, peers' mean 1.7), 1 in private channels" in text
    assert (
        f"Only ask, never answered (8 weeks): <@{A1}> (3 questions), <@{A4}> (3 questions), "
        f"<@{P03}> (1 question), 1 in private channels"
    ) in text
    assert (
        "5 newcomers joined in these 8 weeks; 3 posted a first TIL or answer, after a median "
        "2d 0h (90th percentile 8d 9h); 2 not yet"
    ) in text
    assert "U0A5" not in text and "U0Y1" not in text


def test_community_health_is_for_managers_only(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    seed_both(engine, emulator.team_id)
    answer = summary_command(emulator, BOB, "health all 2026-W47")
    assert "Only a community manager can do that" in answer
    assert "Looking at" not in answer and emulator.responses == []
    assert "is not a week" in summary_command(emulator, ALICE, "health all next month")
    assert "/summary health [#channel|all]" in summary_command(emulator, ALICE, "help")


def test_the_weekly_summary_has_a_health_line_and_points_to_the_rest(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    seed(engine, emulator.team_id)
    summary_command(emulator, ALICE, f"timezone {ZONE}")
    summary_command(emulator, ALICE, "all 2026-W47")
    text = shown_privately(emulator)["text"]
    assert (
        "Share of contributions from the top 1% / next 9% / other 90% of contributors: "
        "42.9% / 0.0% / 57.1%"
    ) in text
    assert "`/summary health`" in text


def test_a_managers_app_home_has_a_community_health_section(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert emulator.member_joins(BOB, GENERAL).status == 200
    eventually(lambda: rows(engine, MemberJoin), what="Bob's join recorded")
    emulator.post_message(BOB, GENERAL, "TIL newcomers ramp up fast #onboarding")
    eventually(lambda: rows(engine, Til), what="Bob's TIL stored")
    this_week = Week.containing(utcnow().date()).label  # the workspace zone is UTC here

    assert emulator.open_app_home(BOB).status == 200
    bob_text = str(eventually(lambda: emulator.home_view(BOB), what="Bob's Home tab")["blocks"])
    assert "Community health" not in bob_text, "members see their own week only"

    assert emulator.open_app_home(ALICE).status == 200
    home = eventually(lambda: emulator.home_view(ALICE), what="Alice's Home tab")
    text = str(home["blocks"])
    assert "Community health" in text
    assert f"{this_week}: 100.0% / 0.0% / 0.0% (1 / 0 / 0 people)" in text
    assert "1 newcomer joined in these 8 weeks; 1 posted a first TIL or answer" in text


def test_the_cli_gives_community_health_as_json(
    engine: Engine, database_url: str, emulator: SlackEmulator, tmp_path: Path
) -> None:
    seed_both(engine, emulator.team_id)
    offline = {"DATABASE_URL": database_url, "LEARNLOOP_TIMEZONE": ZONE}
    online = offline | {"SLACK_BOT_TOKEN": emulator.bot_token, "SLACK_API_URL": emulator.api_url}
    week = ["summary", "--team", emulator.team_id, "--week", "2026-W47", "--health"]
    # Without Slack (and before anyone asked it) no channel is known to be public: everyone
    # is counted, nobody named.
    result = learnloop(*week, "--format", "json", env=offline, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    flow = json.loads(result.stdout)["knowledge_flow"]
    assert (flow["only_askers"], flow["only_askers_unnamed"]) == ([], 4)
    assert (flow["overloaded_experts"], flow["overloaded_experts_unnamed"]) == ([], 2)
    result = learnloop(*week, "--format", "json", env=online, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)
    assert (health["week"], health["timezone"]) == ("2026-W47", ZONE)
    assert [w["week"] for w in health["participation"]] == [f"2026-W{n}" for n in range(40, 48)]
    assert health["participation"][4]["groups"]["next_9"] == {
        "people": 13,
        "contributions": 26,
        "share": 15.1,
    }
    flow = health["knowledge_flow"]
    assert flow["tags_without_experts"] == [
        {"tag": "rust", "questions": 2},
        {"tag": "go", "questions": 1},
    ]
    assert flow["overloaded_experts"] == [{"user_id": X1, "routed": 4, "peer_mean": 1.67}]
    assert flow["only_askers"][0] == {"user_id": A1, "questions": 3}
    assert (flow["overloaded_experts_unnamed"], flow["only_askers_unnamed"]) == (1, 1)
    assert health["newcomers"] == {
        "joined": 5,
        "ramped": 3,
        "not_yet": 2,
        "median_seconds_to_first_contribution": 172800.0,
        "p90_seconds_to_first_contribution": 725760.0,
    }

    refused = learnloop(*week, "--chart", str(tmp_path / "c.png"), env=offline, cwd=tmp_path)
    assert refused.returncode == 2 and "--chart" in refused.stderr
