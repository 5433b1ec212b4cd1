"""Reflection end to end: leads schedule prompts over signed HTTP, the scheduler's sweep sends
them once (across restarts and replicas, within the grace time), answers in the thread are kept."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import ALICE, BOB, CAROL, GENERAL, SlackEmulator
from bot.jobs import run_reflections, run_reminders
from bot.reflection import next_runs
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from prompts.prompt_sets import load_prompt_sets
from storage.models import (
    Frequency,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
    Til,
)
from tests.conftest import eventually

SECOND = timedelta(seconds=1)


def reflect(emulator: SlackEmulator, user: str, text: str) -> str:
    reply = emulator.slash_command(user, GENERAL, "/reflect", text).json()
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


def rows(engine: Engine, model: type) -> list:
    with Session(engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


def prompts_posted(emulator: SlackEmulator) -> list:
    return [
        c for c in emulator.calls_to("chat.postMessage") if "Time to reflect" in c.params["text"]
    ]


def test_a_lead_schedules_a_reflection_and_sees_the_next_runs_in_local_time(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    answer = reflect(emulator, ALICE, "schedule weekly fri 16:00 Europe/London set:learning-log")
    assert "every Friday at 16:00 (Europe/London)" in answer and "*learning-log*" in answer
    assert answer.count("Fri ") == 3 and "16:00" in answer
    [schedule] = rows(engine, ReflectionSchedule)
    assert (schedule.frequency, schedule.day, schedule.channel_id) == (
        Frequency.WEEKLY,
        4,
        GENERAL,
    )
    local = schedule.next_run_at.astimezone(ZoneInfo("Europe/London"))
    assert (local.weekday(), local.hour, local.minute) == (4, 16, 0)


def test_the_time_zone_defaults_to_the_leads_own(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule daily 09:30 <#C0ENG|engineering>")
    [schedule] = rows(engine, ReflectionSchedule)
    assert schedule.timezone == "Europe/London" and schedule.channel_id == "C0ENG"
    assert schedule.prompt_set == "weekly-retro"


def test_members_cannot_schedule_and_bad_schedules_are_explained(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "Only a team lead or community manager" in reflect(
        emulator, BOB, "schedule weekly fri 16:00"
    )
    for text, problem in [
        ("schedule weekly 16:00", "say which day"),
        ("schedule daily 25:00", "HH:MM"),
        ("schedule monthly 31 10:00", "1 to 28"),
        ("schedule hourly 10:00", "daily, weekly"),
        ("schedule weekly fri 16:00 Mars/Base", "not a time zone"),
        ("schedule weekly fri 16:00 set:nope", "no prompt set 'nope'"),
        ("schedule weekly fri 16:00 sometimes", "don't understand"),
    ]:
        assert problem in reflect(emulator, ALICE, text), text
    assert rows(engine, ReflectionSchedule) == []
    assert "/reflect schedule" in reflect(emulator, BOB, "")


def test_list_pause_resume_delete(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule weekly mon 10:00 Europe/Paris")
    reflect(emulator, ALICE, "schedule monthly 1 09:00 Asia/Tokyo set:team-health")
    first, second = rows(engine, ReflectionSchedule)
    listing = reflect(emulator, BOB, "list")
    assert (
        f"#{first.id}:" in listing
        and f"#{second.id}:" in listing
        and "day 1 of every month" in listing
    )
    assert "paused" in reflect(emulator, ALICE, f"pause {first.id}")
    assert "(paused)" in reflect(emulator, BOB, "list")
    assert "Only a team lead" in reflect(emulator, BOB, f"resume {first.id}")
    assert "resumed" in reflect(emulator, ALICE, f"resume #{first.id}")
    assert "deleted" in reflect(emulator, ALICE, f"delete {second.id}")
    assert [s.id for s in rows(engine, ReflectionSchedule)] == [first.id]
    assert "no schedule #999" in reflect(emulator, ALICE, "delete 999")


def test_now_posts_a_prompt_and_thread_replies_are_kept(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule weekly fri 16:00 Europe/London")
    [schedule] = rows(engine, ReflectionSchedule)
    assert "Sent a prompt" in reflect(emulator, ALICE, f"now {schedule.id}")
    [post] = prompts_posted(emulator)
    assert post.params["channel"] == GENERAL
    assert load_prompt_sets()["weekly-retro"].prompts[0] in post.params["text"]
    ts = post.response["ts"]
    eventually(lambda: rows(engine, ReflectionRun)[0].message_ts, what="the run linked")
    reply_ts, _ = emulator.post_message(BOB, GENERAL, "I learned to ask earlier", thread_ts=ts)
    emulator.post_message(CAROL, GENERAL, "pairing helped", thread_ts=ts)
    event = {
        "type": "message",
        "channel": GENERAL,
        "user": BOB,
        "ts": reply_ts,
        "thread_ts": ts,
        "text": "I learned to ask earlier",
    }
    emulator.deliver_event(event, retry_num=1)
    answers = rows(engine, ReflectionResponse)
    assert [(a.user_id, a.text) for a in answers] == [
        (BOB, "I learned to ask earlier"),
        (CAROL, "pairing helped"),
    ]


def test_prompts_rotate_without_repeating(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule daily 09:00 UTC/Extra set:team-health")
    assert rows(engine, ReflectionSchedule) == []  # not a zone: nothing stored
    reflect(emulator, ALICE, "schedule daily 09:00 Etc/UTC set:team-health")
    [schedule] = rows(engine, ReflectionSchedule)
    for _ in range(3):
        reflect(emulator, ALICE, f"now {schedule.id}")
    texts = [c.params["text"] for c in prompts_posted(emulator)]
    expected = load_prompt_sets()["team-health"].prompts[:3]
    assert all(prompt in text for prompt, text in zip(expected, texts, strict=True))


def test_a_schedule_fires_after_a_restart_once_and_missed_runs_obey_the_grace_time(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule weekly wed 11:00 Europe/Berlin")
    [schedule] = rows(engine, ReflectionSchedule)
    due = schedule.next_run_at
    restarted = Runtime(settings)  # a new process: everything it knows is in the database
    try:
        assert run_reflections(restarted, due - SECOND) == []
        assert run_reflections(restarted, due + SECOND) == [schedule.id]
        assert run_reflections(restarted, due + SECOND) == [], "sent once"
        assert len(prompts_posted(emulator)) == 1
        [after] = rows(engine, ReflectionSchedule)
        assert after.next_run_at == due + timedelta(days=7)
        # The app was down through the next run and comes back 2 hours late: skipped.
        grace = timedelta(minutes=settings.reflection_grace_minutes)
        assert run_reflections(restarted, after.next_run_at + grace + timedelta(hours=1)) == []
        assert len(prompts_posted(emulator)) == 1
        [later] = rows(engine, ReflectionSchedule)
        assert later.next_run_at == due + timedelta(days=14)
        # Back 30 minutes late, inside the grace time: sent, once.
        assert run_reflections(restarted, later.next_run_at + timedelta(minutes=30)) == [
            schedule.id
        ]
        assert len(prompts_posted(emulator)) == 2
    finally:
        restarted.close()


def test_two_replicas_sweeping_at_once_send_one_prompt(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule weekly thu 08:00 Europe/Madrid")
    [schedule] = rows(engine, ReflectionSchedule)
    replicas = [Runtime(settings), Runtime(settings)]
    try:
        with ThreadPoolExecutor(2) as pool:
            sent = list(
                pool.map(lambda r: run_reflections(r, schedule.next_run_at + SECOND), replicas)
            )
    finally:
        for replica in replicas:
            replica.close()
    assert sorted(map(len, sent)) == [0, 1], sent
    assert len(prompts_posted(emulator)) == 1 and len(rows(engine, ReflectionRun)) == 1


def test_the_wall_clock_time_holds_across_daylight_saving() -> None:
    schedule = ReflectionSchedule(
        team_id="T",
        channel_id="C",
        created_by="U",
        frequency=Frequency.WEEKLY,
        day=4,
        time_of_day="16:00",
        timezone="Europe/London",
        prompt_set="weekly-retro",
    )
    runs = next_runs(schedule, datetime(2026, 3, 20, tzinfo=UTC), 3)
    london = [run.astimezone(ZoneInfo("Europe/London")) for run in runs]
    assert [r.hour for r in london] == [16, 16, 16]
    assert [r.hour for r in runs] == [16, 16, 15], "UTC shifts on 29 March"


def test_biweekly_skips_every_other_week_and_daily_skips_weekends() -> None:
    start = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
    biweekly = ReflectionSchedule(
        team_id="T",
        channel_id="C",
        created_by="U",
        frequency=Frequency.BIWEEKLY,
        day=0,
        time_of_day="10:00",
        timezone="Etc/UTC",
        prompt_set="weekly-retro",
        anchor=start,
    )
    gaps = {b - a for a, b in zip(*[iter(next_runs(biweekly, start, 4))] * 2, strict=True)}
    assert gaps == {timedelta(days=14)}
    daily = ReflectionSchedule(
        team_id="T",
        channel_id="C",
        created_by="U",
        frequency=Frequency.DAILY,
        time_of_day="10:00",
        timezone="Etc/UTC",
        prompt_set="weekly-retro",
    )
    assert {run.weekday() for run in next_runs(daily, start, 10)} == {0, 1, 2, 3, 4}


def test_a_dm_schedule_reaches_each_member_once_and_keeps_their_dm_answers(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    answer = reflect(
        emulator, ALICE, "schedule weekly fri 16:00 Europe/London <#C0ENG|engineering> dm"
    )
    assert "by DM to the members of <#C0ENG>" in answer
    assert "until you unmute" in reflect(emulator, CAROL, "mute")
    [schedule] = rows(engine, ReflectionSchedule)
    runtime = Runtime(settings)
    try:
        assert run_reflections(runtime, schedule.next_run_at + SECOND) == [schedule.id]
        assert run_reflections(runtime, schedule.next_run_at + SECOND) == []
    finally:
        runtime.close()
    dms = {c.params["channel"]: c for c in prompts_posted(emulator)}
    assert set(dms) == {emulator.open_im(ALICE).id, emulator.open_im(BOB).id}, (
        "members of #engineering, not the bot, not carol who muted"
    )
    emulator.post_message(BOB, emulator.open_im(BOB).id, "I learned to say no to scope creep")
    emulator.post_message(CAROL, emulator.open_im(CAROL).id, "TIL nothing, I'm muted")
    [kept] = rows(engine, ReflectionResponse)
    assert (kept.user_id, kept.text) == (BOB, "I learned to say no to scope creep")
    assert rows(engine, Til) == [], "a DM with the bot is never captured as a TIL"


def test_mute_until_a_date_and_unmute(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "until 2099-01-31 (included)" in reflect(emulator, BOB, "mute until 2099-01-31")
    assert "again" in reflect(emulator, BOB, "unmute")
    for bad in ("mute tomorrow", "mute until 2020-01-01", "mute until 2099-02-30 x"):
        assert "Usage" in reflect(emulator, BOB, bad), bad


SWEEP = """
import sys
from datetime import datetime
from bot.jobs import run_reflections, run_reminders
from bot.runtime import Runtime
from bot.settings import Settings
settings = Settings(slack_bot_token=sys.argv[1], slack_signing_secret="x",
                    slack_api_url=sys.argv[2], database_url=sys.argv[3])
runtime = Runtime(settings)
print(len(run_reflections(runtime, datetime.fromisoformat(sys.argv[4]))))
runtime.close()
"""


def test_two_app_processes_sweeping_the_same_run_send_one_prompt(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule weekly tue 09:00 Europe/Dublin")
    [schedule] = rows(engine, ReflectionSchedule)
    when = (schedule.next_run_at + SECOND).isoformat()
    args = [emulator.bot_token, emulator.api_url, settings.database_url, when]
    processes = [
        subprocess.Popen([sys.executable, "-c", SWEEP, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    sent = sorted(int(process.communicate(timeout=60)[0].strip()) for process in processes)
    assert sent == [0, 1], f"exactly one process sends the run, got {sent}"
    assert len(prompts_posted(emulator)) == 1 and len(rows(engine, ReflectionRun)) == 1


def test_edit_changes_a_schedule_and_keeps_its_history(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    reflect(emulator, ALICE, "schedule weekly fri 16:00 Europe/London")
    [schedule] = rows(engine, ReflectionSchedule)
    reflect(emulator, ALICE, f"now {schedule.id}")
    edited = reflect(emulator, ALICE, f"edit {schedule.id} daily 09:15 set:learning-log")
    assert "every weekday at 09:15 (Europe/London)" in edited and "*learning-log*" in edited
    [after] = rows(engine, ReflectionSchedule)
    assert (after.frequency, after.prompt_set, after.prompts_sent) == (
        Frequency.DAILY,
        "learning-log",
        0,
    )
    assert len(rows(engine, ReflectionRun)) == 1, "past runs stay"
    assert "Only a team lead" in reflect(emulator, BOB, f"edit {schedule.id} daily 10:00")
    assert "no schedule #77" in reflect(emulator, ALICE, "edit 77 daily 10:00")
    assert "say which day" in reflect(emulator, ALICE, f"edit {schedule.id} weekly 10:00")


def test_managers_add_prompts_to_new_or_built_in_sets(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "Only a community manager" in reflect(emulator, BOB, "prompts add ours What went well?")
    added = reflect(emulator, ALICE, "prompts add ours What did you teach someone this week?")
    assert "Added to `ours`, which now has 1 prompts" in added
    reflect(emulator, ALICE, "prompts add weekly-retro Which meeting could have been a message?")
    listing = reflect(emulator, BOB, "prompts")
    assert (
        "`ours`: Ours (1 prompts)" in listing
        and "`weekly-retro`: Weekly retro (11 prompts)" in listing
    )
    assert "no prompt set 'theirs'" in reflect(emulator, ALICE, "schedule daily 09:00 set:theirs")
    reflect(emulator, ALICE, "schedule daily 09:00 Etc/UTC set:ours")
    [schedule] = rows(engine, ReflectionSchedule)
    reflect(emulator, ALICE, f"now {schedule.id}")
    [post] = prompts_posted(emulator)
    assert "What did you teach someone this week?" in post.params["text"]
    assert "Usage" in reflect(emulator, ALICE, "prompts remove ours x")


def test_public_holidays_can_be_skipped() -> None:
    schedule = ReflectionSchedule(
        team_id="T",
        channel_id="C",
        created_by="U",
        frequency=Frequency.DAILY,
        time_of_day="09:00",
        timezone="Europe/Berlin",
        prompt_set="weekly-retro",
        skip_holidays="DE",
    )
    runs = next_runs(schedule, datetime(2026, 12, 23, tzinfo=UTC), 3)
    days = [run.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat() for run in runs]
    assert days == ["2026-12-23", "2026-12-24", "2026-12-28"], "25 and 26 December are holidays"


def test_skip_holidays_is_described_and_checked(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    answer = reflect(emulator, ALICE, "schedule daily 09:00 Europe/Berlin skip-holidays:de")
    assert "not on public holidays in DE" in answer
    assert "don't know the holidays of 'ZZ'" in reflect(
        emulator, ALICE, "schedule daily 09:00 skip-holidays:zz"
    )


def test_dm_reminders_go_once_to_those_who_have_not_answered(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "reminders go by DM" in reflect(emulator, ALICE, "schedule daily 09:00 remind:60")
    answer = reflect(emulator, ALICE, "schedule daily 09:00 Etc/UTC <#C0ENG|eng> dm remind:60")
    assert "reminding after 60 minutes" in answer
    [schedule] = rows(engine, ReflectionSchedule)
    runtime = Runtime(settings)
    try:
        run_reflections(runtime, schedule.next_run_at + SECOND)
        bob_dm = emulator.open_im(BOB).id
        emulator.post_message(BOB, bob_dm, "learned a lot today")
        now = datetime.now(UTC)
        assert run_reminders(runtime, now + timedelta(minutes=30)) == [], "not before the delay"
        later = now + timedelta(minutes=61)
        assert len(run_reminders(runtime, later)) == 2, "alice and carol; bob answered"
        assert run_reminders(runtime, later + timedelta(hours=5)) == [], "once per run"
    finally:
        runtime.close()
    reminders = [
        c for c in emulator.calls_to("chat.postMessage") if "gentle reminder" in c.params["text"]
    ]
    assert {c.params["channel"] for c in reminders} == {
        emulator.open_im(ALICE).id,
        emulator.open_im(CAROL).id,
    }
    assert all(c.params.get("thread_ts") for c in reminders)


def test_local_dm_schedules_reach_each_member_at_their_own_wall_clock_time(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "add `dm` too" in reflect(emulator, ALICE, "schedule daily 09:00 local")
    answer = reflect(emulator, ALICE, "schedule daily 09:00 <#C0ENG|eng> dm local")
    assert "at 09:00 in each member's own time zone" in answer
    [schedule] = rows(engine, ReflectionSchedule)
    assert schedule.local_zones == "America/New_York,Asia/Tokyo,Europe/London"
    zone_of = {ALICE: "Europe/London", BOB: "America/New_York", CAROL: "Asia/Tokyo"}
    dm_of = {emulator.open_im(user).id: user for user in zone_of}
    runtime = Runtime(settings)
    received: list[tuple[str, datetime, str]] = []
    try:
        for _ in range(6):  # two days' worth of runs, one zone (one member) at a time
            [current] = rows(engine, ReflectionSchedule)
            before = len(prompts_posted(emulator))
            assert run_reflections(runtime, current.next_run_at + SECOND) == [schedule.id]
            for call in prompts_posted(emulator)[before:]:
                received.append(
                    (dm_of[call.params["channel"]], current.next_run_at, call.params["text"])
                )
    finally:
        runtime.close()
    assert sorted(user for user, _, _ in received) == sorted([ALICE, BOB, CAROL] * 2)
    for user, at, _ in received:
        local = at.astimezone(ZoneInfo(zone_of[user]))
        assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True), (user, local)
    by_day: dict[object, set[str]] = {}
    for user, at, text in received:
        by_day.setdefault(at.astimezone(ZoneInfo(zone_of[user])).date(), set()).add(text)
    assert all(len(texts) == 1 for texts in by_day.values()), "one prompt per local day"


def test_now_without_an_id_uses_this_channels_only_schedule(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "has 0 schedules" in reflect(emulator, ALICE, "now")
    reflect(emulator, ALICE, "schedule weekly fri 16:00 Europe/London")
    assert "Sent a prompt" in reflect(emulator, ALICE, "now")
    assert len(prompts_posted(emulator)) == 1
    reflect(emulator, ALICE, "schedule daily 09:00 Europe/London")
    assert "has 2 schedules" in reflect(emulator, ALICE, "now")
