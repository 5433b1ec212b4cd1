"""Follow-up work that an acknowledged request promised, kept until it is done.

A service adds the follow-up row in the same transaction as the request's own writes, so the
ack means both are stored. Where it runs is decided here, once, from the session (RUN_HERE,
set by the Runtime from LEARNLOOP_FOLLOW_UPS): by default the request's process claims it and
runs it at once (Runtime.kick), and if that process dies or the attempt fails, the scheduler's
sweep replays it when its claim runs out; with `worker`, it is stored unclaimed and `learnloop
worker` processes claim and run it (bot.worker), replays included. Either way failures come
back with growing delays, until success or MAX_ATTEMPTS. Tasks are therefore written to be safe
to run twice (they check what is already done). Rows hold a task name from TASKS and JSON ids:
never code, never a token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.dates import FOREVER
from bot.settings import Settings
from bot.slack_client import ChannelBusy, ClientFor, is_transient, longest_wait
from storage import outbox as store
from storage.types import utcnow

logger = logging.getLogger(__name__)

# How long a runner holds a follow-up before a replay may take it over.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
REPLAY_BATCH = 100
# A session's info key: False when this process leaves its follow-ups to `learnloop worker`.
RUN_HERE = "learnloop.run_follow_ups_here"
# A follow-up posting in a busy channel waits this long for its turn, then is deferred.
LONGEST_CHANNEL_WAIT = 2.0
_WHAT_TO_DO = {
    "not_in_channel": " (invite me to the channel: /invite @LearnLoop)",
    "channel_not_found": " (the channel is gone, or private without me in it)",
    "is_archived": " (the channel is archived)",
    "invalid_auth": " (the bot token is no longer valid: reinstall the app)",
    "account_inactive": " (the bot token is no longer valid: reinstall the app)",
    "token_revoked": " (the app was uninstalled or its token revoked)",
}

Task = Callable[..., object]


@dataclass(frozen=True)
class Promised:
    """A stored follow-up as its runner has it, without reading the row back. `held`: this
    process claimed it and runs it; otherwise it was left unclaimed for a worker."""

    id: int
    team_id: str
    task: str
    args: dict[str, Any]
    attempts: int = 0
    held: bool = True


def enqueue(team_id: str, task: str, *, session: Session, **args: Any) -> Promised:
    """Add a follow-up to the caller's transaction (the caller commits)."""
    [promised] = enqueue_all([(team_id, task, args)], session=session)
    return promised


def enqueue_all(
    follow_ups: Sequence[tuple[str, str, dict[str, Any]]], *, session: Session
) -> list[Promised]:
    """Add (team, task, args) follow-ups to the caller's transaction in one statement: claimed
    by this process, or unclaimed for the workers when its sessions say so (RUN_HERE)."""
    for _, task, _ in follow_ups:
        if task not in _tasks():
            raise KeyError(f"unknown follow-up task {task!r}")
    if not follow_ups:
        return []
    held = bool(session.info.get(RUN_HERE, True))
    ids = store.add_follow_ups(follow_ups, utcnow() + LEASE if held else None, session=session)
    return [
        Promised(follow_up_id, team_id, task, args, held=held)
        for follow_up_id, (team_id, task, args) in zip(ids, follow_ups, strict=True)
    ]


def promise(team_id: str, task: str, *, session: Session, **args: Any) -> Promised:
    """A follow-up on its own (a button click), stored before the request is acknowledged."""
    promised = enqueue(team_id, task, session=session, **args)
    session.commit()
    return promised


def run(follow_up_id: int, *, session: Session, client: WebClient, settings: Settings) -> bool:
    """Run a stored follow-up (a replay) and delete it; False when it was already done, or
    deferred because its channel is busy."""
    row = store.get_follow_up(follow_up_id, session=session)
    if row is None:
        return False
    promised = Promised(follow_up_id, row.team_id, row.task, json.loads(row.args), row.attempts)
    session.commit()  # hold no transaction (nor SQLite's write lock) while Slack answers
    return run_promised(promised, session=session, client=client, settings=settings)


def run_promised(
    promised: Promised,
    *,
    session: Session,
    client: WebClient,
    settings: Settings,
    finish: Callable[[int], object] | None = None,
) -> bool:
    """Run one follow-up and delete it (`finish` deletes it, or it is deleted at once). A Slack
    outage or any other failure counts the attempt, schedules the next one and is re-raised (so
    it is logged); a refusal from Slack (not in the channel, token revoked…) would be refused
    again, so it is logged and dropped. False when deferred because its channel is busy."""
    follow_up_id, task = promised.id, promised.task
    waiting = longest_wait.set(LONGEST_CHANNEL_WAIT)
    try:
        _tasks()[task](
            team_id=promised.team_id,
            session=session,
            client=client,
            settings=settings,
            **promised.args,
        )
    except ChannelBusy as busy:
        session.rollback()
        # Not a failure: the channel's turn comes later, and so does this follow-up.
        store.defer(follow_up_id, utcnow() + timedelta(seconds=busy.seconds), session=session)
        session.commit()
        return False
    except SlackApiError as error:
        session.rollback()
        if is_transient(error):
            _postpone(follow_up_id, task, promised.attempts, error, session=session)
            raise
        # Asking again gets the same answer: say what Slack refused, and let it go.
        reason = str(error.response.get("error"))
        logger.warning(
            "follow-up %s (%s) refused by Slack: %s%s",
            follow_up_id,
            task,
            reason,
            _WHAT_TO_DO.get(reason, ""),
        )
    except Exception as error:
        session.rollback()
        _postpone(follow_up_id, task, promised.attempts, error, session=session)
        raise
    finally:
        longest_wait.reset(waiting)
    if finish is None:
        done(follow_up_id, session=session)
    else:
        finish(follow_up_id)
    return True


def done(follow_up_id: int, *, session: Session) -> None:
    """A follow-up its caller did itself."""
    finish_all([follow_up_id], session=session)


def finish_all(batch: list[int], *, session: Session) -> list[None]:
    """Delete done follow-ups in one statement (a Batcher's service). Should the process die
    first, the sweep replays them, and tasks find their work already done."""
    store.finish(batch, session=session)
    session.commit()
    return [None] * len(batch)


def replay_due(
    now: datetime,
    *,
    session: Session,
    clients: ClientFor,
    settings: Settings,
    stopping: Callable[[], bool] = lambda: False,
) -> list[int]:
    """Run the follow-ups whose process died or whose last attempt failed, each with its
    workspace's client; each once, whatever other replicas do at the same time. Stops between
    two when `stopping` says so (a process shutting down: a backlog of posts, each waiting for
    its channel's turn, would outlast its grace period); the rest stay due."""
    done = []
    for follow_up_id, team_id in store.due(now, REPLAY_BATCH, session=session):
        if stopping():
            break
        client = clients(team_id)
        if client is None:
            continue
        claimed = store.claim(follow_up_id, now, LEASE, session=session)
        session.commit()
        if not claimed:
            continue
        try:
            if run(follow_up_id, session=session, client=client, settings=settings):
                done.append(follow_up_id)
        except Exception:
            logger.warning(
                "follow-up %s failed again; next attempt later", follow_up_id, exc_info=True
            )
    return done


def claim_due(now: datetime, limit: int, *, session: Session) -> list[Promised]:
    """Claim up to `limit` due follow-ups for a worker in one statement (committed), oldest
    first; each goes to one worker, whatever the others do at the same time."""
    claimed = store.claim_due(now, limit, LEASE, session=session)
    session.commit()
    return [
        Promised(follow_up_id, team_id, task, json.loads(args), attempts)
        for follow_up_id, team_id, task, args, attempts in claimed
    ]


def release(follow_up_ids: list[int], *, session: Session) -> None:
    """Hand back follow-ups claimed but not started (a worker stopping): due again at once."""
    if follow_up_ids:
        store.release(follow_up_ids, session=session)
        session.commit()


def _postpone(
    follow_up_id: int, task: str, attempts: int, error: Exception, *, session: Session
) -> None:
    retry_at = _next_attempt(attempts + 1)
    store.postpone(follow_up_id, retry_at, _describe(error), session=session)
    session.commit()
    if retry_at == FOREVER:
        logger.error(
            "follow-up %s (%s) gave up after %s attempts", follow_up_id, task, attempts + 1
        )


def _next_attempt(attempts: int) -> datetime:
    if attempts >= MAX_ATTEMPTS:
        return FOREVER
    return utcnow() + min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def _describe(error: Exception) -> str:
    """What went wrong, without the request or response bodies (they may quote people)."""
    if isinstance(error, SlackApiError):
        return f"SlackApiError: {error.response.get('error')}"
    return type(error).__name__


@cache
def _tasks() -> dict[str, Task]:
    """The follow-ups there are, by the name stored in a row. Imported here, not at the top,
    because the services that enqueue them import this module."""
    from bot import help_requests, mentoring, onboarding, til
    from storage.models import RouteAnswer

    def plain(service: Task) -> Task:
        def task(*, team_id: str, settings: Settings, **args: Any) -> object:
            return service(**args)

        return task

    def with_team(service: Task) -> Task:
        def task(*, team_id: str, settings: Settings, **args: Any) -> object:
            return service(team_id=team_id, **args)

        return task

    def with_policy(service: Task) -> Task:
        def task(*, team_id: str, settings: Settings, **args: Any) -> object:
            return service(defaults=settings.help_policy, **args)

        return task

    def answer_route(*, answer: str, **args: Any) -> object:
        return help_requests.answer_route(answer=RouteAnswer(answer), **args)

    return {
        "til.confirm": plain(til.confirm_capture),
        "til.share": plain(til.share_command_til),
        "help.post_and_route": with_policy(help_requests.post_and_route),
        "help.route_mentioned": with_policy(help_requests.route_mentioned),
        "help.answer_route": plain(answer_route),
        "help.point_to_answer": plain(help_requests.point_to_answer),
        "help.resolve_by_button": plain(help_requests.resolve_by_button),
        "help.resolve_by_reaction": with_team(help_requests.resolve_by_reaction),
        "help.save_answer": plain(help_requests.save_answer_as_til),
        onboarding.WELCOME: with_team(onboarding.welcome),
        onboarding.SHARE_ANSWER: with_team(onboarding.share_answer),
        mentoring.INTRODUCE: plain(mentoring.introduce),
        mentoring.SHOW_PAIR: plain(mentoring.show_pair),
    }
