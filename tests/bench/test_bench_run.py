"""Smoke tests of the benchmark runner: it runs a cheap benchmark end to end and writes its results; the
table generator keeps the prose of BENCHMARKS.md. No figure is asserted (speed belongs in bench/, not tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import TABLE_END, TABLE_START, BenchResult, Row, render_table, write_table  # noqa: E402


def test_quick_decode_benchmark_runs_and_writes_results(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    # Short generated clips (4 s) keep this a smoke test; the real run uses 20 s clips.
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--only", "decode", "--clip-seconds", "4", "--no-table",
         "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(results.read_text())["benchmarks"]["decode"]
    assert data["error"] is None
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert {r["project_label"] for r in data["rows"]} == {
        "decode-and-drop", "keyframes only", "keyframes only, 1 decoder thread", "keyframes only, 1 thread, 640 px wide",
        # issue 18's decode levers (bench/decode.py): the loop filter, the adaptive interval, both, box agreement
        "loop filter skipped", "keyframes only, 1 thread, loop filter skipped", "adaptive interval",
        "adaptive interval + loop filter skipped", "skip_loop_filter: true"}
    timed = [r for r in data["rows"] if r["unit"] != "agreement"]
    assert all(r["project"] > 0 and r["baseline"] > 0 for r in timed)
    (agreement,) = [r for r in data["rows"] if r["unit"] == "agreement"]
    assert 0 <= agreement["project"] <= 1 and agreement["baseline"] is None


def test_unknown_benchmark_is_one_clear_line() -> None:
    proc = subprocess.run([sys.executable, "bench/run.py", "--only", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: unknown benchmark 'nope' (choose from inference, streams, decode, cases, gpu, engines, e2e)"]


def test_table_is_replaced_between_markers_and_prose_kept(tmp_path: Path) -> None:
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# Benchmarks\n\nintro\n\n{TABLE_START}\nold table\n{TABLE_END}\n\n## Analysis\nkept\n")
    result = BenchResult(name="decode", rows=[Row(what="decode CPU", project=0.02, baseline=0.08, unit="CPU s/s",
                                                  higher_is_better=False)],
                         machine={"cpu": "Test CPU", "cores": 2}, date="2026-01-01 00:00 UTC",
                         command="python bench/run.py --only decode")
    error = BenchResult(name="gpu", rows=[], error="not run: no GPU on this machine", machine={"cpu": "Test CPU"})
    write_table(render_table({"decode": result, "gpu": error}, ["decode", "gpu"]), md)
    text = md.read_text()
    assert "old table" not in text and "intro" in text and "## Analysis\nkept" in text
    assert "**4.00×**" in text  # 0.08 / 0.02: lower is better
    assert "not run: no GPU on this machine" in text
