"""A smoke run of the benchmark with tiny sizes, so `make bench` cannot rot unnoticed."""

from __future__ import annotations

import json
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


def test_serve_stack_benchmark_runs_and_reports_every_scenario(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.serve_stack",
            "--seconds",
            "0.5",
            "--concurrency",
            "2",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    [written] = list(tmp_path.glob("serve_stack-sqlite-*.json"))
    rows = json.loads(written.read_text())
    assert {(row["server"], row["scenario"]) for row in rows} == {
        ("bare Bolt", "chatter (ignored messages)"),
        ("bare Bolt", "/til command (stored)"),
        ("LearnLoop", "chatter (ignored messages)"),
        ("LearnLoop", "TIL message (stored)"),
        ("LearnLoop", "/til command (stored)"),
    }
    assert all(row["requests"] > 0 and row["errors"] == 0 for row in rows), rows
    assert "ratio" in result.stdout


def test_summary_benchmark_generates_its_data_and_reports_against_the_baseline(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.summary_scale",
            "--sqlite-url",
            f"sqlite:///{tmp_path / 'data' / 'bench.db'}",
            "--skip-postgres",
            *SMOKE_SIZES,
            "--repeats",
            "2",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    [written] = list(tmp_path.glob("summary-*.json"))
    report = json.loads(written.read_text())
    assert report["sizes"]["tils"] == 2000
    whats = [row["what"] for row in report["results"]]
    assert whats[0].startswith("baseline") and len(whats) == 4
    assert all(row["p50_ms"] > 0 and row["vs_baseline"] > 0 for row in report["results"])


def test_search_benchmark_reports_every_word_against_the_baseline(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.search_scale",
            "--sqlite-url",
            f"sqlite:///{tmp_path / 'data' / 'bench.db'}",
            "--skip-postgres",
            *SMOKE_SIZES,
            "--repeats",
            "2",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    [written] = list(tmp_path.glob("search-*.json"))
    rows = json.loads(written.read_text())["results"]
    assert [row["what"] for row in rows[:2]] == ["baseline: 10 latest", "word rank 0: the"]
    assert all(row["p95_ms"] > 0 for row in rows) and len(rows) == 2 * 7
