"""The scheduler as `learnloop serve` starts it: UTC, one coalescing job per process that
carries no data, a minute of grace for runs missed while busy."""

from __future__ import annotations

from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from bot.emulator import SlackEmulator
from bot.jobs import DUE_WORK_JOB_ID, start_scheduler
from bot.serve import build_runtime
from tests.conftest import settings_for


def test_the_scheduler_runs_one_data_free_job_in_utc_with_grace_and_coalescing(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    runtime = build_runtime(settings_for(emulator, f"sqlite:///{tmp_path / 'learnloop.db'}"))
    try:
        scheduler = start_scheduler(runtime)
        [job] = scheduler.get_jobs()
        assert str(scheduler.timezone) == "UTC"
        assert (job.id, job.func_ref, job.args, job.kwargs) == (
            DUE_WORK_JOB_ID,
            "bot.jobs:sweep",
            (),
            {},
        ), "a job names a function and carries nothing: no token, no text"
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 60)
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval.total_seconds() == runtime.settings.sweep_seconds
    finally:
        runtime.close()
