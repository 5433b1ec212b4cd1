"""/summary, weekly digests and the App Home, over signed HTTP through the emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import ALICE, BOB, ENGINEERING, GENERAL, LEADS, SlackEmulator
from bot.jobs import run_digests, run_reflections
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from storage.models import (
    ReflectionResponse,
    ReflectionSchedule,
    SummaryDigest,
    SummarySubscription,
    Til,
)
from tests.conftest import eventually
from tests.week_data import ZONE, seed, utc

SECOND = timedelta(seconds=1)


def summary_command(emulator: SlackEmulator, user: str, text: str, channel: str = GENERAL) -> str:
    reply = emulator.slash_command(user, channel, "/summary", text).json()
    assert reply["response_type"] == "ephemeral", "only the requester sees /summary"
    return str(reply["text"])


def shown_privately(emulator: SlackEmulator, count: int = 1) -> dict[str, Any]:
    """The summary sent to the requester's response_url after the ack."""
    responses = eventually(
        lambda: emulator.responses if len(emulator.responses) >= count else None,
        what="the summary on the response_url",
    )
    return responses[count - 1]


def rows(engine: Engine, model: type) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


def test_members_who_are_not_managers_are_refused_and_shown_nothing(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    seed(engine, emulator.team_id)
    for words in ("", "all last week", "subscribe <#C0ENG|engineering> mon 09:00", "timezone UTC"):
        answer = summary_command(emulator, BOB, words)
        assert "Only a community manager can do that" in answer, words
    assert emulator.responses == [] and rows(engine, SummarySubscription) == []


def test_a_manager_sees_the_weeks_summary_in_the_workspace_zone_privately(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    seed(engine, emulator.team_id)
    assert "count weeks in *America/New_York*" in summary_command(
        emulator, ALICE, f"timezone {ZONE}"
    )
    assert "Counting week 2026-W47" in summary_command(emulator, ALICE, "all 2026-W47")
    shown = shown_privately(emulator)
    assert shown["response_type"] == "ephemeral"
    text = shown["text"]
    assert "LearnLoop summary for the whole workspace, week 2026-W47" in text
    assert "Mon 16 Nov 2026 to Sun 22 Nov 2026 (America/New_York)" in text
    assert "4 TILs posted (+3 on the week before)" in text
    assert "Top tags: #python (2), #sql (2), #secret (1)" in text
    assert f"Top contributors: <@{ALICE}> (3), <@{BOB}> (1)" in text
    # Highlights link to public TILs, quoted without Slack markup; the private one is absent.
    assert "<https://example.slack.com/archives/C0GENERAL/pt1|TIL t1 @U0BOB &lt;b&gt;>" in text
    assert "pt4" not in text and "TIL t4" not in text
    assert "3 asked, 3 answered, 1 resolved, 4 still open" in text
    assert "median 2h 00m, 90th percentile 4d 16h" in text
    assert "Knowledge gaps (unanswered of asked): #kubernetes (1/1)" in text
    assert "2 prompts sent, 4 responses, response rate 43%, 75% of members took part" in text
    assert "Active members: 4 of 4 (100%)" in text
    assert "How do I q5" not in text, "a private question is not quoted workspace-wide"


def test_a_private_channels_summary_quotes_it_only_when_asked_there(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    seed(engine, emulator.team_id)
    summary_command(emulator, ALICE, f"timezone {ZONE}")
    summary_command(emulator, ALICE, "2026-W47", channel=LEADS)  # this channel by default
    summary_command(emulator, ALICE, "<#C0LEADS|leads> 2026-W47", channel=GENERAL)
    there, elsewhere = shown_privately(emulator, 1)["text"], shown_privately(emulator, 2)["text"]
    assert "1 TIL posted" in there and "TIL t4" in there and "How do I q5" in there
    assert "1 TIL posted" in elsewhere and "TIL t4" not in elsewhere
    assert "How do I q5" not in elsewhere


def test_a_request_that_is_not_a_week_or_a_channel_gets_a_clear_answer(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    assert "2026 has no week 60" in summary_command(emulator, ALICE, "all 2026-W60")
    assert "is not a week" in summary_command(emulator, ALICE, "all next month")
    assert "I don't know the channel #nowhere" in summary_command(emulator, ALICE, "#nowhere")
    assert "is not a time zone" in summary_command(emulator, ALICE, "timezone Mars/Olympus")
    assert "give a day and a time" in summary_command(
        emulator, ALICE, "subscribe <#C0ENG|engineering> someday"
    )
    assert "/summary subscribe #channel" in summary_command(emulator, ALICE, "help")
    assert emulator.responses == []


def test_a_subscribed_digest_is_posted_once_a_week_with_its_chart(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    seed(engine, emulator.team_id)
    summary_command(emulator, ALICE, f"timezone {ZONE}")
    answer = summary_command(emulator, ALICE, "subscribe <#C0ENG|engineering> all monday 09:00")
    assert "Every Mon at 09:00 (America/New_York)" in answer and "whole workspace" in answer
    [subscription] = rows(engine, SummarySubscription)
    assert (subscription.channel_id, subscription.scope_channel_id) == (ENGINEERING, None)
    assert subscription.next_run_at.weekday() == 0 and subscription.next_run_at.hour == 14
    listed = summary_command(emulator, ALICE, "subscriptions")
    assert "<#C0ENG>: the whole workspace, every Mon at 09:00" in listed

    # Pretend the subscription was made the week before, so its run reports seeded week 47.
    with Session(engine) as session:
        stored = session.get(SummarySubscription, subscription.id)
        assert stored is not None
        stored.next_run_at = utc(23, 14)  # Monday 23 Nov, 09:00 in New York
        session.add(stored)
        session.commit()
    runtime = Runtime(settings)
    try:
        assert run_digests(runtime, utc(23, 14) - SECOND) == []
        assert run_digests(runtime, utc(23, 14) + SECOND) == [subscription.id]
        assert run_digests(runtime, utc(23, 14) + 2 * SECOND) == [], "the next one is a week on"
    finally:
        runtime.close()
    [digest] = rows(engine, SummaryDigest)
    assert (digest.iso_week, digest.channel_id) == ("2026-W47", ENGINEERING)
    [posted] = [m for m in emulator.messages(ENGINEERING) if m.ts == digest.message_ts]
    assert "4 TILs posted (+3 on the week before)" in posted.text
    [chart] = emulator.shared_files()
    assert chart.data is not None and chart.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (chart.channel, chart.thread_ts, chart.id) == (
        ENGINEERING,
        posted.ts,
        digest.chart_file_id,
    )
    assert chart.filename == "learnloop-2026-W47.png"
    [after] = rows(engine, SummarySubscription)
    assert after.next_run_at == utc(30, 14)

    assert "No more digests in <#C0ENG>" in summary_command(
        emulator, ALICE, "unsubscribe <#C0ENG|engineering>"
    )
    assert rows(engine, SummarySubscription) == []
    assert "gets no digest" in summary_command(emulator, ALICE, "unsubscribe <#C0ENG|engineering>")


def test_two_replicas_post_one_digest_for_a_channel_and_week(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    summary_command(emulator, ALICE, "subscribe <#C0ENG|engineering> fri 17:00")
    [subscription] = rows(engine, SummarySubscription)
    replicas = [Runtime(settings), Runtime(settings)]
    try:
        sent = [run_digests(r, subscription.next_run_at + SECOND) for r in replicas]
    finally:
        for replica in replicas:
            replica.close()
    assert sorted(map(len, sent)) == [0, 1]
    assert len(rows(engine, SummaryDigest)) == 1 and len(emulator.shared_files()) == 1


def test_app_home_shows_everyone_their_week_and_managers_the_team(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.post_message(BOB, GENERAL, "TIL the home tab shows my week #slack")
    eventually(lambda: len(rows(engine, Til)) == 1, what="Bob's TIL stored")
    assert emulator.open_app_home(BOB).status == 200
    bob_home = eventually(lambda: emulator.home_view(BOB), what="Bob's Home tab")
    bob_text = str(bob_home["blocks"])
    assert "This week you posted 1 TIL, gave 0 first answers and shared 0 reflections" in bob_text
    assert "the home tab shows my week" in bob_text
    assert "The team this week" not in bob_text, "members see their own week only"

    assert emulator.open_app_home(ALICE).status == 200
    alice_home = eventually(lambda: emulator.home_view(ALICE), what="Alice's Home tab")
    alice_text = str(alice_home["blocks"])
    assert "Nothing yet this week" in alice_text
    assert "The team this week" in alice_text and "1 TIL posted" in alice_text


def test_reactions_to_a_til_are_counted_once_each_and_uncounted_when_removed(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(BOB, GENERAL, "TIL reactions make highlights")
    eventually(lambda: len(rows(engine, Til)) == 1, what="the TIL stored")
    eventually(lambda: emulator.message(GENERAL, ts).reactions.get("books"), what=":books:")
    emulator.add_reaction(ALICE, GENERAL, ts, "tada")
    emulator.add_reaction(BOB, GENERAL, ts, "tada")
    event = {
        "type": "reaction_added",
        "user": ALICE,
        "reaction": "tada",
        "item": {"type": "message", "channel": GENERAL, "ts": ts},
        "event_ts": ts,
    }
    assert emulator.deliver_event(event, retry_num=1).status == 200  # Slack's retry
    [til] = rows(engine, Til)
    assert til.reaction_count == 2, "the bot's :books: is not counted, a retry counts once"
    emulator.remove_reaction(BOB, GENERAL, ts, "tada")
    [til] = rows(engine, Til)
    assert til.reaction_count == 1


def test_prompts_sent_by_dm_count_in_the_summary_with_their_recipients(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    reply = emulator.slash_command(
        ALICE, ENGINEERING, "/reflect", "schedule weekly fri 16:00 Etc/UTC dm"
    ).json()
    assert "by DM" in reply["text"]
    [schedule] = rows(engine, ReflectionSchedule)
    runtime = Runtime(settings)
    try:
        assert run_reflections(runtime, schedule.next_run_at + SECOND) == [schedule.id]
    finally:
        runtime.close()
    emulator.post_message(BOB, emulator.open_im(BOB).id, "I learned to pair on reviews")
    eventually(lambda: rows(engine, ReflectionResponse), what="Bob's answer kept")
    summary_command(emulator, ALICE, "this week", channel=ENGINEERING)
    text = shown_privately(emulator)["text"]
    # Alice, Bob and Carol got the DM; Bob answered: 1 of 3 reached, 1 of 3 members.
    assert "1 prompt sent, 1 response, response rate 33%, 33% of members took part" in text


def test_a_digest_slack_refuses_is_logged_and_the_sweep_goes_on(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    summary_command(emulator, ALICE, "subscribe <#C0ENG|engineering> all fri 17:00")
    summary_command(emulator, ALICE, "subscribe <#C0GENERAL|general> all fri 17:00")
    first, second = rows(engine, SummarySubscription)
    emulator.fail("chat.postMessage", error="not_in_channel")  # the first digest's post
    emulator.fail("files.getUploadURLExternal", error="fatal_error")  # the second's chart
    runtime = Runtime(settings)
    try:
        due = max(first.next_run_at, second.next_run_at) + SECOND
        assert run_digests(runtime, due) == [first.id, second.id]
        assert run_digests(runtime, due) == [], "a refused digest is not retried every sweep"
    finally:
        runtime.close()
    refused, posted = rows(engine, SummaryDigest)
    assert (refused.message_ts, refused.chart_file_id) == (None, None)
    assert posted.message_ts is not None and posted.chart_file_id is None
    assert emulator.shared_files() == []
