"""A smoke run of the benchmark with tiny sizes, so `make bench` cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert [(row["server"], row["scenario"]) for row in rows] == [
        ("bare Bolt", "chatter (ignored messages)"),
        ("bare Bolt", "/til command (stored)"),
        *(("LearnLoop", scenario) for scenario in scenarios),
        *(("LearnLoop web", scenario) for scenario in scenarios),
        *(("web alone", scenario) for scenario in scenarios),
    ]
    assert all(row["requests"] > 0 and row["errors"] == 0 for row in rows), rows
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
