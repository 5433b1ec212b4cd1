"""Scheduled work. Jobs are thin: they carry no data, load what is due, call a service.

The scheduler runs in `learnloop serve` only; tests call these functions directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot import help_requests, reflection
from bot.leader import LeaderLease
from bot.runtime import Runtime
from storage.types import utcnow

logger = logging.getLogger(__name__)

DUE_WORK_JOB_ID = "due-work"
CHECK_SECONDS = 30


def run_held_routing(runtime: Runtime, now: datetime) -> list[int]:
    """Ask experts about questions whose suggestion hold is over; safe to run anywhere, any
    number of times."""
    settings = runtime.settings
    return runtime.call_sync(
        help_requests.route_held,
        token=settings.slack_bot_token,
        now=now,
        defaults=settings.help_policy,
    )


def run_escalations(runtime: Runtime, now: datetime) -> list[int]:
    """Escalate every question whose window has passed; safe to run anywhere, any number of
    times."""
    settings = runtime.settings
    return runtime.call_sync(
        help_requests.escalate_due,
        token=settings.slack_bot_token,
        now=now,
        defaults=settings.help_policy,
    )


def run_reflections(runtime: Runtime, now: datetime) -> list[int]:
    """Send due reflection prompts once each; safe to run anywhere, any number of times."""
    settings = runtime.settings
    return runtime.call_sync(
        reflection.fire_due,
        token=settings.slack_bot_token,
        now=now,
        grace=timedelta(minutes=settings.reflection_grace_minutes),
    )


def run_reminders(runtime: Runtime, now: datetime) -> list[int]:
    """Remind those who have not answered a DM prompt; once per run, anywhere."""
    return runtime.call_sync(reflection.remind_due, token=runtime.settings.slack_bot_token, now=now)


def run_due_work(runtime: Runtime, lease: LeaderLease) -> None:
    """The sweep: only the replica holding the lease does it."""
    if not lease.is_leader():
        return
    now = utcnow()
    run_held_routing(runtime, now)
    run_escalations(runtime, now)
    run_reflections(runtime, now)
    run_reminders(runtime, now)


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """UTC, coalescing, one instance per job, misfires within a grace time still run."""
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    lease = LeaderLease(runtime.engine)
    scheduler.add_job(
        run_due_work,
        "interval",
        args=[runtime, lease],
        seconds=CHECK_SECONDS,
        id=DUE_WORK_JOB_ID,
        replace_existing=True,
    )
    scheduler.start()
    runtime.before_close(scheduler.shutdown)
    runtime.before_close(lease.release)
    logger.info("scheduler started: due work checked every %ss", CHECK_SECONDS)
    return scheduler
