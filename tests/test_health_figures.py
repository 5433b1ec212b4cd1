"""Every community-health figure on seeded data, exactly, on SQLite and PostgreSQL: the 1/9/90
groups (with ties at their edges), tags without experts (aliases on both sides), overloaded
experts, people who only ask, the newcomer ramp, and the privacy rule. Slack (the emulator)
says which channels are private, over real HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot import health_report
from bot.emulator import GENERAL, LEADS, SlackEmulator
from bot.health import Health, assess
from bot.slack_client import create_web_client
from bot.summary import summarise
from tests.health_data import A1, A4, A5, X1, Y1, seed_flow, seed_participation
from tests.week_data import WEEK, ZONE, seed

DAY = 86400.0


def health_of(
    engine: Engine,
    emulator: SlackEmulator,
    channel_id: str | None = None,
    shown_in: str | None = None,
) -> Health:
    client = create_web_client(emulator.bot_token, emulator.api_url)
    with Session(engine) as session:
        return assess(
            emulator.team_id,
            channel_id,
            WEEK,
            ZONE,
            session=session,
            client=client,
            shown_in=shown_in,
        )


def groups(health: Health) -> list[list[tuple[str, int, int, float]]]:
    return [
        [(g.name, g.people, g.contributions, g.share) for g in week.groups]
        for week in health.inequality
    ]


def test_participation_splits_each_weeks_contributions_over_the_top_1_next_9_and_other_90(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed_participation(engine, emulator.team_id)
    health = health_of(engine, emulator)
    assert [week.label for week in health.weeks] == [f"2026-W{n}" for n in range(40, 48)]
    by_week = groups(health)
    # 150 people: the top 1% is ceil(1.5) = 2 people, the next 9% ceil(15) - 2 = 13. Q015 and
    # Q016 both made 2: the tie goes by user id, so Q016 is among the other 90%.
    assert by_week[4] == [
        ("top_1", 2, 10, 5.8),
        ("next_9", 13, 26, 15.1),
        ("rest_90", 135, 136, 79.1),  # 79.06 rounded up so that the shares make 100
    ]
    # 21 people (P21 posted in #random): 1, then ceil(2.1) - 1 = 2 (P02 and P03), then 18.
    assert by_week[5] == [("top_1", 1, 6, 20.0), ("next_9", 2, 6, 20.0), ("rest_90", 18, 18, 60.0)]
    assert (health.inequality[4].people, health.inequality[4].contributions) == (150, 172)
    empty = [n for n, week in enumerate(health.inequality) if not week.groups]
    assert empty == [0, 1, 2, 3, 6, 7], "weeks nobody contributed in show as empty"
    assert health.as_dict()["participation"][0] == {
        "week": "2026-W40",
        "people": 0,
        "contributions": 0,
        "groups": None,
    }


def test_a_channels_participation_counts_only_contributions_made_there(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed_participation(engine, emulator.team_id)
    by_week = groups(health_of(engine, emulator, GENERAL))
    assert by_week[4] == [], "#engineering's week is not #general's"
    # 20 people: 1, then ceil(2) - 1 = 1, then 18. P02 and P03 tie on 3: P02 goes first.
    # 6, 3 and 20 of 29 are 20.69%, 10.34% and 68.97%: the rounding makes 100.
    assert by_week[5] == [("top_1", 1, 6, 20.7), ("next_9", 1, 3, 10.3), ("rest_90", 18, 20, 69.0)]
    assert sum(share for *_, share in by_week[5]) == pytest.approx(100.0)


def test_the_weekly_summary_carries_its_weeks_split(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed(engine, emulator.team_id)
    with Session(engine) as session:
        summary = summarise(emulator.team_id, None, WEEK, ZONE, session=session, client=None)
    # Alice 6 contributions, Bob 4, Carol 3, Dave 1: with 4 people the top 1% and the top 10%
    # are both Alice alone, so the next 9% is nobody.
    week = summary.inequality
    assert [(g.people, g.contributions, g.share) for g in week.groups] == [
        (1, 6, 42.9),
        (0, 0, 0.0),
        (3, 8, 57.1),
    ]
    assert summary.as_dict()["participation"]["inequality"]["groups"]["rest_90"] == {
        "people": 3,
        "contributions": 8,
        "share": 57.1,
    }


def test_knowledge_flow_finds_tags_without_experts_overloaded_experts_and_only_askers(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed_flow(engine, emulator.team_id)
    health = health_of(engine, emulator)
    # k8s is an alias of kubernetes (X4); X5 declared js, now an alias of javascript.
    assert [(c.key, c.count) for c in health.tags_without_experts] == [("rust", 2), ("go", 1)]
    # X1 was asked 4 times; X2 once and X3 not this week (their one route came after it): the
    # python experts' mean is 5/3, and 4 is more than twice that. L1 is no declared expert.
    [x1] = health.overloaded_experts
    assert (x1.user_id, x1.routed, x1.peer_mean) == (X1, 4, pytest.approx(5 / 3))
    # Y1 (3 questions against the secret experts' mean of 1) is overloaded in #leads, private.
    assert health.overloaded_unnamed == 1
    # A1 asked 3 times (once in #random, in W43), A4 3 times (one answered only after the
    # week); A2's question was answered, A3 answered someone, O5 asked before the 8 weeks.
    assert [(a.user_id, a.questions) for a in health.only_askers] == [(A1, 3), (A4, 3)]
    assert health.only_askers_unnamed == 1, "A5 asked in #leads: counted, not named"
    flow = health.as_dict()["knowledge_flow"]
    assert flow["overloaded_experts"] == [{"user_id": X1, "routed": 4, "peer_mean": 1.67}]
    assert flow["tags_without_experts"][0] == {"tag": "rust", "questions": 2}


def test_a_private_channels_health_names_its_people_only_when_shown_there(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed_flow(engine, emulator.team_id)
    there = health_of(engine, emulator, LEADS, shown_in=LEADS)
    elsewhere = health_of(engine, emulator, LEADS, shown_in=GENERAL)
    [y1] = there.overloaded_experts
    assert (y1.user_id, y1.routed, y1.peer_mean) == (Y1, 3, 1.0)
    assert [(a.user_id, a.questions) for a in there.only_askers] == [(A5, 3)]
    assert (elsewhere.overloaded_experts, elsewhere.overloaded_unnamed) == ([], 1)
    assert (elsewhere.only_askers, elsewhere.only_askers_unnamed) == ([], 1)
    general = health_of(engine, emulator, GENERAL)
    assert [(a.user_id, a.questions) for a in general.only_askers] == [(A4, 3), (A1, 2)]
    assert [e.user_id for e in general.overloaded_experts] == [X1]


def test_newcomers_ramp_from_their_first_join_to_their_first_til_or_answer(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed_flow(engine, emulator.team_id)
    ramp = health_of(engine, emulator).newcomers
    # N1 (2 days to a TIL), N2 (6 hours to an answer), N6 (10 days); N3 only asked and N5's
    # TIL came after the week. N4 joined before the 8 weeks, N8 after the week, and N7 posted
    # before LearnLoop saw them join.
    assert (ramp.joined, ramp.ramped, ramp.not_yet) == (5, 3, 2)
    assert ramp.median_seconds == pytest.approx(2 * DAY)
    assert ramp.p90_seconds == pytest.approx(2 * DAY + 0.8 * (10 * DAY - 2 * DAY))
    # In #general: N1, N2, N3 and N5 joined it; only N2 contributed there.
    general = health_of(engine, emulator, GENERAL).newcomers
    assert (general.joined, general.ramped, general.median_seconds) == (4, 1, 6 * 3600.0)


def test_health_reads_as_markdown_with_empty_parts_said_plainly(
    engine: Engine, emulator: SlackEmulator
) -> None:
    seed_participation(engine, emulator.team_id)
    text = health_report.markdown(health_of(engine, emulator))
    assert text.startswith("# Community health of the whole workspace, the 8 weeks to 2026-W47")
    assert "- 2026-W44: 5.8% / 15.1% / 79.1% (2 / 13 / 135 people)" in text
    assert "- 2026-W47: no contributions" in text
    assert "- Asked about, no expert: Nothing yet" in text
    assert "- Nobody joined in these 8 weeks" in text
