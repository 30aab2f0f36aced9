"""`make demo`'s script (scripts/demo.py) with --no-serve, end to end on the sample clips (SQLite, in a
temporary folder)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def test_demo_runs_and_writes_report(tmp_path):
    from demo import run_demo

    videos = ROOT / "sample_videos"
    if not list(videos.glob("*.zones.yaml")):
        pytest.skip("no sample clips committed yet")
    # No model in this folder: the demo must say so and fall back to the clips' ground truth.
    report = run_demo(host="127.0.0.1", port=0, serve=False, videos=videos, workdir=tmp_path / "demo",
                      model=tmp_path / "missing.onnx", edge_timeout_s=60)
    assert report["edge_mode"] == "ground-truth replay" and "no trained model" in report["edge_failure"]
    saved = json.loads((tmp_path / "demo" / "report.json").read_text())
    totals = saved["stats"]["totals"]
    assert totals["flagged"] >= 5 and totals["rejected"] == 1
    assert totals["self_rectified"] >= 1 and totals["escalated"] >= 1
    assert 0 < totals["self_rectification_rate"] < 1
    states = {c["state"] for c in saved["cases"]}
    assert {"rejected", "closed", "escalated"} <= states


def test_demo_script_refuses_a_missing_clip_folder_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--no-serve", "--videos",
                           str(tmp_path / "none"), "--workdir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f"demo: no sample clips in {tmp_path / 'none'}/ (NAME.mp4 + NAME.zones.yaml)"]
