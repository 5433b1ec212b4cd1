"""`learnloop demo`: a scripted team conversation through the real app, over real HTTP,
against the local Slack emulator, with a throwaway SQLite database. Prints a transcript."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from bot import blocks
from bot.emulator import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    GENERAL,
    ApiCall,
    Delivery,
    SlackEmulator,
    User,
)
from bot.export import export_jsonl
from bot.help_requests import SUGGESTION_HOLD
from bot.jobs import (
    run_digests,
    run_held_routing,
    run_mentoring,
    run_onboarding_prompts,
    run_reflections,
)
from bot.mentoring import next_round_at
from bot.reflection import list_schedules
from bot.runtime import Runtime
from bot.serve import BackgroundServer, build_web_app
from bot.settings import Settings
from bot.summary import subscriptions
from storage import onboarding as onboarding_store
from storage.db import create_db_engine, create_session_factory, session_scope
from storage.types import utcnow

DEMO_SIGNING_SECRET = "demo-signing-secret"
NINA = "U0NINA"
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave", NINA: "nina"}
_USER_MENTION = re.compile(r"<@(U[A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_MENTION = re.compile(r"<#(C[A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


class Transcript:
    """Prints who said what, and what LearnLoop did in Slack in answer."""

    def __init__(self, console: Console, emulator: SlackEmulator) -> None:
        self.console = console
        self.emulator = emulator
        self.channel_name = "#" + emulator.channel(GENERAL).name

    def step(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def says(self, user: str, text: str) -> None:
        self.console.print(
            f"[cyan]{NAMES[user]}[/] in {self.channel_name}: {escape(text)}", highlight=False
        )

    def bot(self, text: str, *, only_for: str | None = None) -> None:
        audience = f" [dim](only visible to {NAMES[only_for]})[/]" if only_for else ""
        self.console.print(
            f"  [green]LearnLoop[/]{audience}: {escape(self.readable(text))}", highlight=False
        )

    def readable(self, mrkdwn: str) -> str:
        """Slack markup as a person reads it: @alice, #general, link text (address)."""
        mrkdwn = _USER_MENTION.sub(lambda m: "@" + NAMES.get(m[1], m[1]), mrkdwn)
        mrkdwn = _CHANNEL_MENTION.sub(lambda m: "#" + self.emulator.channel(m[1]).name, mrkdwn)
        return _LINK.sub(lambda m: f"{m[2]} ({m[1]})", mrkdwn)

    def ack(self, delivery: Delivery | None, user: str) -> None:
        """Show an ephemeral slash-command answer (the HTTP body of the ack)."""
        if delivery is None or not delivery.body:
            return
        reply: dict[str, Any] = delivery.json()
        self.bot(blocks.plain_text(reply.get("blocks", [])) or reply.get("text", ""), only_for=user)

    def wait(self, method: str, check: Callable[[ApiCall], bool] | None = None) -> ApiCall:
        return self.emulator.wait_for_call(method, check, timeout=10)


def run_demo(console: Console) -> None:
    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
    with (
        tempfile.TemporaryDirectory(prefix="learnloop-demo-") as folder,
        SlackEmulator(signing_secret=DEMO_SIGNING_SECRET) as emulator,
    ):
        database_url = f"sqlite:///{Path(folder) / 'demo.db'}"
        settings = Settings(
            slack_bot_token=emulator.bot_token,
            slack_signing_secret=DEMO_SIGNING_SECRET,
            slack_api_url=emulator.api_url,
            database_url=database_url,
        )
        with BackgroundServer(build_web_app(settings)) as server:
            emulator.request_url = server.request_url
            console.print(
                Panel.fit(
                    "LearnLoop demo: a real app server on "
                    f"{server.url}, Slack played by the local emulator at {emulator.api_url}",
                    title="LearnLoop",
                )
            )
            transcript = Transcript(console, emulator)
            _scenario(transcript)
            scheduler_runtime = Runtime(settings)  # what the scheduler in `serve` runs with
            try:
                _ask_scenario(transcript, scheduler_runtime)
                _reflect_scenario(transcript, scheduler_runtime)
                _summary_scenario(transcript, scheduler_runtime)
                _onboarding_scenario(transcript, scheduler_runtime)
                _mentoring_scenario(transcript, scheduler_runtime)
            finally:
                scheduler_runtime.close()
        _report(console, database_url)


def _scenario(show: Transcript) -> None:
    emulator = show.emulator
    show.step("1. A TIL posted as a plain message is kept and confirmed with :books:")
    text = "TIL: `git worktree add ../hotfix main` checks out a second branch beside this one #git"
    show.says(ALICE, text)
    alice_ts, _ = emulator.post_message(ALICE, GENERAL, text)
    show.wait("reactions.add", lambda call: call.params.get("timestamp") == alice_ts)
    show.bot("reacted :books: to alice's message")

    show.step("2. Slack retries the same delivery: LearnLoop stores it once")
    event = {
        "type": "message",
        "channel": GENERAL,
        "user": ALICE,
        "text": text,
        "ts": alice_ts,
        "event_ts": alice_ts,
        "channel_type": "channel",
    }
    retry = emulator.deliver_event(event, retry_num=1, retry_reason="http_timeout")
    confirmations = [
        call for call in emulator.calls_to("reactions.add") if call.params["timestamp"] == alice_ts
    ]
    show.bot(
        f"answered the retry with HTTP {retry.status}; "
        f"confirmations of alice's TIL so far: {len(confirmations)}"
    )

    show.step("3. /til saves a TIL and shares it in the channel")
    command_text = "Postgres 11+ adds a column with a constant default without rewriting #postgres"
    show.says(BOB, f"/til {command_text}")
    show.ack(emulator.slash_command(BOB, GENERAL, "/til", command_text), BOB)
    posted = show.wait("chat.postMessage", lambda call: call.params.get("channel") == GENERAL)
    show.bot(str(posted.params.get("text", "")))

    show.step("4. Any message can be saved with the Save as TIL shortcut")
    tip = "Pro tip: pytest's tmp_path fixture gives every test its own empty folder"
    show.says(CAROL, tip)
    carol_ts, _ = emulator.post_message(CAROL, GENERAL, tip)
    show.console.print("[cyan]dave[/] uses ⋯ > Save as TIL on carol's message")
    emulator.message_shortcut(DAVE, GENERAL, carol_ts, blocks.SAVE_TIL_SHORTCUT)
    response = _wait_for_response(emulator)
    show.bot(str(response.get("text", "")), only_for=DAVE)

    show.step("5. Reacting with :bulb: saves someone else's message")
    explain = "EXPLAIN (ANALYZE, BUFFERS) shows the real plan and the cache hits #postgres"
    show.says(BOB, explain)
    bob_ts, _ = emulator.post_message(BOB, GENERAL, explain)
    show.console.print("[cyan]alice[/] reacts with :bulb:")
    emulator.add_reaction(ALICE, GENERAL, bob_ts, "bulb")
    show.wait("reactions.add", lambda call: call.params.get("timestamp") == bob_ts)
    show.bot("reacted :books: to bob's message")

    show.step("6. Edits and deletions stay in step")
    edited = text + " #tooling"
    show.console.print(f"[cyan]alice[/] edits her message to: {edited}", highlight=False)
    emulator.edit_message(GENERAL, alice_ts, edited)
    noise = "TIL the coffee machine on floor 3 is fixed"
    show.says(DAVE, noise)
    dave_ts, _ = emulator.post_message(DAVE, GENERAL, noise)
    show.wait("reactions.add", lambda call: call.params.get("timestamp") == dave_ts)
    show.console.print("[cyan]dave[/] deletes that message")
    emulator.delete_message(GENERAL, dave_ts)

    show.step("7. Finding it again")
    for query in ("postgres", "worktree tooling"):
        show.says(CAROL, f"/til search {query}")
        show.ack(emulator.slash_command(CAROL, GENERAL, "/til", f"search {query}"), CAROL)


def _ask_scenario(show: Transcript, scheduler_runtime: Runtime) -> None:
    emulator = show.emulator
    show.step("8. Colleagues say what they know")
    for user in (BOB, CAROL):
        show.says(user, "/expert add #postgres")
        show.ack(emulator.slash_command(user, GENERAL, "/expert", "add #postgres"), user)

    show.step("9. A question goes to the people who know")
    question = "Which of our queries are slow, and how do I see it? #postgres"
    show.says(DAVE, f"/ask {question}")
    show.ack(emulator.slash_command(DAVE, GENERAL, "/ask", question), DAVE)
    posted = show.wait(
        "chat.postMessage", lambda call: "Question from" in call.params.get("text", "")
    )
    show.bot(f"posted in #general: {posted.params['text']}")
    suggestions = emulator.wait_for_response(
        lambda response: "Maybe it's already answered" in response["text"], timeout=10
    )
    show.bot(blocks.plain_text(suggestions["blocks"]), only_for=DAVE)
    show.console.print(
        "[dim](two minutes later: dave did not say a suggestion answered it, so the "
        "scheduler asks the experts)[/]"
    )
    run_held_routing(scheduler_runtime, utcnow() + SUGGESTION_HOLD + timedelta(seconds=1))
    question_ts = str(posted.response["ts"])
    bob_dm = emulator.open_im(BOB).id
    dm = show.wait("chat.postMessage", lambda call: call.params["channel"] == bob_dm)
    show.bot("DM to bob: " + str(dm.params["text"]).replace("\n", " / "), only_for=BOB)

    show.step("10. An expert takes it and answers in the thread")
    show.console.print("[cyan]bob[/] clicks [bold]I'll take it[/]")
    emulator.click_button(BOB, bob_dm, str(dm.response["ts"]), blocks.HELP_TAKE)
    taken = show.wait("chat.postMessage", lambda call: call.params.get("thread_ts") == question_ts)
    show.bot(f"in the thread: {taken.params['text']}")
    answer = "Turn on pg_stat_statements and sort by total_exec_time"
    show.console.print(f"[cyan]bob[/] replies in the thread: {escape(answer)}", highlight=False)
    emulator.post_message(BOB, GENERAL, answer, thread_ts=question_ts)

    show.step("11. The asker marks it resolved")
    show.console.print("[cyan]dave[/] clicks [bold]Resolved[/]")
    emulator.click_button(DAVE, GENERAL, question_ts, blocks.HELP_RESOLVE)
    resolved = show.wait("chat.update", lambda call: call.params["ts"] == question_ts)
    show.bot("updated the question: " + str(resolved.params["text"]).splitlines()[-1])

    show.step("12. The answer becomes team knowledge")
    offer = show.wait(
        "chat.postMessage",
        lambda call: (
            call.params.get("thread_ts") == question_ts
            and "save it as a TIL" in call.params.get("text", "")
        ),
    )
    show.bot(f"in the thread: {offer.params['text']}")
    show.console.print("[cyan]bob[/] clicks [bold]Save the answer as a TIL[/]")
    emulator.click_button(BOB, GENERAL, str(offer.response["ts"]), blocks.HELP_SAVE_ANSWER)
    saved = show.wait("chat.update", lambda call: call.params["ts"] == offer.response["ts"])
    show.bot(f"in the thread: {saved.params['text']}")


def _reflect_scenario(show: Transcript, scheduler_runtime: Runtime) -> None:
    emulator = show.emulator
    show.step("13. A lead schedules a reflection")
    command = "schedule weekly fri 16:00 Europe/London set:weekly-retro"
    show.says(ALICE, f"/reflect {command}")
    show.ack(emulator.slash_command(ALICE, GENERAL, "/reflect", command), ALICE)

    show.step("14. Friday, 16:00 in London: the prompt goes out, the team answers in the thread")
    with session_scope(scheduler_runtime.sessions) as session:
        [schedule] = list_schedules(emulator.team_id, session=session)
    assert schedule.next_run_at is not None
    show.console.print("[dim](the scheduler's sweep at the run time)[/]")
    run_reflections(scheduler_runtime, schedule.next_run_at + timedelta(seconds=1))
    prompt = show.wait("chat.postMessage", lambda call: "Time to reflect" in call.params["text"])
    show.bot("posted in #general: " + str(prompt.params["text"]).replace("\n", " / "))
    for user, answer in (
        (BOB, "I learned to write the test first when the bug is in a query"),
        (CAROL, "Pairing with bob on the migration saved me a day"),
    ):
        show.console.print(f"[cyan]{NAMES[user]}[/] replies in the thread: {answer}")
        emulator.post_message(user, GENERAL, answer, thread_ts=str(prompt.response["ts"]))


def _summary_scenario(show: Transcript, scheduler_runtime: Runtime) -> None:
    emulator = show.emulator
    show.step("15. The community manager's week: a summary, and a weekly digest with a chart")
    show.says(ALICE, "/summary all")
    seen = len(emulator.responses)
    show.ack(emulator.slash_command(ALICE, GENERAL, "/summary", "all"), ALICE)
    shown = _wait_for_response(emulator, seen=seen)
    show.bot(blocks.plain_text(shown["blocks"]), only_for=ALICE)
    command = f"subscribe <#{GENERAL}|general> all mon 09:00"
    show.says(ALICE, f"/summary {command}")
    show.ack(emulator.slash_command(ALICE, GENERAL, "/summary", command), ALICE)
    with session_scope(scheduler_runtime.sessions) as session:
        [subscription] = subscriptions(emulator.team_id, session=session)
    show.console.print("[dim](the scheduler's sweep on Monday at 09:00)[/]")
    run_digests(scheduler_runtime, subscription.next_run_at + timedelta(seconds=1))
    digest = show.wait("chat.postMessage", lambda call: "LearnLoop summary" in call.params["text"])
    first_line = str(digest.params["text"]).splitlines()[0]
    show.bot(f"posted in #general: {first_line} …")
    for chart in emulator.shared_files():
        show.bot(f"attached in the thread: {chart.filename} ({len(chart.data or b'')} bytes, PNG)")


def _onboarding_scenario(show: Transcript, scheduler_runtime: Runtime) -> None:
    emulator = show.emulator
    show.step("16. A lead turns onboarding on for #general; bob volunteers as a buddy")
    command = f"onboarding on <#{GENERAL}|general> Where the whole team shares what it learns."
    show.says(ALICE, f"/learnloop {command}")
    show.ack(emulator.slash_command(ALICE, GENERAL, "/learnloop", command), ALICE)
    show.says(BOB, "/learnloop buddy on")
    show.ack(emulator.slash_command(BOB, GENERAL, "/learnloop", "buddy on"), BOB)

    show.step("17. A newcomer joins: a welcome DM, and the buddy is told")
    emulator.add_user(User(NINA, "nina", "Nina Novak", "Europe/Madrid"))
    show.console.print("[cyan]nina[/] joins #general")
    emulator.member_joins(NINA, GENERAL, inviter=ALICE)
    for user, marker in ((NINA, "Welcome to"), (BOB, "onboarding buddy of")):
        sent = show.wait("chat.postMessage", _dm_to(emulator, user, marker))
        show.bot(f"DM to {NAMES[user]}: {sent.params['text']}", only_for=user)

    show.step("18. Her first working day at 10:00: a week-1 prompt, her answer reaches bob")
    with session_scope(scheduler_runtime.sessions) as session:
        enrolment = onboarding_store.get_enrolment(emulator.team_id, GENERAL, NINA, session=session)
    assert enrolment is not None and enrolment.next_prompt_at is not None
    show.console.print("[dim](the scheduler's sweep at 10:00 in Madrid)[/]")
    run_onboarding_prompts(scheduler_runtime, enrolment.next_prompt_at + timedelta(seconds=1))
    prompt = show.wait("chat.postMessage", _dm_to(emulator, NINA, "(1 of 10)"))
    show.bot("DM to nina: " + str(prompt.params["text"]).replace("\n", " / "), only_for=NINA)
    answer = "Bob walked me through the deploy pipeline; the runbook was out of date"
    show.console.print(f"[cyan]nina[/] answers in the DM: {answer}")
    emulator.post_message(NINA, emulator.open_im(NINA).id, answer)
    shared = show.wait("chat.postMessage", _dm_to(emulator, BOB, answer))
    show.bot("DM to bob: " + str(shared.params["text"]).replace("\n", " / "), only_for=BOB)


def _dm_to(emulator: SlackEmulator, user: str, containing: str) -> Callable[[ApiCall], bool]:
    """A check for a Web API call: a DM to `user` whose text contains `containing`."""
    dm = emulator.open_im(user).id
    return lambda call: call.params["channel"] == dm and containing in call.params["text"]


def _mentoring_scenario(show: Transcript, scheduler_runtime: Runtime) -> None:
    emulator = show.emulator
    show.step("19. Mentoring: a mentor offers, a colleague seeks, a round pairs them")
    for user, words in ((BOB, "mentor offer #postgres #sql"), (DAVE, "mentor seek #postgres")):
        show.says(user, f"/learnloop {words}")
        show.ack(emulator.slash_command(user, GENERAL, "/learnloop", words), user)
    with session_scope(scheduler_runtime.sessions) as session:
        due = next_round_at(emulator.team_id, session=session)
    assert due is not None
    show.console.print(f"[dim](the scheduler's sweep at the round, {due:%A %H:%M} UTC)[/]")
    run_mentoring(scheduler_runtime, due + timedelta(seconds=1))
    opened = show.wait("conversations.open", lambda call: "," in str(call.params.get("users")))
    group = str(opened.response["channel"]["id"])
    intro = show.wait("chat.postMessage", lambda call: call.params.get("channel") == group)
    show.bot("in a group DM with bob and dave: " + str(intro.params["text"]).replace("\n", " / "))


def _wait_for_response(
    emulator: SlackEmulator, *, seen: int = 0, timeout: float = 10
) -> dict[str, Any]:
    """The first answer LearnLoop sends through a response_url after the `seen` earlier ones."""
    deadline = time.monotonic() + timeout
    while len(emulator.responses) <= seen:
        if time.monotonic() > deadline:
            raise TimeoutError("LearnLoop never answered through the response_url")
        time.sleep(0.02)
    return emulator.responses[seen]


def _report(console: Console, database_url: str) -> None:
    """What the database holds at the end, read back through the export path."""
    exported = StringIO()
    engine = create_db_engine(database_url)
    try:
        with session_scope(create_session_factory(engine)) as session:
            export_jsonl(exported, session=session)
    finally:
        engine.dispose()
    kept = [json.loads(line) for line in exported.getvalue().splitlines()]
    console.rule("[bold]What LearnLoop kept")
    tils = [record for record in kept if record["type"] == "til"]
    for til in tils:
        tags = ", ".join(til["tags"]) or "-"
        console.print(
            f"• {escape(til['source'])}: {escape(til['text'])}  [dim]tags: {tags}[/]",
            highlight=False,
        )
    for question in (record for record in kept if record["type"] == "help_request"):
        console.print(
            f"• question from {NAMES.get(question['asker_id'])}: {escape(question['text'])}  "
            f"[dim]{question['status']}, answered by {NAMES.get(question['answerer_id'])}[/]",
            highlight=False,
        )
    for pair in (record for record in kept if record["type"] == "mentor_pair"):
        console.print(
            f"• mentoring pair: {NAMES.get(pair['mentor_id'])} mentors "
            f"{NAMES.get(pair['seeker_id'])} on {pair['tags']}  [dim]{pair['status']}[/]",
            highlight=False,
        )
    for answer in (record for record in kept if record["type"] == "reflection_response"):
        console.print(
            f"• reflection from {NAMES.get(answer['user_id'])}: {escape(answer['text'])}",
            highlight=False,
        )
    console.print(
        f"\n{len(tils)} TILs stored, {len(kept)} records in all; "
        "`learnloop export` writes them as JSON lines."
    )
