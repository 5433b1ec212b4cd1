"""The `learnloop` command as a user runs it: a subprocess with an environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.emulator import ALICE, BOB, GENERAL, SlackEmulator
from bot.serve import BackgroundServer
from storage.models import Til, TilSource
from tests.conftest import eventually, rows_naming
from tests.week_data import ZONE, seed

LEARNLOOP = [sys.executable, "-m", "bot"]


def learnloop(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60, answer: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `learnloop` with only `env`'s Slack and database settings; `answer` is typed in."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DATABASE_URL"))
    }
    return subprocess.run(
        [*LEARNLOOP, *args],
        env=environ | env,
        cwd=cwd,
        input=answer,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "nope"}, "PORT"),
    ],
)
def test_serve_with_a_bad_setting_prints_one_line_and_exits_2(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    result = learnloop("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_db_upgrade_is_idempotent_and_needs_no_slack_credentials(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'll.db'}"}
    for _ in range(2):
        result = learnloop("db", "upgrade", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "ll.db").exists()


def test_export_streams_every_til_as_json_lines(
    server: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "TIL exports are JSON lines #data ✅")
    emulator.slash_command(BOB, GENERAL, "/til", "portability matters #data")
    eventually(lambda: emulator.calls_to("chat.postMessage"), what="the /til post")
    result = learnloop(
        "export", "--format", "jsonl", env={"DATABASE_URL": database_url}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["type"] for record in records] == ["til", "til"]
    first = records[0]
    assert first["text"] == "TIL exports are JSON lines #data ✅" and first["message_ts"] == ts
    assert first["tags"] == ["data"] and first["author_id"] == ALICE
    created = datetime.fromisoformat(first["created_at"])
    assert created.utcoffset() == timedelta(0), "times are exported as UTC"
    assert {record["source"] for record in records} == {"keyword", "command"}

    other_team = learnloop(
        "export", "--team", "T0OTHER", env={"DATABASE_URL": database_url}, cwd=tmp_path
    )
    assert other_team.returncode == 0 and other_team.stdout == ""
    to_file = tmp_path / "out.jsonl"
    learnloop("export", "--out", str(to_file), env={"DATABASE_URL": database_url}, cwd=tmp_path)
    assert to_file.read_text(encoding="utf-8") == result.stdout


def test_export_refuses_unknown_formats(tmp_path: Path) -> None:
    result = learnloop("export", "--format", "xml", env={}, cwd=tmp_path)
    assert result.returncode == 2 and "jsonl" in result.stderr


def test_demo_runs_the_scenario_offline_and_prints_a_transcript(tmp_path: Path) -> None:
    result = learnloop(
        "demo",
        env={"SLACK_API_URL": "https://slack.invalid/api/", "COLUMNS": "300"},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "alice in #general: TIL:",
        "reacted 📚 to alice's message",
        "answered the retry with HTTP 200; confirmations of alice's TIL so far: 1",
        "/til Postgres",
        "(only visible to bob): 📚 Saved as a TIL · `#postgres`",
        "(only visible to dave): 📚 Saved as a TIL.",
        "reacted 📚 to bob's message",
        "LearnLoop: 📚 *TIL* from @bob: Postgres",
        "TILs matching *postgres*",
        "(only visible to bob): Added: @bob on `#postgres`",
        "posted in #general: 🙋 *Question from @dave*",
        "🔍 Your question is posted. *Maybe it's already answered:*",
        "(only visible to bob): DM to bob: 🙋 @dave has a question on `#postgres`",
        "in the thread: @bob is on it.",
        "updated the question: ✅ Resolved thanks to @bob",
        "question from dave: Which of our queries are slow",
        "resolved, answered by bob",
        "in the thread: 📚 @bob saved the answer as a TIL",
        "answer: Turn on pg_stat_statements and sort by total_exec_time",
        "Scheduled #1: *weekly-retro* in #general, every Friday at 16:00 (Europe/London)",
        "posted in #general: 🌱 *Time to reflect* (Weekly retro)",
        "reflection from bob: I learned to write the test first",
        "reflection from carol: Pairing with bob",
        "(only visible to alice): *📊 LearnLoop summary for the whole workspace, week",
        "5 TILs posted (+5 on the week before)",
        "1 asked, 1 answered, 1 resolved, 0 still open",
        "1 prompt sent, 2 responses",
        "Every Mon at 09:00 (UTC) I'll post the digest of the whole workspace in #general",
        "posted in #general: *📊 LearnLoop summary for the whole workspace",
        "attached in the thread: learnloop-2026-W",
        "(only visible to alice): 👋 Onboarding is on in #general",
        "(only visible to nina): DM to nina: 👋 *Welcome to #general, @nina!*",
        "Where the whole team shares what it learns.",
        "• `#postgres`: @bob, @carol",
        "*Your onboarding buddy is @bob*",
        "(only visible to bob): DM to bob: 🤝 You are now the onboarding buddy of @nina",
        "(1 of 10)",
        "DM to bob: @nina (new in #general) answered",
        "reflection from nina: Bob walked me through the deploy pipeline",
        "(only visible to bob): You offer to mentor on `#postgres`, `#sql`",
        "in a group DM with bob and dave: 🤝 *A mentoring pair:* @bob offered to mentor and @dave",
        "*A first topic:* @dave asked “Which of our queries are slow",
        "mentoring pair: bob mentors dave on postgres",
        "5 TILs stored",
    ):
        assert expected in out, f"transcript should contain {expected!r}"
    assert "coffee machine" not in out.split("What LearnLoop kept")[1], "deleted TIL must be gone"
    assert list(tmp_path.iterdir()) == [], "the demo's database is throwaway"


def test_export_includes_the_directory_and_help_requests_with_their_routes(
    server: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    emulator.slash_command(BOB, GENERAL, "/expert", "add #postgres")
    emulator.slash_command(ALICE, GENERAL, "/expert", "follow #postgres")
    emulator.slash_command(ALICE, GENERAL, "/ask", "vacuum or analyze? #postgres")
    eventually(
        lambda: [
            c for c in emulator.calls_to("chat.postMessage") if c.params["channel"].startswith("D")
        ],
        what="the expert's DM",
    )
    result = learnloop("export", env={"DATABASE_URL": database_url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_type = {record["type"]: record for record in records}
    assert by_type["expert"]["user_id"] == BOB and by_type["expert"]["tag"] == "postgres"
    assert by_type["tag_follow"]["user_id"] == ALICE
    question = by_type["help_request"]
    assert question["asker_id"] == ALICE and question["tags"] == ["postgres"]
    assert question["status"] == "open" and question["text"] == "vacuum or analyze? #postgres"
    assert [route["expert_id"] for route in question["routes"]] == [BOB]
    assert by_type["expert_status"]["user_id"] == BOB and by_type["expert_status"]["last_asked_at"]


def test_export_includes_reflection_schedules_runs_and_answers(
    server: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    emulator.slash_command(ALICE, GENERAL, "/reflect", "schedule weekly fri 16:00 Europe/London")
    emulator.slash_command(ALICE, GENERAL, "/reflect", "now")
    prompt = emulator.wait_for_call(
        "chat.postMessage", lambda c: "Time to reflect" in c.params["text"]
    )
    emulator.post_message(BOB, GENERAL, "I learned to ask sooner", thread_ts=prompt.response["ts"])
    result = learnloop("export", env={"DATABASE_URL": database_url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    by_type = {json.loads(line)["type"]: json.loads(line) for line in result.stdout.splitlines()}
    assert by_type["reflection_schedule"]["frequency"] == "weekly"
    assert by_type["reflection_schedule"]["timezone"] == "Europe/London"
    assert by_type["reflection_run"]["prompt"] in prompt.params["text"]
    assert by_type["reflection_response"]["user_id"] == BOB
    assert by_type["reflection_response"]["text"] == "I learned to ask sooner"


def test_summary_gives_the_same_figures_as_json_csv_and_markdown_with_a_chart(
    engine: Engine, database_url: str, emulator: SlackEmulator, tmp_path: Path
) -> None:
    seed(engine, emulator.team_id)
    env = {"DATABASE_URL": database_url, "LEARNLOOP_TIMEZONE": ZONE}
    week = ["--team", emulator.team_id, "--week", "2026-W47"]
    as_json = learnloop("summary", *week, "--format", "json", env=env, cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    figures = json.loads(as_json.stdout)
    assert (figures["week"], figures["timezone"]) == ("2026-W47", ZONE)
    assert figures["tils"]["posted"] == 4 and figures["tils"]["change"] == 3
    assert figures["tils"]["top_tags"][0] == {"tag": "python", "count": 2}
    assert figures["help"]["asked"] == 3 and figures["help"]["still_open"] == 4
    assert figures["help"]["median_seconds_to_first_answer"] == pytest.approx(7200, abs=0.01)
    assert figures["reflection"]["responses"] == 4
    assert figures["participation"]["active_members"] == 4
    # Offline: no Slack to ask, so no channel sizes and nothing quoted.
    assert figures["participation"]["members"] is None and figures["tils"]["highlights"] == []

    chart = tmp_path / "weeks.png"
    as_csv = learnloop(
        "summary", *week, "--format", "csv", "--chart", str(chart), env=env, cwd=tmp_path
    )
    assert as_csv.returncode == 0, as_csv.stderr
    rows = dict(line.split(",", 1) for line in as_csv.stdout.splitlines()[1:])
    assert rows["tils.posted"] == "4" and rows["tils.top_tags.1.tag"] == "python"
    assert rows["help.knowledge_gaps.1.tag"] == "kubernetes"
    assert chart.read_bytes().startswith(b"\x89PNG")

    out = tmp_path / "week.md"
    as_md = learnloop("summary", *week, "--out", str(out), env=env, cwd=tmp_path)
    assert as_md.returncode == 0, as_md.stderr
    markdown = out.read_text(encoding="utf-8")
    assert markdown.startswith("# LearnLoop summary for the whole workspace, week 2026-W47")
    assert "- 4 TILs posted (+3 on the week before)" in markdown
    assert f"- Top contributors: @{ALICE} (3), @{BOB} (1)" in markdown


def test_summary_with_slack_counts_members_and_quotes_public_channels(
    engine: Engine, database_url: str, emulator: SlackEmulator, tmp_path: Path
) -> None:
    seed(engine, emulator.team_id)
    env = {
        "DATABASE_URL": database_url,
        "LEARNLOOP_TIMEZONE": ZONE,
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_API_URL": emulator.api_url,
    }
    result = learnloop(
        "summary",
        "--team",
        emulator.team_id,
        "--channel",
        GENERAL,
        "--week",
        "2026-W47",
        "--format",
        "json",
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["channel_id"] == GENERAL and figures["tils"]["posted"] == 2
    assert figures["participation"]["members"] == 4
    assert [h["text"][:6] for h in figures["tils"]["highlights"]] == ["TIL t1", "TIL t2"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--format", "xml"], "md, json or csv"),
        (["--week", "2026-W99"], "2026 has no week 99"),
    ],
)
def test_summary_refuses_bad_options_with_exit_2(
    args: list[str], named: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'll.db'}"}
    assert learnloop("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = learnloop("summary", "--team", "T1", *args, env=env, cwd=tmp_path)
    assert result.returncode == 2 and named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_forget_asks_first_then_reports_what_it_deleted_and_anonymised(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    with Session(engine) as session:
        for number, (author, captured_by) in enumerate([(ALICE, ALICE), (BOB, ALICE), (BOB, BOB)]):
            session.add(
                Til(
                    team_id="T0TEAM",
                    channel_id=GENERAL,
                    message_ts=f"1700000000.00010{number}",
                    author_id=author,
                    captured_by=captured_by,
                    source=TilSource.KEYWORD,
                    text=f"TIL number {number} by {author}",
                )
            )
        session.commit()
    env = {"DATABASE_URL": database_url}
    forget = ["forget", "--team", "T0TEAM", "--user", ALICE]

    declined = learnloop(*forget, env=env, cwd=tmp_path, answer="n\n")
    assert declined.returncode == 1 and "Nothing was changed" in declined.stderr
    assert set(rows_naming(engine, ALICE)) == {"til"}

    confirmed = learnloop(*forget, env=env, cwd=tmp_path, answer="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    # click's prompt leaves its last space on stdout, where input() echoes it
    assert confirmed.stdout.strip().splitlines() == ["til: 1 deleted, 1 anonymised"]
    assert rows_naming(engine, ALICE) == {} and len(rows_naming(engine, BOB)["til"]) == 2

    again = learnloop(*forget, "--yes", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "Nothing was stored" in again.stdout


@pytest.mark.parametrize("user", ["alice", "u0alice", "C0GENERAL", "U0A;DROP"])
def test_forget_refuses_what_is_not_a_user_id_with_exit_2(user: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'll.db'}"}
    result = learnloop("forget", "--team", "T1", "--user", user, "--yes", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "not a Slack user id" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
