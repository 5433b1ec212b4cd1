"""A smoke run of the benchmark with tiny sizes, so `make bench` cannot rot unnoticed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.http_client import LoopbackSender

SMOKE_SIZES = (
    "--tils",
    "2000",
    "--help-requests",
    "400",
    "--reflection-responses",
    "100",
    "--workspaces",
    "3",
)


def run_benchmark(module: str, results: Path, *options: str) -> str:
    """Run `python -m <module>` as `make bench` does, results in `results`; its output."""
    result = subprocess.run(
        [sys.executable, "-m", module, *options, "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_scale_benchmark(module: str, tmp_path: Path) -> list[dict]:
    """A scale benchmark over tiny generated data, on SQLite; the rows of its JSON."""
    database = f"sqlite:///{tmp_path / 'data' / 'bench.db'}"
    options = ("--sqlite-url", database, "--skip-postgres", *SMOKE_SIZES, "--repeats", "2")
    run_benchmark(module, tmp_path, *options)
    [written] = list(tmp_path.glob("*.json"))
    report = json.loads(written.read_text())
    assert report["sizes"]["tils"] == 2000
    return list(report["results"])


def test_serve_stack_benchmark_runs_and_reports_every_scenario(
    tmp_path: Path, database_url: str
) -> None:
    output = run_benchmark(
        "bench.serve_stack",
        tmp_path,
        *("--seconds", "0.5", "--concurrency", "2", "--database-url", database_url),
    )
    [written] = list(tmp_path.glob("serve_stack-*.json"))
    rows = json.loads(written.read_text())
    scenarios = ["chatter (ignored messages)", "TIL message (stored)", "/til command (stored)"]
    scenarios.append("/ask command (stored)")
    baseline = [("bare Bolt", "chatter (ignored messages)"), ("bare Bolt", "/til command (stored)")]
    assert [(row["server"], row["scenario"]) for row in rows] == [
        *baseline,
        *(("LearnLoop", scenario) for scenario in scenarios),
        *baseline,
        *(("LearnLoop web", scenario) for scenario in scenarios),
        *baseline,
        *(("web alone", scenario) for scenario in scenarios),
    ]
    assert all(row["requests"] > 0 and row["errors"] == 0 for row in rows), rows
    for start in range(0, len(rows), 6):  # each configuration against the baseline just before
        event, command, *measured = rows[start : start + 6]
        assert event["vs_baseline"] == command["vs_baseline"] == 1
        for row in measured:
            reference = command if "command" in row["scenario"] else event
            assert row["vs_baseline"] == pytest.approx(row["per_second"] / reference["per_second"])
    web = [row for row in rows if row["server"] == "LearnLoop web"]
    assert all(row["server_cpu_with_follow_ups_us"] > row["server_cpu_us"] for row in web[1:]), (
        "the worker's CPU is counted with the follow-ups"
    )
    stored = [row for row in rows if row["server"] != "bare Bolt" and "stored" in row["scenario"]]
    if database_url.startswith("sqlite"):
        assert all(row["database_cpu_us"] is None for row in rows), "SQLite works in the server"
    else:
        assert all(row["database_cpu_us"] > 0 for row in stored), "PostgreSQL's own CPU"
    assert all(
        len(row["idle_percent_per_core"]) == os.cpu_count()
        and all(0 <= idle <= 105 for idle in row["idle_percent_per_core"])
        for row in rows
    ), [row["idle_percent_per_core"] for row in rows]
    assert "ratio" in output and "idle % per core" in output


def test_the_benchmark_client_reads_answers_in_pieces_and_notices_a_closed_connection() -> None:
    """The driver's own HTTP client: statuses of answers that arrive split across reads, then
    a connection the server closed, which the driver counts as an error (never a hang)."""
    answers = [
        (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nCon", b"tent-Length: 2\r\n\r\n{}"),
        (b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",),
    ]
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for pieces in answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            received.append(head + await reader.readexactly(length))
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)
        writer.close()

    async def scenario() -> list[int | str]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/slack/events"
        sender = await LoopbackSender.connect(url)
        statuses: list[int | str] = []
        for body in (b"first", b"second", b"third"):
            try:
                statuses.append(await asyncio.wait_for(sender.post(body, {"X-A": "b"}), 5))
            except ConnectionError:
                statuses.append("closed")
        sender.close()
        server.close()
        return statuses

    assert asyncio.run(scenario()) == [200, 401, "closed"]
    assert received[0].startswith(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-A: b\r\nContent-Length: 5\r\n\r\nfirst" in received[0]
    assert received[1].endswith(b"\r\n\r\nsecond")


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 OK\r\n\r\n", b"garbage\r\n\r\n"])
def test_the_benchmark_client_refuses_an_answer_it_cannot_measure(answer: bytes) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        sender = await LoopbackSender.connect(url)
        with pytest.raises(ValueError, match="Content-Length"):
            await asyncio.wait_for(sender.post(b"", {}), 5)
        server.close()

    asyncio.run(scenario())


def test_summary_benchmark_generates_its_data_and_reports_against_the_baseline(
    tmp_path: Path,
) -> None:
    rows = run_scale_benchmark("bench.summary_scale", tmp_path)
    whats = [row["what"] for row in rows]
    assert whats[0].startswith("baseline") and len(whats) == 7
    assert whats[-1] == "summary of each of the 3 workspaces (median, slowest)"
    assert any(what.startswith("community health") for what in whats)
    assert all(row["p50_ms"] > 0 and row["vs_baseline"] > 0 for row in rows)


def test_search_benchmark_reports_every_word_against_the_baseline(tmp_path: Path) -> None:
    rows = run_scale_benchmark("bench.search_scale", tmp_path)
    assert [row["what"] for row in rows[:2]] == ["baseline: 10 latest", "word rank 0: the"]
    assert all(row["p95_ms"] > 0 for row in rows) and len(rows) == 2 * 7


def test_scheduling_benchmark_posts_each_due_prompt_once(tmp_path: Path) -> None:
    run_benchmark(
        "bench.scheduling_scale",
        tmp_path,
        *("--schedules", "60", "--due", "12", "--lead", "6", "--startups", "1"),
        "--skip-postgres",
    )
    [row] = json.loads(next(tmp_path.glob("scheduling_scale-*.json")).read_text())
    assert (row["posted"], row["posted_twice"], row["due"]) == (12, 0, 12)
    assert row["startup_empty_s"] > 0 and row["startup_loaded_s"] > 0 and row["rss_mb"] > 0


def test_memory_benchmark_samples_both_servers(tmp_path: Path) -> None:
    run_benchmark("bench.memory_growth", tmp_path, "--requests", "400", "--step", "200")
    series = json.loads(next(tmp_path.glob("memory_growth-*.json")).read_text())
    assert set(series) == {"bare Bolt", "LearnLoop"}
    assert all([sent for sent, _ in points] == [0, 200, 400] for points in series.values())
    assert all(rss > 0 for points in series.values() for _, rss in points)
