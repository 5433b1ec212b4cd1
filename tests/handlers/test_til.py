"""TIL capture end to end: signed HTTP into the app, Web API calls seen at the emulator, rows in
a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.emulator import ALICE, BOB, CAROL, ENGINEERING, GENERAL, RANDOM, SlackEmulator
from bot.serve import BackgroundServer
from storage.models import TilSource, TilTag
from tests.conftest import eventually, fresh_channel, stored_tils


def tags_of(engine: Engine, til_id: int) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(select(TilTag.tag).where(TilTag.til_id == til_id)))


def confirmed(emulator: SlackEmulator, ts: str) -> bool:
    return any(
        call.params.get("timestamp") == ts and call.params.get("name") == "books"
        for call in emulator.calls_to("reactions.add")
    )


def wait_until_confirmed(emulator: SlackEmulator, ts: str) -> None:
    eventually(lambda: confirmed(emulator, ts), what=f":books: on message {ts}")


# -- the TIL keyword ---------------------------------------------------------------------


def test_til_message_is_stored_and_confirmed_with_books(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    text = "TIL: `git worktree` checks out two branches at once #git #Tooling"
    ts, delivery = emulator.post_message(ALICE, ENGINEERING, text)
    assert delivery is not None and delivery.status == 200
    [til] = stored_tils(engine)  # stored before the ack came back
    assert (til.channel_id, til.message_ts, til.author_id) == (ENGINEERING, ts, ALICE)
    assert til.text == text and til.source == TilSource.KEYWORD and til.captured_by == ALICE
    assert tags_of(engine, til.id) == ["git", "tooling"]
    wait_until_confirmed(emulator, ts)
    assert til.permalink == emulator_permalink(emulator, ENGINEERING, ts)


def test_tils_after_the_first_are_kept_alike_by_the_gate(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    """The first TIL teaches the process the workspace's address (through Bolt's listener);
    the HTTP gate captures the next ones itself, with the same row, tags, link and :books:."""
    posted = [emulator.post_message(CAROL, GENERAL, f"TIL gate fact {n} #Gate") for n in range(3)]
    assert all(delivery is not None and delivery.status == 200 for _, delivery in posted)
    tils = stored_tils(engine)
    assert [(til.message_ts, til.author_id, til.source) for til in tils] == [
        (ts, CAROL, TilSource.KEYWORD) for ts, _ in posted
    ]
    assert [tags_of(engine, til.id) for til in tils] == [["gate"]] * 3
    for til, (ts, _) in zip(tils, posted, strict=True):
        wait_until_confirmed(emulator, ts)
        assert til.permalink == emulator_permalink(emulator, GENERAL, ts)


def emulator_permalink(emulator: SlackEmulator, channel: str, ts: str) -> str:
    """What chat.getPermalink answers for the message."""
    client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
    return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])


def test_tils_arriving_together_are_each_stored_and_confirmed_once(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    texts = [f"TIL burst number {number} #load" for number in range(24)]
    with ThreadPoolExecutor(12) as senders:
        posted = list(senders.map(lambda text: emulator.post_message(BOB, GENERAL, text), texts))
    assert all(delivery is not None and delivery.status == 200 for _, delivery in posted)
    tils = stored_tils(engine)  # every one stored before its ack
    assert sorted(til.text for til in tils) == sorted(texts)
    for ts, _ in posted:
        wait_until_confirmed(emulator, ts)
    assert len(emulator.calls_to("reactions.add")) == len(texts), "each confirmed once"
    assert not emulator.calls_to("chat.getPermalink"), "links cost no Web API call"
    assert {til.permalink for til in tils} == {
        emulator_permalink(emulator, GENERAL, ts) for ts, _ in posted
    }


def test_every_til_spelling_is_captured(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    texts = [
        "til the build cache is per branch",
        "TIL - rebase keeps history linear",
        "Today I learned about WAL mode",
        "*TIL* bold works too",
        "today i learnt British",
    ]
    for text in texts:
        emulator.post_message(BOB, GENERAL, text)
    assert sorted(til.text for til in stored_tils(engine)) == sorted(texts)


def test_ordinary_chatter_stores_nothing_and_calls_nothing(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for text in ["hello team", "until tomorrow", "TILDE is a character", "what did you learn?"]:
        _, delivery = emulator.post_message(CAROL, GENERAL, text)
        assert delivery is not None and delivery.status == 200
    assert stored_tils(engine) == []
    assert not emulator.calls_to("reactions.add") and not emulator.calls_to("chat.postMessage")


def test_bot_messages_are_never_captured(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    bot_event = {
        "type": "message",
        "channel": GENERAL,
        "user": emulator.bot_user_id,
        "bot_id": emulator.bot_id,
        "text": "TIL from a bot",
        "ts": "1700000000.000001",
    }
    other_bot = {
        "type": "message",
        "subtype": "bot_message",
        "channel": GENERAL,
        "bot_id": "B0OTHER",
        "text": "TIL from another bot",
        "ts": "1700000000.000002",
    }
    for event in (bot_event, other_bot):
        assert emulator.deliver_event(event).status == 200
    assert stored_tils(engine) == []


def test_slack_retries_store_one_til_and_confirm_once(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "TIL retries happen")
    wait_until_confirmed(emulator, ts)
    event = {
        "type": "message",
        "channel": GENERAL,
        "user": ALICE,
        "text": "TIL retries happen",
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    for retry in (1, 2, 3):
        assert emulator.deliver_event(event, retry_num=retry).status == 200
    assert len(stored_tils(engine)) == 1
    books = [c for c in emulator.calls_to("reactions.add") if c.params.get("timestamp") == ts]
    assert len(books) == 1, "a retried delivery must not be confirmed again"


def test_unicode_and_long_text_is_kept_as_posted(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    text = "TIL 日本語 ✅ naïve café 🎉 <@U0BOB> &lt;tag&gt; " + "x" * 39_900
    emulator.post_message(CAROL, GENERAL, text)
    [til] = stored_tils(engine)
    assert til.text == text


# -- edits and deletes -------------------------------------------------------------------


def test_editing_a_til_updates_its_text_and_tags(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "TIL about sqlite #db")
    emulator.edit_message(GENERAL, ts, "TIL about sqlite WAL mode #sqlite")
    [til] = stored_tils(engine)
    assert til.text == "TIL about sqlite WAL mode #sqlite"
    assert tags_of(engine, til.id) == ["sqlite"]


def test_editing_a_message_into_a_til_captures_it(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(BOB, GENERAL, "caching is hard")
    assert stored_tils(engine) == []
    emulator.edit_message(GENERAL, ts, "TIL caching is hard")
    [til] = stored_tils(engine)
    assert til.message_ts == ts
    wait_until_confirmed(emulator, ts)


def test_deleting_a_til_message_removes_the_til(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "TIL something regrettable #oops")
    other_ts, _ = emulator.post_message(ALICE, GENERAL, "TIL something worth keeping")
    delivery = emulator.delete_message(GENERAL, ts)
    assert delivery is not None and delivery.status == 200
    assert [til.message_ts for til in stored_tils(engine)] == [other_ts]


# -- /til -------------------------------------------------------------------------------


def test_til_command_stores_posts_and_links(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    delivery = emulator.slash_command(BOB, ENGINEERING, "/til", "EXPLAIN ANALYZE runs it #postgres")
    assert delivery.status == 200
    reply = delivery.json()
    assert reply["response_type"] == "ephemeral" and "Saved" in reply["text"]
    assert "#postgres" in reply["text"]
    post = emulator.wait_for_call("chat.postMessage", lambda c: c.params["channel"] == ENGINEERING)
    assert f"<@{BOB}>" in post.params["text"] and "EXPLAIN ANALYZE runs it" in post.params["text"]
    til = eventually(
        lambda: stored_tils(engine)[0] if stored_tils(engine)[0].permalink else None,
        what="the /til linked to its channel message",
    )
    assert til.source == TilSource.COMMAND and til.author_id == BOB and til.captured_by == BOB
    assert til.message_ts == post.response["ts"] and tags_of(engine, til.id) == ["postgres"]


def test_til_commands_after_the_first_are_answered_alike_by_the_gate(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    """Bolt answers a workspace's first /til; the HTTP gate the next ones, the same way."""
    channel = fresh_channel(emulator, BOB)
    texts = [f"gate command fact {n} #Gate" for n in range(3)]
    replies = [emulator.slash_command(BOB, channel, "/til", text).json() for text in texts]
    assert replies[1:] == replies[:1] * 2, "the same private answer"
    assert replies[0]["response_type"] == "ephemeral" and "#gate" in replies[0]["text"]
    for text in texts:
        emulator.wait_for_call("chat.postMessage", lambda c, text=text: text in c.params["text"])
    tils = eventually(
        lambda: (
            None if any(t.permalink is None for t in stored_tils(engine)) else stored_tils(engine)
        ),
        what="every /til linked to its channel message",
    )
    assert [(t.text, t.source, t.captured_by) for t in tils] == [
        (text, TilSource.COMMAND, BOB) for text in texts
    ]


def test_til_command_where_the_bot_is_not_a_member_keeps_the_til_and_explains(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    delivery = emulator.slash_command(ALICE, RANDOM, "/til", "the bot is not here")
    assert delivery.status == 200 and "Saved" in delivery.json()["text"]
    answer = eventually(lambda: emulator.responses, what="an ephemeral explanation")[-1]
    assert "invite" in answer["text"].lower() and answer.get("response_type") == "ephemeral"
    [til] = stored_tils(engine)
    assert til.text == "the bot is not here" and til.message_ts is None


def test_til_command_without_text_shows_usage(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for text in ("", "   ", "help", "HELP"):
        reply = emulator.slash_command(ALICE, GENERAL, "/til", text).json()
        assert reply["response_type"] == "ephemeral"
        assert "/til search" in reply["text"], f"usage expected for {text!r}"
    assert stored_tils(engine) == []


def test_til_search_shows_best_matches_only_to_the_user(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "TIL postgres indexes can be partial #postgres")
    emulator.post_message(BOB, GENERAL, "TIL sqlite has partial indexes too")
    emulator.post_message(BOB, GENERAL, "TIL about coffee")
    wait_until_confirmed(emulator, ts)
    eventually(lambda: all(til.permalink for til in stored_tils(engine)), what="permalinks")
    reply = emulator.slash_command(CAROL, GENERAL, "/til", "search partial indexes").json()
    assert reply["response_type"] == "ephemeral"
    assert "postgres indexes can be partial" in reply["text"] and "sqlite" in reply["text"]
    assert "coffee" not in reply["text"]
    links = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert any("|view>" in text and "archives" in text for text in links)
    assert not emulator.calls_to("chat.postMessage"), "search results are never posted publicly"


def test_til_search_without_matches_or_words_says_so(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    assert (
        "No TILs match"
        in emulator.slash_command(ALICE, GENERAL, "/til", "search zebra").json()["text"]
    )
    assert (
        "/til search <words>"
        in emulator.slash_command(ALICE, GENERAL, "/til", "search").json()["text"]
    )


# -- the shortcut and the capture emoji ---------------------------------------------------


def test_save_til_shortcut_stores_the_message_for_its_author(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(CAROL, GENERAL, "pytest's tmp_path gives each test a folder")
    delivery = emulator.message_shortcut(BOB, GENERAL, ts, "save_til")
    assert delivery.status == 200
    [til] = stored_tils(engine)
    assert (til.author_id, til.captured_by, til.source) == (CAROL, BOB, TilSource.SHORTCUT)
    assert "Saved" in eventually(lambda: emulator.responses, what="a reply")[-1]["text"]
    wait_until_confirmed(emulator, ts)
    emulator.message_shortcut(ALICE, GENERAL, ts, "save_til")
    eventually(lambda: len(emulator.responses) == 2, what="a second reply")
    assert "already saved" in emulator.responses[-1]["text"]
    assert len(stored_tils(engine)) == 1


def test_capture_emoji_saves_the_message_once(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(BOB, GENERAL, "EXPLAIN (ANALYZE, BUFFERS) shows cache hits")
    assert emulator.add_reaction(ALICE, GENERAL, ts, "bulb").status == 200
    [til] = stored_tils(engine)
    assert (til.author_id, til.captured_by, til.source) == (BOB, ALICE, TilSource.REACTION)
    assert til.text == "EXPLAIN (ANALYZE, BUFFERS) shows cache hits"
    wait_until_confirmed(emulator, ts)
    emulator.add_reaction(CAROL, GENERAL, ts, "bulb")
    assert len(stored_tils(engine)) == 1
    assert emulator.add_reaction(CAROL, GENERAL, ts, "tada").status == 200
    assert len(stored_tils(engine)) == 1


def test_capture_emoji_on_a_thread_reply_saves_the_reply(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    parent, _ = emulator.post_message(ALICE, GENERAL, "how do I profile python?")
    reply, _ = emulator.post_message(
        BOB, GENERAL, "py-spy top --pid attaches live", thread_ts=parent
    )
    emulator.add_reaction(CAROL, GENERAL, reply, "bulb")
    [til] = stored_tils(engine)
    assert (til.message_ts, til.thread_ts, til.text) == (
        reply,
        parent,
        "py-spy top --pid attaches live",
    )


def test_keyword_and_reaction_on_one_message_store_one_til(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "TIL two paths, one record")
    emulator.add_reaction(BOB, GENERAL, ts, "bulb")
    emulator.message_shortcut(CAROL, GENERAL, ts, "save_til")
    [til] = stored_tils(engine)
    assert til.source == TilSource.KEYWORD


def test_bot_confirmation_reactions_are_ignored(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(CAROL, GENERAL, "not a til")
    delivery = emulator.add_reaction(emulator.bot_user_id, GENERAL, ts, "bulb")
    assert delivery.status == 200
    assert stored_tils(engine) == []


def test_capture_emoji_where_the_bot_cannot_read_is_acknowledged_and_stores_nothing(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(ALICE, RANDOM, "the bot is not in #random")
    delivery = emulator.add_reaction(BOB, RANDOM, ts, "bulb")
    assert delivery.status == 200, "an event that can never succeed must not be retried"
    assert stored_tils(engine) == []


def test_capture_emoji_during_a_slack_outage_gets_5xx_and_the_retry_stores_it(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    ts, _ = emulator.post_message(BOB, GENERAL, "retry me when Slack is back")
    emulator.fail("conversations.history", status=503, times=3)  # the call and two retries
    first = emulator.add_reaction(ALICE, GENERAL, ts, "bulb")
    assert first.status >= 500 and stored_tils(engine) == []
    event = {
        "type": "reaction_added",
        "user": ALICE,
        "reaction": "bulb",
        "item_user": BOB,
        "item": {"type": "message", "channel": GENERAL, "ts": ts},
        "event_ts": ts,
    }
    assert emulator.deliver_event(event, retry_num=1).status == 200
    [til] = stored_tils(engine)
    assert til.message_ts == ts and til.captured_by == ALICE
