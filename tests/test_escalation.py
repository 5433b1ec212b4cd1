"""Escalation: a question nobody takes goes to more experts, then to the team; the state is in
the database, so it survives a restart and each step happens once, even with two replicas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import ALICE, BOB, CAROL, DAVE, ENGINEERING, GENERAL, SlackEmulator
from bot.jobs import run_escalations
from bot.runtime import Runtime
from bot.serve import BackgroundServer, build_web_app
from bot.settings import Settings
from storage.models import HelpRequest, HelpRoute, MemberRole, Role
from tests.conftest import eventually

SECOND = timedelta(seconds=1)


def load(engine: Engine) -> tuple[HelpRequest, list[HelpRoute]]:
    with Session(engine) as session:
        request = session.exec(select(HelpRequest)).one()
        routes = list(session.exec(select(HelpRoute).order_by(HelpRoute.id)))
    return request, routes


def help_channel_posts(emulator: SlackEmulator) -> list:
    return [c for c in emulator.calls_to("chat.postMessage") if c.params["channel"] == ENGINEERING]


def ask_with_one_expert_asked(settings: Settings, emulator: SlackEmulator, engine: Engine) -> None:
    """Run the app, ask, see one expert asked, stop the app (the "before restart" half)."""
    with BackgroundServer(build_web_app(settings)) as server:
        emulator.request_url = server.request_url
        emulator.slash_command(ALICE, GENERAL, "/expert", "add <@U0BOB> <@U0CAROL> #db")
        emulator.slash_command(DAVE, GENERAL, "/ask", "index or not? #db")
        eventually(lambda: load(engine)[0].escalate_at, what="the escalation time set")
        eventually(lambda: all(r.dm_ts for r in load(engine)[1]), what="the first DM")


def test_an_unanswered_question_escalates_once_per_step_across_a_restart(
    settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    settings = replace(settings, experts_per_question=1, help_channel=ENGINEERING)
    ask_with_one_expert_asked(settings, emulator, engine)
    request, [first] = load(engine)
    assert (
        request.escalate_at - request.created_at >= settings.help_policy.escalation_window - SECOND
    )

    restarted = Runtime(settings)  # a new process: nothing in memory, everything in the database
    try:
        assert run_escalations(restarted, request.escalate_at - SECOND) == []
        assert run_escalations(restarted, request.escalate_at + SECOND) == [request.id]
        assert run_escalations(restarted, request.escalate_at + SECOND) == [], "fires once"
        request, routes = load(engine)
        assert [r.expert_id for r in routes] == [
            first.expert_id,
            ({BOB, CAROL} - {first.expert_id}).pop(),
        ]
        assert routes[1].round == 2 and routes[1].dm_ts, "the next expert got a DM"
        assert help_channel_posts(emulator) == []

        second_window = request.escalate_at + SECOND
        assert run_escalations(restarted, second_window) == [request.id]
        assert (
            run_escalations(restarted, second_window + settings.help_policy.escalation_window) == []
        )
        [post] = help_channel_posts(emulator)
        assert (
            "Nobody has answered" in post.params["text"] and "index or not?" in post.params["text"]
        )
        assert load(engine)[0].escalation_level == 2 and load(engine)[0].escalate_at is None
    finally:
        restarted.close()


def test_two_replicas_escalating_at_once_ask_the_next_expert_once(
    settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    settings = replace(settings, experts_per_question=1)
    ask_with_one_expert_asked(settings, emulator, engine)
    request, _ = load(engine)
    replicas = [Runtime(settings), Runtime(settings)]
    try:
        with ThreadPoolExecutor(2) as pool:
            done = list(
                pool.map(lambda r: run_escalations(r, request.escalate_at + SECOND), replicas)
            )
        assert sorted(map(len, done)) == [0, 1], f"exactly one replica escalates, got {done}"
        assert len(load(engine)[1]) == 2
    finally:
        for replica in replicas:
            replica.close()


def test_a_taken_question_does_not_escalate(
    settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    settings = replace(settings, experts_per_question=1)
    with BackgroundServer(build_web_app(settings)) as server:
        emulator.request_url = server.request_url
        emulator.slash_command(ALICE, GENERAL, "/expert", "add <@U0BOB> <@U0CAROL> #db")
        emulator.slash_command(DAVE, GENERAL, "/ask", "index or not? #db")
        eventually(lambda: load(engine)[0].escalate_at, what="the escalation time set")
        [route] = eventually(lambda: [r for r in load(engine)[1] if r.dm_ts], what="the DM")
        emulator.click_button(route.expert_id, route.dm_channel_id, route.dm_ts, "help_take")
        eventually(lambda: load(engine)[0].claimed_by, what="the question taken")
    runtime = Runtime(settings)
    try:
        assert run_escalations(runtime, load(engine)[0].escalate_at + SECOND) == []
    finally:
        runtime.close()


def test_without_a_help_channel_the_teams_leads_get_the_question(
    settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    settings = replace(settings, experts_per_question=2)
    ask_with_one_expert_asked(settings, emulator, engine)  # bob and carol are both asked
    with Session(engine) as session:  # given: alice leads the team (roles: /learnloop role)
        session.add(
            MemberRole(team_id=emulator.team_id, user_id=ALICE, role=Role.LEAD, granted_by=ALICE)
        )
        session.commit()
    request, _ = load(engine)
    runtime = Runtime(settings)
    try:
        # Nobody new to ask at the first window, so it goes straight to the team.
        assert run_escalations(runtime, request.escalate_at + SECOND) == [request.id]
    finally:
        runtime.close()
    dm = emulator.open_im(ALICE).id
    [handed] = [c for c in emulator.calls_to("chat.postMessage") if c.params["channel"] == dm]
    assert "Nobody has answered" in handed.params["text"]
    assert load(engine)[0].escalation_level == 2
