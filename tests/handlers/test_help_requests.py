"""/ask end to end: the question posted, experts asked by DM, their buttons, answers in the
thread, resolution; each routing rule over signed HTTP with DMs observed at the emulator."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    GENERAL,
    ApiCall,
    Message,
    SlackEmulator,
    User,
)
from bot.help_requests import Candidate, in_working_hours
from bot.jobs import run_held_routing
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from storage.help_requests import tags_of
from storage.models import HelpRequest, HelpRoute, HelpStatus, RouteAnswer, TilSource
from tests.conftest import eventually, fresh_channel, stored_tils


def slash(emulator: SlackEmulator, user: str, command: str, text: str) -> dict:
    delivery = emulator.slash_command(user, GENERAL, command, text)
    assert delivery.status == 200
    return delivery.json()


def dms_to(emulator: SlackEmulator, user: str) -> list[ApiCall]:
    dm = emulator.open_im(user).id
    return [c for c in emulator.calls_to("chat.postMessage") if c.params["channel"] == dm]


def requests(engine: Engine) -> list[HelpRequest]:
    with Session(engine) as session:
        return list(session.exec(select(HelpRequest).order_by(HelpRequest.id)))


def routes(engine: Engine) -> list[HelpRoute]:
    with Session(engine) as session:
        return list(session.exec(select(HelpRoute).order_by(HelpRoute.id)))


def posted_question(emulator: SlackEmulator, channel: str = GENERAL) -> ApiCall:
    return emulator.wait_for_call(
        "chat.postMessage",
        lambda c: c.params["channel"] == channel and "Question from" in c.params.get("text", ""),
    )


def ask_and_wait_for_routing(
    emulator: SlackEmulator, engine: Engine, user: str, text: str, experts: int
) -> HelpRequest:
    before = len(routes(engine))
    reply = slash(emulator, user, "/ask", text)
    assert reply["response_type"] == "ephemeral" and "Got it" in reply["text"]
    eventually(lambda: len(routes(engine)) >= before + experts, what=f"{experts} experts asked")
    eventually(lambda: all(r.dm_ts for r in routes(engine)), what="the DMs sent")
    return requests(engine)[-1]


def test_ask_posts_the_question_and_dms_up_to_two_experts_never_the_asker(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for user in (ALICE, BOB, CAROL, DAVE):
        slash(emulator, user, "/expert", "add #postgres")
    request = ask_and_wait_for_routing(
        emulator, engine, ALICE, "How do I find slow queries? #postgres", experts=2
    )
    post = posted_question(emulator)
    assert f"<@{ALICE}>" in post.params["text"] and "slow queries" in post.params["text"]
    assert request.message_ts == post.response["ts"] and request.permalink
    asked = [r.expert_id for r in routes(engine)]
    assert len(asked) == 2 and ALICE not in asked
    for expert_id in asked:
        [dm] = dms_to(emulator, expert_id)
        actions = next(b for b in dm.params["blocks"] if b["type"] == "actions")["elements"]
        assert [a["action_id"] for a in actions] == [
            "help_take",
            "help_decline",
            "help_already_answered",
        ]
        assert "slow queries" in dm.params["text"]
    assert dms_to(emulator, ALICE) == []


def test_asks_after_the_first_are_answered_alike_by_the_gate(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    """Bolt answers a workspace's first /ask; the HTTP gate the next ones, the same way, and
    each question is posted in its channel (routing is the same follow-up, tested above)."""
    channel = fresh_channel(emulator, ALICE, BOB)
    slash(emulator, BOB, "/expert", "add #gate")
    texts = [f"gate question {n}? #gate" for n in range(3)]
    replies = [emulator.slash_command(ALICE, channel, "/ask", text).json() for text in texts]
    assert replies[1:] == replies[:1] * 2 and "Got it" in replies[0]["text"]
    for text in texts:
        emulator.wait_for_call(
            "chat.postMessage",
            lambda c, text=text: c.params["channel"] == channel and text in c.params["text"],
        )
    assert [r.text for r in requests(engine)] == texts


def test_tags_are_inferred_from_the_question_when_none_are_given(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #kubernetes")
    slash(emulator, ALICE, "/expert", "alias #k8s #kubernetes")
    ask_and_wait_for_routing(emulator, engine, CAROL, "why does my k8s pod restart?", experts=1)
    assert [r.expert_id for r in routes(engine)] == [BOB]


def test_no_expert_tells_the_asker_and_keeps_the_question_in_the_channel(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, ALICE, "/ask", "Who knows about #cobol?")
    posted_question(emulator)
    answer = eventually(lambda: emulator.responses, what="a private answer")[-1]
    assert "Nobody is tagged as an expert on `#cobol`" in answer["text"]
    assert answer["response_type"] == "ephemeral" and routes(engine) == []
    assert requests(engine)[0].status is HelpStatus.OPEN


def test_away_deactivated_and_bot_experts_are_never_asked(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.add_user(User("U0GONE", "gone", deleted=True))
    emulator.add_user(User("U0ROBOT", "robot", is_bot=True))
    for user in (BOB, CAROL, DAVE):
        slash(emulator, user, "/expert", "add #rust")
    slash(emulator, ALICE, "/expert", "add <@U0GONE|gone> <@U0ROBOT|robot> #rust")
    slash(emulator, BOB, "/expert", "away")
    slash(emulator, CAROL, "/expert", "away until 2099-01-01")
    ask_and_wait_for_routing(emulator, engine, ALICE, "lifetimes? #rust", experts=1)
    eventually(lambda: emulator.calls_to("users.info"), what="users looked up")
    assert [r.expert_id for r in routes(engine)] == [DAVE]
    slash(emulator, BOB, "/expert", "back")
    ask_and_wait_for_routing(emulator, engine, ALICE, "borrowck? #rust", experts=2)
    assert {r.expert_id for r in routes(engine)[1:]} == {BOB, DAVE}


def test_questions_spread_evenly_over_a_tags_experts(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    # One time zone for all three, so working hours (which depend on today) rank them alike.
    experts = ["U0PY1", "U0PY2", "U0PY3"]
    for user_id in experts:
        emulator.add_user(User(user_id, user_id.lower(), tz="Europe/Paris"))
    mentions = " ".join(f"<@{user_id}>" for user_id in experts)
    slash(emulator, ALICE, "/expert", f"add {mentions} #python")
    for number in range(9):
        ask_and_wait_for_routing(emulator, engine, BOB, f"question {number} #python", experts=2)
    load = Counter(r.expert_id for r in routes(engine))
    assert load == dict.fromkeys(experts, 6), f"18 asks over 3 experts, got {dict(load)}"


def test_ill_take_it_tells_the_asker_and_updates_the_dm(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #css")
    request = ask_and_wait_for_routing(emulator, engine, ALICE, "center a div? #css", experts=1)
    [route] = routes(engine)
    assert emulator.click_button(BOB, route.dm_channel_id, route.dm_ts, "help_take").status == 200
    notice = emulator.wait_for_call(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == request.message_ts
    )
    assert f"<@{BOB}> is on it" in notice.params["text"]
    update = emulator.wait_for_call("chat.update", lambda c: c.params["ts"] == route.dm_ts)
    assert "You're on it" in update.params["text"]
    assert not any(b["type"] == "actions" for b in update.params["blocks"]), "buttons go"
    eventually(lambda: requests(engine)[0].status is HelpStatus.CLAIMED, what="claimed")
    assert requests(engine)[0].claimed_by == BOB
    assert routes(engine)[0].answer is RouteAnswer.TAKEN


def test_not_my_area_asks_the_next_expert(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for user in (BOB, CAROL):
        slash(emulator, user, "/expert", "add #go")
    slash(emulator, ALICE, "/expert", "add <@U0DAVE|dave> #go")
    emulator.reset_calls()
    ask_and_wait_for_routing(emulator, engine, ALICE, "goroutine leak? #go", experts=2)
    first = routes(engine)[0]
    emulator.click_button(first.expert_id, first.dm_channel_id, first.dm_ts, "help_decline")
    eventually(lambda: len(routes(engine)) == 3, what="a third expert asked")
    third = routes(engine)[2]
    assert third.expert_id not in {r.expert_id for r in routes(engine)[:2]} and third.round == 2
    assert routes(engine)[0].answer is RouteAnswer.DECLINED
    eventually(lambda: dms_to(emulator, third.expert_id), what="the DM to the next expert")


def test_a_thread_reply_by_someone_else_is_the_first_answer(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, ALICE, "/ask", "where are the deploy docs? #deploy")
    ts = posted_question(emulator).response["ts"]
    eventually(lambda: requests(engine)[0].message_ts, what="the question linked")
    emulator.post_message(ALICE, GENERAL, "anyone?", thread_ts=ts)
    assert requests(engine)[0].first_answer_at is None, "the asker's own reply is no answer"
    emulator.post_message(CAROL, GENERAL, "in the wiki, under Deploy", thread_ts=ts)
    [request] = requests(engine)
    assert request.first_answerer_id == CAROL and request.status is HelpStatus.ANSWERED
    emulator.post_message(BOB, GENERAL, "also the runbook", thread_ts=ts)
    assert requests(engine)[0].first_answerer_id == CAROL


def test_the_asker_resolves_with_the_button_or_a_check_mark(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, ALICE, "/ask", "first question #a")
    slash(emulator, ALICE, "/ask", "second question #b")
    eventually(lambda: all(r.message_ts for r in requests(engine)), what="questions posted")
    first, second = requests(engine)
    emulator.post_message(CAROL, GENERAL, "here you go", thread_ts=first.message_ts)
    emulator.click_button(BOB, GENERAL, first.message_ts, "help_resolve")
    emulator.click_button(ALICE, GENERAL, first.message_ts, "help_resolve")
    eventually(lambda: requests(engine)[0].status is HelpStatus.RESOLVED, what="resolved")
    assert requests(engine)[0].answerer_id == CAROL
    update = emulator.wait_for_call("chat.update", lambda c: c.params["ts"] == first.message_ts)
    assert "Resolved thanks to" in update.params["text"]
    emulator.add_reaction(BOB, GENERAL, second.message_ts, "white_check_mark")
    emulator.add_reaction(ALICE, GENERAL, second.message_ts, "white_check_mark")
    eventually(lambda: requests(engine)[1].status is HelpStatus.RESOLVED, what="resolved by ✅")
    emulator.wait_for_call("chat.update", lambda c: c.params["ts"] == second.message_ts)
    updated = [c.params["ts"] for c in emulator.calls_to("chat.update")]
    assert updated == [first.message_ts, second.message_ts], "only the asker can resolve"


def test_followers_get_one_dm_per_new_question(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, DAVE, "/expert", "follow #security")
    slash(emulator, BOB, "/expert", "add #security")
    ask_and_wait_for_routing(emulator, engine, ALICE, "rotate keys? #security", experts=1)
    notice = eventually(lambda: dms_to(emulator, DAVE), what="the follower's DM")
    assert len(notice) == 1 and "New question on `#security`" in notice[0].params["text"]
    assert not any(b["type"] == "actions" for b in notice[0].params["blocks"])
    slash(emulator, DAVE, "/expert", "unfollow #security")
    ask_and_wait_for_routing(emulator, engine, CAROL, "again? #security", experts=1)
    assert len(dms_to(emulator, DAVE)) == 1


def test_ask_in_a_channel_without_the_bot_explains_and_asks_nobody(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #x")
    delivery = emulator.slash_command(ALICE, "C0RANDOM", "/ask", "anyone? #x")
    assert delivery.status == 200
    answer = eventually(lambda: emulator.responses, what="a private answer")[-1]
    assert "couldn't post your question" in answer["text"] and routes(engine) == []


def test_working_hours_are_weekdays_nine_to_six_in_the_persons_zone() -> None:
    monday_noon_utc = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert in_working_hours("Europe/London", monday_noon_utc)
    assert not in_working_hours("Asia/Tokyo", monday_noon_utc)  # 21:00 there
    assert in_working_hours("America/New_York", datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
    assert not in_working_hours("Europe/London", datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    assert in_working_hours("Not/AZone", monday_noon_utc), "unknown zones count as UTC"


def test_people_in_working_hours_come_first_then_the_least_asked() -> None:
    earlier = datetime(2026, 11, 1, tzinfo=UTC)
    later = datetime(2026, 11, 20, tzinfo=UTC)
    candidates = [
        Candidate("U_OFF_IDLE", in_working_hours=False, recent_load=0, last_asked_at=None),
        Candidate("U_ON_BUSY", in_working_hours=True, recent_load=5, last_asked_at=earlier),
        Candidate("U_ON_LATER", in_working_hours=True, recent_load=1, last_asked_at=later),
        Candidate("U_ON_EARLIER", in_working_hours=True, recent_load=1, last_asked_at=earlier),
        Candidate("U_ON_NEVER", in_working_hours=True, recent_load=0, last_asked_at=None),
    ]
    ordered = [c.user_id for c in sorted(candidates, key=Candidate.sort_key)]
    assert ordered == ["U_ON_NEVER", "U_ON_EARLIER", "U_ON_LATER", "U_ON_BUSY", "U_OFF_IDLE"]


def test_on_resolution_the_answer_can_be_saved_as_a_til_by_asker_or_answerer(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, ALICE, "/ask", "how do we rotate the staging certs? #tls")
    question_ts = posted_question(emulator).response["ts"]
    eventually(lambda: requests(engine)[0].message_ts, what="the question linked")
    answer = "Run `make certs` in infra/, then restart the ingress #tls"
    answer_ts, _ = emulator.post_message(CAROL, GENERAL, answer, thread_ts=question_ts)
    emulator.click_button(ALICE, GENERAL, question_ts, "help_resolve")
    offer = emulator.wait_for_call(
        "chat.postMessage",
        lambda c: (
            c.params.get("thread_ts") == question_ts and "save it as a TIL" in c.params["text"]
        ),
    )
    offer_ts = offer.response["ts"]
    emulator.click_button(BOB, GENERAL, offer_ts, "help_save_answer")
    refusal = eventually(
        lambda: [r for r in emulator.responses if "Only the person" in r["text"]],
        what="a private refusal",
    )[-1]
    assert "Only the person who asked or the one who answered" in refusal["text"]
    assert stored_tils(engine) == []
    emulator.click_button(CAROL, GENERAL, offer_ts, "help_save_answer")
    til = eventually(lambda: stored_tils(engine), what="the answer kept as a TIL")[0]
    assert (til.text, til.author_id, til.captured_by) == (answer, CAROL, CAROL)
    assert til.source == TilSource.ANSWER and til.message_ts == answer_ts
    assert eventually(lambda: requests(engine)[0].answer_til_id, what="linked") == til.id
    saved = emulator.wait_for_call("chat.update", lambda c: c.params["ts"] == offer_ts)
    assert f"<@{CAROL}> saved the answer as a TIL" in saved.params["text"]
    emulator.wait_for_call("reactions.add", lambda c: c.params["timestamp"] == answer_ts)
    found = slash(emulator, DAVE, "/til", "search certs ingress")
    assert "make certs" in found["text"]


def test_mentioning_the_bot_with_a_question_asks_it_in_place(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #deploy")
    bot = emulator.bot_user_id
    ts, _ = emulator.post_message(ALICE, GENERAL, f"<@{bot}> can we deploy on Fridays? #deploy")
    status = emulator.wait_for_call(
        "chat.postMessage",
        lambda c: c.params.get("thread_ts") == ts and "I've asked" in c.params["text"],
    )
    assert f"<@{BOB}>" in status.params["text"]
    [request] = requests(engine)
    assert (request.message_ts, request.asker_id) == (ts, ALICE)
    assert request.text == "can we deploy on Fridays? #deploy", "the mention itself is not kept"
    eventually(lambda: dms_to(emulator, BOB), what="the expert's DM")
    event = {
        "type": "app_mention",
        "channel": GENERAL,
        "user": ALICE,
        "ts": ts,
        "event_ts": ts,
        "text": f"<@{bot}> can we deploy on Fridays? #deploy",
    }
    assert emulator.deliver_event(event, retry_num=1).status == 200
    assert len(requests(engine)) == 1, "a retried mention is one question"

    emulator.post_message(CAROL, GENERAL, "only with a rollback plan", thread_ts=ts)
    emulator.click_button(ALICE, GENERAL, status.response["ts"], "help_resolve")
    eventually(lambda: requests(engine)[0].status is HelpStatus.RESOLVED, what="resolved")
    update = emulator.wait_for_call(
        "chat.update", lambda c: c.params["ts"] == status.response["ts"]
    )
    assert f"Resolved thanks to <@{CAROL}>" in update.params["text"]


def test_a_bare_mention_explains_how_to_ask(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.post_message(DAVE, GENERAL, f"<@{emulator.bot_user_id}>")
    hint = emulator.wait_for_call("chat.postEphemeral", lambda c: c.params["user"] == DAVE)
    assert "mentioning me" in hint.params["text"] and requests(engine) == []


def suggestions_to(emulator: SlackEmulator, user: str) -> Message:
    """The private "maybe already answered" message the asker sees in the channel."""
    emulator.wait_for_response(lambda r: "Maybe it's already answered" in r["text"])
    return eventually(
        lambda: next(
            (
                m
                for m in emulator.messages(GENERAL, include_ephemeral=True)
                if m.ephemeral_to == user and "Maybe it's already answered" in m.text
            ),
            None,
        ),
        what=f"suggestions shown to {user}",
    )


def test_maybe_already_answered_holds_routing_until_the_asker_decides(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine, settings: Settings
) -> None:
    slash(emulator, BOB, "/expert", "add #git")
    emulator.post_message(CAROL, GENERAL, "TIL git worktree gives a second checkout #git")
    slash(emulator, ALICE, "/ask", "first: how do I keep two branches checked out? #git")
    # The ack only says the question is in: what the team knows arrives after it, privately.
    reply = slash(emulator, DAVE, "/ask", "how can I have two branches checked out with git?")
    assert reply["response_type"] == "ephemeral" and "Got it" in reply["text"]
    assert "git worktree" not in reply["text"], "the ack waits for no search"
    shown = suggestions_to(emulator, DAVE)
    assert "git worktree" in shown.text
    button = next(b for b in shown.blocks or [] if b["type"] == "actions")["elements"][0]
    assert button["action_id"] == "help_resolve" and button["text"]["text"] == "That answered it"
    suggestions_to(emulator, ALICE)
    eventually(lambda: all(r.message_ts for r in requests(engine)), what="questions posted")
    posts = [c.params["text"] for c in emulator.calls_to("chat.postMessage")]
    assert sum("Question from" in text for text in posts) == 2, "each question posted once"
    assert routes(engine) == [], "no expert is asked while the askers look at suggestions"

    alice_question, dave_question = requests(engine)
    # Dave clicks "That answered it" on the suggestions only he sees.
    emulator.click_button(DAVE, GENERAL, shown.ts, "help_resolve")
    eventually(lambda: requests(engine)[1].status is HelpStatus.RESOLVED, what="dave resolved")
    runtime = Runtime(settings)
    try:
        later = datetime.now(UTC) + timedelta(minutes=3)
        assert run_held_routing(runtime, later) == [alice_question.id]
        assert run_held_routing(runtime, later) == [], "routed once"
    finally:
        runtime.close()
    # Bob is the declared expert; Carol's TIL on #git makes her the second line.
    assert [(r.help_request_id, r.expert_id) for r in routes(engine)] == [
        (alice_question.id, BOB),
        (alice_question.id, CAROL),
    ]
    assert dave_question.id not in {r.help_request_id for r in routes(engine)}


def test_resolved_questions_are_suggested_too(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, ALICE, "/ask", "where is the staging database password kept? #secrets")
    eventually(lambda: requests(engine) and requests(engine)[0].message_ts, what="posted")
    emulator.click_button(ALICE, GENERAL, requests(engine)[0].message_ts, "help_resolve")
    eventually(lambda: requests(engine)[0].status is HelpStatus.RESOLVED, what="resolved")
    slash(emulator, CAROL, "/ask", "staging database password?")
    shown = suggestions_to(emulator, CAROL)
    assert "*Answered question:* where is the staging database password kept?" in shown.text


def test_questions_arriving_together_are_each_stored_with_their_own_tags_before_the_ack(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #delta")
    slash(emulator, ALICE, "/expert", "alias #b #beta")
    # Written tags, an alias, and (Dave) no tag but a known one among the words.
    asked = {ALICE: "who knows #alpha?", BOB: "who knows #b?", CAROL: "#gamma?", DAVE: "delta?"}
    with ThreadPoolExecutor(len(asked)) as senders:
        replies = list(senders.map(lambda user: slash(emulator, user, "/ask", asked[user]), asked))
    assert all("Got it" in reply["text"] for reply in replies)
    with Session(engine) as session:  # stored, with their tags, before their acks
        stored = {
            request.asker_id: tags_of(request.id, session=session)
            for request in session.exec(select(HelpRequest))
        }
    assert stored == {ALICE: ["alpha"], BOB: ["beta"], CAROL: ["gamma"], DAVE: ["delta"]}


def test_managers_see_the_questions_that_reached_nobody(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #python")
    slash(emulator, CAROL, "/ask", "anyone know fortran? #fortran")
    ask_and_wait_for_routing(emulator, engine, DAVE, "asyncio or threads? #python", experts=1)
    eventually(lambda: all(r.permalink for r in requests(engine)), what="questions posted")
    refused = slash(emulator, BOB, "/ask", "unrouted")
    assert "Only a community manager" in refused["text"]
    listing = slash(emulator, ALICE, "/ask", "unrouted")["text"]
    assert "Open questions that reached nobody: 1" in listing and "fortran" in listing
    assert "asyncio" not in listing


def test_already_answered_asks_for_the_link_and_puts_it_in_the_thread(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #vpn")
    request = ask_and_wait_for_routing(emulator, engine, ALICE, "vpn drops hourly? #vpn", experts=1)
    [route] = routes(engine)
    emulator.click_button(BOB, route.dm_channel_id, route.dm_ts, "help_already_answered")
    opened = emulator.wait_for_call("views.open")
    view_id = opened.response["view"]["id"]
    assert opened.params["view"]["callback_id"] == "help_answer_link"

    def link(value: str) -> dict:
        return {"link": {"url": {"type": "url_text_input", "value": value}}}

    refused = emulator.submit_view(BOB, view_id, link("the wiki"))
    assert refused.status == 200 and refused.json()["response_action"] == "errors"
    assert "https://" in refused.json()["errors"]["link"]
    assert emulator.submit_view(BOB, view_id, link("https://wiki.example/vpn")).status == 200
    pointer = emulator.wait_for_call(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == request.message_ts
    )
    assert "https://wiki.example/vpn" in pointer.params["text"]
    assert f"<@{BOB}> says this was already answered" in pointer.params["text"]
    answered = eventually(lambda: requests(engine)[0].first_answerer_id, what="the first answer")
    assert answered == BOB and requests(engine)[0].status is HelpStatus.ANSWERED
    assert routes(engine)[0].answer is RouteAnswer.ALREADY_ANSWERED


def test_experts_in_do_not_disturb_are_asked_after_the_others(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    # Two experts per question (the default): who comes first shows the order.
    experts = ["U0DND1", "U0DND2"]
    for user_id in experts:
        emulator.add_user(User(user_id, user_id.lower(), tz="Europe/Paris"))
    slash(emulator, ALICE, "/expert", "add <@U0DND1> <@U0DND2> #dnd")
    emulator.set_dnd("U0DND1")
    ask_and_wait_for_routing(emulator, engine, BOB, "q1 #dnd", experts=2)
    assert [r.expert_id for r in routes(engine)] == ["U0DND2", "U0DND1"]
    emulator.fail("dnd.info", error="missing_scope", times=10)
    ask_and_wait_for_routing(emulator, engine, BOB, "q2 #dnd", experts=2)
    assert [r.expert_id for r in routes(engine)[2:]] == ["U0DND1", "U0DND2"], (
        "without the scope DND is unknown, so the usual order (here: by id) decides"
    )


def test_managers_set_how_their_workspace_routes_questions(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    shown = slash(emulator, BOB, "/ask", "settings")["text"]
    assert "2 experts asked per round" in shown and "60 minutes" in shown and "leads" in shown
    change = "settings experts 1 escalation 30 channel <#C0ENG|engineering>"
    assert "Only a community manager" in slash(emulator, BOB, "/ask", change)["text"]
    updated = slash(emulator, ALICE, "/ask", change)["text"]
    assert "1 experts asked per round" in updated and "30 minutes" in updated
    assert "<#C0ENG>" in updated
    assert "must be 1 to 10" in slash(emulator, ALICE, "/ask", "settings experts 50")["text"]
    assert "Usage" in slash(emulator, ALICE, "/ask", "settings experts")["text"]
    assert "Usage" in slash(emulator, ALICE, "/ask", "settings colour blue")["text"]

    for user in (BOB, CAROL, DAVE):
        slash(emulator, user, "/expert", "add #ops")
    request = ask_and_wait_for_routing(emulator, engine, ALICE, "pager rota? #ops", experts=1)
    eventually(lambda: requests(engine)[0].escalate_at, what="the escalation clock")
    request = requests(engine)[0]
    assert len(routes(engine)) == 1, "the workspace asks one expert per round now"
    assert timedelta(minutes=29) < request.escalate_at - request.created_at < timedelta(minutes=31)


def test_bots_never_ask_and_never_answer(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, ALICE, "/ask", "who owns the build? #ci")
    ts = posted_question(emulator).response["ts"]
    eventually(lambda: requests(engine)[0].message_ts, what="the question linked")
    for bot_user, bot_id in ((emulator.bot_user_id, emulator.bot_id), ("U0OTHERBOT", "B0OTHER")):
        reply = {
            "type": "message",
            "channel": GENERAL,
            "user": bot_user,
            "bot_id": bot_id,
            "text": "beep: see the runbook",
            "thread_ts": ts,
            "ts": f"{float(ts) + 1:.6f}",
        }
        assert emulator.deliver_event(reply).status == 200
        mention = {
            "type": "app_mention",
            "channel": GENERAL,
            "user": bot_user,
            "bot_id": bot_id,
            "text": f"<@{emulator.bot_user_id}> how do I deploy? #deploy",
            "ts": f"{float(ts) + 2:.6f}",
        }
        assert emulator.deliver_event(mention).status == 200
    [request] = requests(engine)
    assert request.first_answer_at is None, "a bot's reply is no answer"


def test_acks_do_not_wait_while_routing_waits_on_slack(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    slash(emulator, BOB, "/expert", "add #x")
    slash(emulator, DAVE, "/expert", "follow #y")
    # Routing asks Slack about each candidate (users.info) and opens DMs (conversations.open);
    # SQLite has one connection, so a transaction held across either would stall every ack.
    for held_method, question in (("users.info", "q1 #x"), ("conversations.open", "q2 #y")):
        held = emulator.hold(held_method)
        slash(emulator, ALICE, "/ask", question)
        held.wait_until_arrived()
        started = time.monotonic()
        reply = slash(emulator, CAROL, "/til", f"acks go on while {held_method} waits #z")
        assert "Saved" in reply["text"] and time.monotonic() - started < 1, held_method
        held.release()
    eventually(lambda: routes(engine) and dms_to(emulator, DAVE), what="routed and followed")
