"""Every figure of a weekly summary on seeded data, exactly: week boundaries in a non-UTC zone,
the privacy rule, and the chart's series. Slack (the emulator) answers channel sizes and
privacy over real HTTP; the database is real (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.emulator import ALICE, BOB, CAROL, DAVE, GENERAL, LEADS, SlackEmulator
from bot.slack_client import create_web_client
from bot.summary import Summary, Week, chart_series, digest_week, summarise
from tests.week_data import WEEK, ZONE, seed, utc


@pytest.fixture
def figures(engine: Engine, emulator: SlackEmulator) -> tuple[Summary, dict[str, int]]:
    ids = seed(engine, emulator.team_id)
    client = create_web_client(emulator.bot_token, emulator.api_url)
    with Session(engine) as session:
        return summarise(emulator.team_id, None, WEEK, ZONE, session=session, client=client), ids


def test_the_week_runs_from_monday_to_sunday_midnight_in_the_workspace_zone() -> None:
    from zoneinfo import ZoneInfo

    assert WEEK.bounds(ZoneInfo(ZONE)) == (utc(16, 5), utc(23, 5))
    assert WEEK.label == "2026-W47"
    assert Week.parse("last week", datetime(2026, 11, 28).date()) == WEEK
    assert Week.parse("2026-w47", datetime(2026, 1, 1).date()) == WEEK
    with pytest.raises(ValueError, match="2026 has no week 60"):
        Week.parse("2026-W60", datetime(2026, 1, 1).date())


def test_tils_are_counted_by_local_week_with_tags_contributors_and_public_highlights(
    figures: tuple[Summary, dict[str, int]],
) -> None:
    summary, ids = figures
    assert (summary.tils, summary.tils_previous_week) == (4, 1)
    assert [(c.key, c.count) for c in summary.top_tags] == [
        ("python", 2),
        ("sql", 2),
        ("secret", 1),
    ]
    assert [(c.key, c.count) for c in summary.top_contributors] == [(ALICE, 3), (BOB, 1)]
    # t4 has the most reactions but is in a private channel: counted above, never quoted.
    assert [(h.id, h.reactions) for h in summary.highlights] == [(ids["t1"], 5), (ids["t2"], 2)]


def test_help_figures_count_asks_answers_and_resolutions_of_the_week(
    figures: tuple[Summary, dict[str, int]],
) -> None:
    summary, ids = figures
    help = summary.help
    assert (help.asked, help.answered, help.resolved, help.still_open) == (3, 3, 1, 4)
    # First answers this week took 30 min, 2 h and 5 d 20 h: median 2 h; 90th percentile
    # interpolated 80% of the way from 2 h to 5 d 20 h.
    assert summary.median_answer_seconds == pytest.approx(7200, abs=0.01)
    assert summary.p90_answer_seconds == pytest.approx(7200 + 0.8 * (504000 - 7200), abs=0.01)
    # q5 is older but private.
    assert [q.id for q in summary.oldest_open] == [ids["q4"], ids["q2"], ids["q3"]]
    assert [(g.tag, g.asked, g.unanswered) for g in summary.knowledge_gaps] == [
        ("kubernetes", 1, 1)
    ]
    assert [(c.key, c.count) for c in summary.top_answerers] == [(ALICE, 2), (CAROL, 1)]


def test_reflection_and_participation_figures_use_slack_for_who_could_take_part(
    figures: tuple[Summary, dict[str, int]],
) -> None:
    summary, _ = figures
    reflection = summary.reflection
    assert (reflection.prompts_sent, reflection.responses, reflection.responders) == (2, 4, 3)
    # 3 DMs plus a prompt posted to #general's 4 people; 3 of those 7 answered.
    assert summary.reflection_reached == 7
    assert summary.response_rate == pytest.approx(3 / 7, abs=1e-4)
    assert summary.members == 4  # the bot is no member
    assert summary.reflection_share == 0.75
    assert summary.active_members == sorted([ALICE, BOB, CAROL, DAVE])
    assert summary.active_share == 1.0
    # Alice, Bob and Carol took part before this week; Dave's first TIL comes the week after.
    assert summary.first_time_contributors == [DAVE]


def test_a_private_channel_is_quoted_only_in_its_own_summary_shown_there(
    engine: Engine, emulator: SlackEmulator
) -> None:
    ids = seed(engine, emulator.team_id)
    client = create_web_client(emulator.bot_token, emulator.api_url)
    with Session(engine) as session:
        there = summarise(
            emulator.team_id, LEADS, WEEK, ZONE, session=session, client=client, shown_in=LEADS
        )
        elsewhere = summarise(
            emulator.team_id, LEADS, WEEK, ZONE, session=session, client=client, shown_in=GENERAL
        )
        offline = summarise(emulator.team_id, GENERAL, WEEK, ZONE, session=session, client=None)
    assert [h.id for h in there.highlights] == [ids["t4"]]
    assert [q.id for q in there.oldest_open] == [ids["q5"]]
    assert (elsewhere.tils, elsewhere.highlights, elsewhere.oldest_open) == (1, [], [])
    # Without Slack nothing says #general is public, so nothing is quoted; counts still are.
    assert (offline.tils, offline.highlights, offline.members) == (2, [], None)


def test_the_chart_series_covers_eight_weeks_ending_with_the_summarys(
    figures: tuple[Summary, dict[str, int]], engine: Engine
) -> None:
    summary, _ = figures
    with Session(engine) as session:
        weeks, series = chart_series(summary, session=session)
    assert weeks == [f"2026-W{n}" for n in range(40, 48)]
    assert series["tils"][-2:] == [1, 4]  # t3 the week before, t1 t2 t4 t5 this week
    assert series["questions"][-2:] == [1, 3]  # q4; q1 q2 q3 (q5 is in week 45)
    assert series["questions"][5] == 1
    assert series["answered"][-2:] == [0, 3]
    assert series["reflections"][-2:] == [1, 4]
    assert sum(series["tils"]) == 5  # t6 is the week after


def test_a_digest_reports_the_week_just_over_early_in_the_week_and_the_ending_one_later() -> None:
    monday_morning = datetime(2026, 11, 23, 14, tzinfo=UTC)  # 09:00 in New York
    assert digest_week(monday_morning, ZONE) == WEEK
    assert digest_week(monday_morning + timedelta(days=4), ZONE) == Week(2026, 48)
