"""Mentoring pairs over signed HTTP through the emulator: /learnloop mentor, the pairing round,
the intro in each pair's group DM, its Skip / End buttons, and the export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select

from bot import blocks
from bot.emulator import ALICE, BOB, CAROL, DAVE, ENGINEERING, GENERAL, Message, SlackEmulator
from bot.jobs import run_follow_ups, run_mentoring
from bot.mentoring import Candidates, choose_pairs, first_round_after, next_round_at
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from storage.models import HelpRequest, MentorPair, MentorRound, PairStatus, Til
from storage.types import utcnow
from tests.conftest import eventually
from tests.test_cli import learnloop

SECOND = timedelta(seconds=1)


def mentor(emulator: SlackEmulator, user: str, words: str = "", channel: str = GENERAL) -> str:
    """`/learnloop mentor <words>`; the private answer's text."""
    delivery = emulator.slash_command(user, channel, "/learnloop", f"mentor {words}".strip())
    assert delivery.status == 200, delivery.body
    reply = delivery.json()
    assert reply["response_type"] == "ephemeral", "only the person sees the answer"
    return str(reply["text"])


def sign_ups(emulator: SlackEmulator, *offers_and_seeks: tuple[str, str]) -> None:
    """Each (person, "offer|seek #tag …") typed in #general, in order."""
    for user, words in offers_and_seeks:
        assert "You " in mentor(emulator, user, words), f"{user} signed up: {words}"


@pytest.fixture
def scheduler(server: BackgroundServer, settings: Settings) -> Iterator[Runtime]:
    """What the scheduler in `learnloop serve` runs the mentoring job with."""
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def next_round(engine: Engine, team_id: str) -> datetime:
    with Session(engine) as session:
        due = next_round_at(team_id, session=session)
    assert due is not None, "someone signed up, so a round is scheduled"
    return due


def pairs(engine: Engine) -> list[MentorPair]:
    with Session(engine) as session:
        return list(session.exec(select(MentorPair).order_by(col(MentorPair.id))))


def who(pair: MentorPair) -> tuple[str, str, str, PairStatus]:
    return (pair.mentor_id, pair.seeker_id, pair.tags, pair.status)


def form_round(scheduler: Runtime, engine: Engine, team_id: str) -> list[MentorPair]:
    """Run the job just after the next round is due; the pairs it formed."""
    formed = set(run_mentoring(scheduler, next_round(engine, team_id) + SECOND))
    return [pair for pair in pairs(engine) if pair.id in formed]


def intro(emulator: SlackEmulator, pair: MentorPair) -> Message:
    assert pair.channel_id is not None and pair.message_ts is not None, "the intro was posted"
    return emulator.message(pair.channel_id, pair.message_ts)


def test_mentor_commands_record_offers_and_seeks_and_answer_bad_words_with_usage(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    assert "You offer to mentor on:* nothing yet" in mentor(emulator, ALICE, "")
    emulator.slash_command(ALICE, GENERAL, "/expert", "alias #pg #postgres")
    offered = mentor(emulator, ALICE, "offer #Postgres #sql")
    assert "You offer to mentor on `#postgres`, `#sql`" in offered
    assert "A round every 2 weeks, across teams. Next round: Mon" in offered
    sought = mentor(emulator, BOB, "seek #pg")
    assert "You are looking for a mentor on `#postgres`" in sought, "aliases apply"

    shown = mentor(emulator, ALICE)
    assert "You offer to mentor on:* `#postgres`, `#sql`" in shown
    assert "You seek a mentor on:* nothing yet" in shown and "No current mentoring pair." in shown

    for words in (
        "offer",
        "seek postgres",
        "offer #sql and more",
        "dance",
        "stop now",
        "end x",
        "every 0 weeks",
        "every 13 weeks",
        "every two weeks",
        "cross-team maybe",
    ):
        assert "*Mentoring pairs:* `/learnloop mentor offer #tag" in mentor(emulator, BOB, words), (
            f"usage help for {words!r}"
        )

    refused = mentor(emulator, BOB, "every 3 weeks")
    assert "Only a team lead or community manager can do that" in refused
    changed = mentor(emulator, ALICE, "every 3 weeks")
    assert "Mentoring rounds changed: A round every 3 weeks, across teams" in changed
    changed = mentor(emulator, ALICE, "cross-team off")
    assert "A round every 3 weeks, only between people who signed up in the same channel" in (
        changed
    )

    assert "You no longer seek a mentor" in mentor(emulator, BOB, "stop seek")
    assert "You were not offering or seeking mentoring" in mentor(emulator, BOB, "stop")
    assert "You no longer offer or seek mentoring" in mentor(emulator, ALICE, "stop")
    assert "You have no current mentoring pair to end" in mentor(emulator, ALICE, "end")


def test_a_round_pairs_on_shared_tags_once_and_opens_a_group_dm_with_a_first_topic(
    server: BackgroundServer,
    scheduler: Runtime,
    emulator: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    emulator.slash_command(BOB, GENERAL, "/ask", "How do I read EXPLAIN output? #postgres")
    asked = eventually(
        lambda: [q for q in stored(engine, HelpRequest) if q.permalink], what="the question posted"
    )
    sign_ups(
        emulator,
        (ALICE, "offer #postgres #sql"),
        (BOB, "seek #postgres"),
        (CAROL, "offer #kafka"),
        (DAVE, "seek #rust"),
    )

    due = next_round(engine, emulator.team_id)
    assert due == first_round_after(datetime.now(UTC)), "the first Monday 10:00 UTC from now"
    assert (due.weekday(), due.hour, due.minute) == (0, 10, 0)
    assert run_mentoring(scheduler, due - SECOND) == [], "not before it is due"
    formed = run_mentoring(scheduler, due + SECOND)
    again = Runtime(scheduler.settings)  # another replica, or the next sweep, at the same time
    try:
        assert run_mentoring(again, due + SECOND) == [], "a round is formed once"
    finally:
        again.close()

    [pair] = pairs(engine)
    assert formed == [pair.id]
    assert who(pair) == (ALICE, BOB, "postgres", PairStatus.ACTIVE), "only a shared tag pairs"
    group = emulator.channel(str(pair.channel_id))
    assert group.members == {ALICE, BOB, emulator.bot_user_id}, "a group DM of the two and me"
    [opened] = emulator.calls_to("conversations.open")
    assert opened.params["users"] == f"{ALICE},{BOB}"
    message = intro(emulator, pair)
    assert f"<@{ALICE}> offered to mentor and <@{BOB}> is looking for a mentor, on `#postgres`" in (
        message.text
    )
    assert f"*A first topic:* <@{BOB}> asked “How do I read EXPLAIN output? #postgres” " in (
        message.text
    )
    assert f"<{asked[0].permalink}|open>" in message.text, "a link to the question"
    action_ids = [
        e["action_id"]
        for b in message.blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert blocks.MENTOR_SKIP in action_ids and blocks.MENTOR_END in action_ids
    with Session(engine) as session:
        assert len(list(session.exec(select(MentorRound)))) == 1

    shown = mentor(emulator, BOB)
    assert f"<@{ALICE}> mentors you on `#postgres` in <#{pair.channel_id}>" in shown
    assert "Next round: " + f"{due + timedelta(weeks=2):%a %d %b %Y, %H:%M} UTC" in shown

    exported = learnloop("export", env={"DATABASE_URL": database_url}, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    [kept] = [r for r in records if r["type"] == "mentor_pair"]
    assert (kept["mentor_id"], kept["seeker_id"], kept["tags"], kept["status"]) == (
        ALICE,
        BOB,
        "postgres",
        "active",
    )
    assert kept["channel_id"] == pair.channel_id and kept["ended_at"] is None
    signups = {(r["user_id"], r["side"], r["tag"]) for r in records if r["type"] == "mentor_signup"}
    assert signups == {
        (ALICE, "offer", "postgres"),
        (ALICE, "offer", "sql"),
        (BOB, "seek", "postgres"),
        (CAROL, "offer", "kafka"),
        (DAVE, "seek", "rust"),
    }
    rounds = [r["due_at"] for r in records if r["type"] == "mentor_round"]
    assert rounds == [due.isoformat().replace("+00:00", "Z")]

    emulator.slash_command(BOB, GENERAL, "/learnloop", "export-me")
    [shared] = eventually(lambda: emulator.shared_files(), what="bob's own export")
    assert shared.data is not None
    his = json.loads(shared.data)["records"]
    assert [(r["mentor_id"], r["seeker_id"]) for r in his if r["type"] == "mentor_pair"] == [
        (ALICE, BOB)
    ], "his pair is in his own export"
    assert [(r["side"], r["tag"]) for r in his if r["type"] == "mentor_signup"] == [
        ("seek", "postgres")
    ], "his seeks, and nobody else's offers"


def test_without_a_question_the_topic_is_the_mentors_most_liked_til_else_a_general_one(
    server: BackgroundServer, scheduler: Runtime, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.post_message(ALICE, GENERAL, "TIL VACUUM FULL locks the table #postgres")
    liked, _ = emulator.post_message(
        ALICE, GENERAL, "TIL pg_stat_statements finds slow queries #postgres"
    )
    eventually(lambda: len(stored(engine, Til)) == 2, what="alice's TILs")
    emulator.add_reaction(CAROL, GENERAL, liked, "tada")
    eventually(lambda: any(t.reaction_count for t in stored(engine, Til)), what="the reaction")
    sign_ups(
        emulator,
        (ALICE, "offer #postgres"),
        (BOB, "seek #postgres"),
        (CAROL, "offer #kafka"),
        (DAVE, "seek #kafka"),
    )

    by_mentor = {pair.mentor_id: pair for pair in form_round(scheduler, engine, emulator.team_id)}
    til_topic = intro(emulator, by_mentor[ALICE]).text
    assert f"*A first topic:* <@{ALICE}> learned “TIL pg_stat_statements finds slow queries" in (
        til_topic
    ), "the mentor's TIL with the most reactions"
    assert "/archives/C0GENERAL/p" in til_topic, "with its permalink"
    general = intro(emulator, by_mentor[CAROL]).text
    assert "*A first topic:* what are you each working on around `#kafka` right now" in general


def test_pairs_never_repeat_unless_skipped_and_only_the_two_can_skip_or_end(
    server: BackgroundServer, scheduler: Runtime, emulator: SlackEmulator, engine: Engine
) -> None:
    sign_ups(
        emulator,
        (ALICE, "offer #postgres"),
        (BOB, "seek #postgres"),
        (CAROL, "offer #python"),
        (DAVE, "seek #python"),
    )
    first = form_round(scheduler, engine, emulator.team_id)
    assert sorted(map(who, first)) == [
        (ALICE, BOB, "postgres", PairStatus.ACTIVE),
        (CAROL, DAVE, "python", PairStatus.ACTIVE),
    ]
    alice_bob = next(pair for pair in first if pair.mentor_id == ALICE)
    assert alice_bob.channel_id is not None and alice_bob.message_ts is not None

    before = intro(emulator, alice_bob).text
    stranger = emulator.click_button(
        CAROL, alice_bob.channel_id, alice_bob.message_ts, blocks.MENTOR_SKIP
    )
    assert stranger.status == 200
    refusal = eventually(lambda: emulator.responses, what="carol told it is not hers")
    assert refusal[0]["text"] == f"Only <@{ALICE}> and <@{BOB}> can skip or end their pairing."
    assert refusal[0]["response_type"] == "ephemeral"
    assert [p.status for p in pairs(engine)] == [PairStatus.ACTIVE] * 2
    assert intro(emulator, alice_bob).text == before, "the intro is untouched"

    emulator.click_button(BOB, alice_bob.channel_id, alice_bob.message_ts, blocks.MENTOR_SKIP)
    skipped = eventually(
        lambda: "skipped this round" in intro(emulator, alice_bob).text,
        what="the intro showing the skip",
    )
    assert skipped
    assert not any(b["type"] == "actions" for b in intro(emulator, alice_bob).blocks or [])
    assert (
        f"<@{BOB}> skipped this round: you may be paired again" in intro(emulator, alice_bob).text
    )

    second = form_round(scheduler, engine, emulator.team_id)
    assert list(map(who, second)) == [(ALICE, BOB, "postgres", PairStatus.ACTIVE)], (
        "a skipped pair may meet again; carol and dave, still paired, are not paired again"
    )
    [again] = second
    assert again.channel_id == alice_bob.channel_id, "the same group DM"
    assert again.message_ts is not None

    emulator.click_button(ALICE, again.channel_id, again.message_ts, blocks.MENTOR_END)
    eventually(
        lambda: f"<@{ALICE}> ended this pairing." in intro(emulator, again).text,
        what="the intro showing the end",
    )
    # A click from a screen that still shows the buttons.
    emulator.click_button(
        BOB,
        again.channel_id,
        again.message_ts,
        blocks.MENTOR_SKIP,
        value=str(again.id),
        block_id="stale",
    )
    late = eventually(lambda: emulator.responses[1:], what="bob told it is over")
    assert late[0]["text"] == "This pairing was already skipped or ended."
    ended = mentor(emulator, DAVE, "end")
    assert f"Ended your pairing with <@{CAROL}>" in ended
    carol_dave = next(pair for pair in first if pair.mentor_id == CAROL)
    eventually(
        lambda: f"<@{DAVE}> ended this pairing." in intro(emulator, carol_dave).text,
        what="the intro of carol and dave showing the end",
    )
    assert {p.id: p.status for p in pairs(engine)} == {
        alice_bob.id: PairStatus.SKIPPED,
        carol_dave.id: PairStatus.ENDED,
        again.id: PairStatus.ENDED,
    }

    assert form_round(scheduler, engine, emulator.team_id) == [], "ended pairs never meet again"
    mentor(emulator, CAROL, "offer #postgres")
    assert list(map(who, form_round(scheduler, engine, emulator.team_id))) == [
        (CAROL, BOB, "postgres", PairStatus.ACTIVE)
    ]


def test_an_intro_slack_failed_to_take_is_posted_later_once_in_the_same_group_dm(
    server: BackgroundServer, scheduler: Runtime, emulator: SlackEmulator, engine: Engine
) -> None:
    sign_ups(emulator, (ALICE, "offer #postgres"), (BOB, "seek #postgres"))
    emulator.fail("chat.postMessage", status=503, times=3)  # outlasting the client's retries
    [pair] = form_round(scheduler, engine, emulator.team_id)
    assert pair.channel_id is not None and pair.message_ts is None, "opened, not yet posted"
    assert emulator.messages(pair.channel_id) == []

    replayed = run_follow_ups(scheduler, utcnow() + timedelta(minutes=5))
    assert len(replayed) == 1, "the sweep posts the intro it promised"
    [posted] = pairs(engine)
    assert [m.ts for m in emulator.messages(pair.channel_id)] == [posted.message_ts]
    assert len(emulator.calls_to("conversations.open")) == 1, "the same group DM"
    assert run_follow_ups(scheduler, utcnow() + timedelta(minutes=10)) == [], "posted once"


def test_each_person_is_in_one_new_pair_a_round_more_shared_tags_first(
    server: BackgroundServer, scheduler: Runtime, emulator: SlackEmulator, engine: Engine
) -> None:
    sign_ups(
        emulator,
        (DAVE, "offer #postgres"),
        (DAVE, "seek #kafka"),
        (CAROL, "seek #postgres"),
        (BOB, "seek #postgres #sql"),
        (BOB, "offer #kafka"),
        (ALICE, "offer #postgres #sql"),
    )

    formed = form_round(scheduler, engine, emulator.team_id)
    assert sorted(map(who, formed)) == [
        (ALICE, BOB, "postgres sql", PairStatus.ACTIVE),
        (DAVE, CAROL, "postgres", PairStatus.ACTIVE),
    ], "bob (both sides) and dave (both sides) are each in one pair; two shared tags first"


def test_with_cross_team_off_only_people_who_signed_up_in_the_same_channel_pair(
    server: BackgroundServer, scheduler: Runtime, emulator: SlackEmulator, engine: Engine
) -> None:
    mentor(emulator, ALICE, "cross-team off")
    mentor(emulator, BOB, "seek #postgres", channel=GENERAL)
    mentor(emulator, ALICE, "offer #postgres", channel=ENGINEERING)
    mentor(emulator, CAROL, "seek #postgres", channel=ENGINEERING)

    formed = form_round(scheduler, engine, emulator.team_id)
    assert list(map(who, formed)) == [(ALICE, CAROL, "postgres", PairStatus.ACTIVE)], (
        "bob waited longer but signed up in another channel"
    )


def test_the_seeker_waiting_longest_is_paired_first() -> None:
    now = datetime(2026, 11, 30, 10, tzinfo=UTC)
    candidates = Candidates(
        offers={ALICE: {"go": GENERAL}},
        seeks={BOB: {"go": GENERAL}, CAROL: {"go": GENERAL}},
    )
    waiting = {BOB: now - timedelta(days=1), CAROL: now - timedelta(days=20)}
    [match] = choose_pairs(candidates, set(), waiting, cross_team=True)
    assert (match.mentor_id, match.seeker_id) == (ALICE, CAROL)
    met = {frozenset((ALICE, CAROL))}
    [match] = choose_pairs(candidates, met, waiting, cross_team=True)
    assert (match.mentor_id, match.seeker_id) == (ALICE, BOB), "never the same two again"


def stored(engine: Engine, model: type[SQLModel]) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model)))
