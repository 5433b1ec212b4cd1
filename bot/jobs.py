"""Scheduled work. Jobs are thin: they carry no data, load what is due, call a service.

Each step spans workspaces: services get each workspace's own client (Runtime.sweep), and
workspaces that uninstalled LearnLoop are left out of what is due.

The scheduler runs in `learnloop serve` only; tests call these functions directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot import help_requests, mentoring, onboarding, outbox, reflection, summary
from bot.leader import LeaderLease
from bot.runtime import Runtime
from storage.types import utcnow

logger = logging.getLogger(__name__)

DUE_WORK_JOB_ID = "due-work"


def run_held_routing(runtime: Runtime, now: datetime) -> list[int]:
    """Ask experts about questions whose suggestion hold is over; safe to run anywhere, any
    number of times."""
    return runtime.sweep(help_requests.route_held, now=now, defaults=runtime.settings.help_policy)


def run_escalations(runtime: Runtime, now: datetime) -> list[int]:
    """Escalate every question whose window has passed; safe to run anywhere, any number of
    times."""
    return runtime.sweep(help_requests.escalate_due, now=now, defaults=runtime.settings.help_policy)


def run_reflections(runtime: Runtime, now: datetime) -> list[int]:
    """Send due reflection prompts once each; safe to run anywhere, any number of times."""
    grace = timedelta(minutes=runtime.settings.reflection_grace_minutes)
    return runtime.sweep(reflection.fire_due, now=now, grace=grace)


def run_reminders(runtime: Runtime, now: datetime) -> list[int]:
    """Remind those who have not answered a DM prompt; once per run, anywhere."""
    return runtime.sweep(reflection.remind_due, now=now)


def run_onboarding_prompts(runtime: Runtime, now: datetime) -> list[int]:
    """Send newcomers' due week-1 prompts once each; anywhere, any number of times."""
    grace = timedelta(minutes=runtime.settings.reflection_grace_minutes)
    return runtime.sweep(onboarding.send_due_prompts, now=now, grace=grace)


def run_digests(runtime: Runtime, now: datetime) -> list[int]:
    """Post due weekly digests once per channel and week; anywhere, any number of times."""
    return runtime.sweep(summary.post_due_digests, now=now, default_zone=runtime.settings.timezone)


def run_mentoring(runtime: Runtime, now: datetime) -> list[int]:
    """Form each workspace's due mentoring round once and introduce the pairs; anywhere, any
    number of times."""
    return runtime.sweep(mentoring.form_due_rounds, now=now, settings=runtime.settings)


def run_follow_ups(runtime: Runtime, now: datetime) -> list[int]:
    """Replay follow-ups whose process died or whose attempt failed; each once, anywhere.
    Not in the sweep when workers run the follow-ups (they replay them too)."""
    return runtime.sweep(
        outbox.replay_due, now=now, settings=runtime.settings, stopping=runtime.closing.is_set
    )


def run_due_work(runtime: Runtime, lease: LeaderLease) -> None:
    """The sweep: only the replica holding the lease does it."""
    if not lease.is_leader():
        return
    now = utcnow()
    if not runtime.settings.follow_ups_by_workers:
        run_follow_ups(runtime, now)
    run_held_routing(runtime, now)
    run_escalations(runtime, now)
    run_reflections(runtime, now)
    run_reminders(runtime, now)
    run_onboarding_prompts(runtime, now)
    run_digests(runtime, now)
    run_mentoring(runtime, now)


# What the persisted job runs with: jobs carry no objects, only a "module:function" reference.
_bound: tuple[Runtime, LeaderLease] | None = None


def sweep() -> None:
    """The scheduler's job: the sweep, by this process's runtime, if it leads."""
    if _bound is not None:
        run_due_work(*_bound)


def _count_job_event(runtime: Runtime, event: JobEvent) -> None:
    """Runs and misses in /metrics: a sweep that stops running, or keeps missing, shows there."""
    if event.code == EVENT_JOB_MISSED:
        runtime.metrics.scheduler_misses.inc()
    else:
        runtime.metrics.scheduler_runs.labels(event.job_id).inc()


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """APScheduler with its job store in the app's database: UTC, coalescing, one instance per
    job, a run missed by up to a minute still runs. The job only triggers the sweep; the rows
    (questions, schedules) hold what is due."""
    global _bound
    lease = LeaderLease(runtime.engine)
    lease.is_leader()  # take the lease now if it is free, so /readyz tells from the start
    runtime.leader = lease
    _bound = (runtime, lease)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=runtime.engine)},
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    scheduler.add_job(
        f"{__name__}:sweep",
        "interval",
        seconds=runtime.settings.sweep_seconds,
        id=DUE_WORK_JOB_ID,
        replace_existing=True,
    )
    scheduler.add_listener(
        partial(_count_job_event, runtime), EVENT_JOB_EXECUTED | EVENT_JOB_MISSED
    )
    scheduler.start()
    runtime.before_close(scheduler.shutdown)
    runtime.before_close(lease.release)
    logger.info("scheduler started: due work checked every %ss", runtime.settings.sweep_seconds)
    return scheduler
