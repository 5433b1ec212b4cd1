"""Scheduled work. Jobs are thin: they carry no data, load what is due, call a service.

The scheduler runs in `learnloop serve` only; tests call these functions directly.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot import help_requests
from bot.runtime import Runtime
from storage.types import utcnow

logger = logging.getLogger(__name__)

HELP_REQUESTS_JOB_ID = "help-requests-due"
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


def run_help_requests_due(runtime: Runtime) -> None:
    now = utcnow()
    run_held_routing(runtime, now)
    run_escalations(runtime, now)


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """UTC, coalescing, one instance per job, misfires within a grace time still run."""
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(
        run_help_requests_due,
        "interval",
        args=[runtime],
        seconds=CHECK_SECONDS,
        id=HELP_REQUESTS_JOB_ID,
        replace_existing=True,
    )
    scheduler.start()
    runtime.before_close(scheduler.shutdown)
    logger.info("scheduler started: help requests checked every %ss", CHECK_SECONDS)
    return scheduler
