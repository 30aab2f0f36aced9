"""End to end: CPU seconds per analysed stream-second of ``frontage analyze`` against the naive ultralytics loop.

Both are whole processes on the same sample clip (``sample_videos/market-street-day.mp4``: 960x540, 10 fps,
180 s), the same weights and the same input size (640, the model's own; both letterbox 960x540 into 640x384):

* Frontage — ``python -m detector analyze CLIP --zones ZONES --json OUT`` at its default 1 analysis/s:
  decode, the engine ``backend: auto`` chose (measured once before the rounds, then cached), tracking,
  zones, rules, episodes.
* Baseline — ``YOLO("models/frontage-n.pt").predict(source=CLIP, stream=True, vid_stride=10, imgsz=640)``,
  one frame in ten (1 frame/s on this clip), boxes only: no tracking, no zones, no episodes.

CPU time is the child process's user + system time (all its threads), startup and model load included: what
running the command costs. Each round also runs both on the clip's first 20 s (stream copy, same frames):
the difference between the two lengths is the steady-state rate with startup taken out. Rounds alternate
the commands, so load from other work on a shared box falls on both; the best round of each counts.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchError, Context, Row

CLIP = ROOT / "sample_videos" / "market-street-day.mp4"
ZONES = ROOT / "sample_videos" / "market-street-day.zones.yaml"
PT = ROOT / "models" / "frontage-n.pt"
ONNX = ROOT / "models" / "frontage-n.onnx"
IMGSZ = 640
VID_STRIDE = 10
SHORT_S = 20.0

NAIVE = """
import sys
from ultralytics import YOLO
model = YOLO(sys.argv[1])
n = sum(1 for _ in model.predict(source=sys.argv[2], stream=True, vid_stride=int(sys.argv[3]), imgsz=int(sys.argv[4]),
                                 verbose=False))
print(n)
"""


def _clip_seconds(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        return container.duration / 1_000_000


def head_of_clip(path: Path, seconds: float) -> Path:
    """The first ``seconds`` of a clip, packets copied (no re-encode), cached in var/bench/videos/."""
    import av

    out = ROOT / "var" / "bench" / "videos" / f"{path.stem}_first{seconds:g}s{path.suffix}"
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}")
    with av.open(str(path)) as src, av.open(str(tmp), "w", format="mp4") as dst:
        stream = src.streams.video[0]
        copy = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            if packet.pts is not None and float(packet.pts * stream.time_base) >= seconds:
                break
            packet.stream = copy
            dst.mux(packet)
    tmp.replace(out)
    return out


def timed_process(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(CPU s, wall s, stdout) of one child process run to the end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{' '.join(cmd[:4])} exited {proc.returncode}: {tail[:200]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.stdout


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    for needed in (CLIP, ZONES, PT, ONNX):
        if not needed.exists():
            raise BenchError(f"{needed.relative_to(ROOT)} missing")
    rounds = 2 if ctx.quick else 3
    stream_s = _clip_seconds(CLIP)
    data_dir = ROOT / "var" / "bench" / "engines"  # auto-selection's measurements, kept between runs
    env = {**os.environ, "FRONTAGE_DATA_DIR": str(data_dir), "YOLO_VERBOSE": "False"}
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "episodes.json"
        short = head_of_clip(CLIP, SHORT_S)
        short_s = _clip_seconds(short)

        def frontage(clip: Path) -> list[str]:
            return [sys.executable, "-m", "detector", "analyze", str(clip), "--zones", str(ZONES), "--json", str(out_json)]

        def naive(clip: Path) -> list[str]:
            return [sys.executable, "-c", NAIVE, str(PT), str(clip), str(VID_STRIDE), str(IMGSZ)]

        ctx.log("e2e: warm-up (auto-selection measures the engines once, the OS caches the files)")
        timed_process(frontage(short), env)
        timed_process(naive(short), env)
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        ours_short: list[float] = []
        theirs_short: list[float] = []
        naive_frames = 0
        for r in range(rounds):
            ctx.log(f"e2e: round {r + 1}/{rounds}: frontage analyze")
            ours_short.append(timed_process(frontage(short), env)[0])
            cpu, wall, _ = timed_process(frontage(CLIP), env)
            ours.append((cpu, wall))
            ctx.log(f"e2e: round {r + 1}/{rounds}: naive ultralytics loop")
            theirs_short.append(timed_process(naive(short), env)[0])
            cpu, wall, stdout = timed_process(naive(CLIP), env)
            theirs.append((cpu, wall))
            naive_frames = int(stdout.strip().splitlines()[-1])
        result = json.loads(out_json.read_text())
    engines: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):  # the engine's name is informative only
        engines = json.loads((data_dir / "engines.json").read_text())
    choice = next((e.get("choice") for e in engines.values() if e.get("model", "").endswith(ONNX.name)), None)
    ours_cpu = min(c for c, _ in ours) / stream_s
    theirs_cpu = min(c for c, _ in theirs) / stream_s
    # steady state: (long - short) / (long - short seconds), each from its best round
    ours_rate = (min(c for c, _ in ours) - min(ours_short)) / (stream_s - short_s)
    theirs_rate = (min(c for c, _ in theirs) - min(theirs_short)) / (stream_s - short_s)
    details = {
        "clip": str(CLIP.relative_to(ROOT)), "stream_s": stream_s, "imgsz": IMGSZ, "rounds": rounds,
        "frontage_frames": result.get("frames"), "frontage_episodes": len(result.get("episodes", [])),
        "frontage_imgsz": result.get("imgsz"), "engine": choice, "naive_frames": naive_frames,
        "frontage_cpu_s_rounds": [round(c, 2) for c, _ in ours], "frontage_wall_s_rounds": [round(w, 2) for _, w in ours],
        "naive_cpu_s_rounds": [round(c, 2) for c, _ in theirs], "naive_wall_s_rounds": [round(w, 2) for _, w in theirs],
        "short_s": short_s, "frontage_short_cpu_s_rounds": [round(c, 2) for c in ours_short],
        "naive_short_cpu_s_rounds": [round(c, 2) for c in theirs_short],
        "startup_cpu_s": {"frontage": round(min(c for c, _ in ours) - ours_rate * stream_s, 2),
                          "naive": round(min(c for c, _ in theirs) - theirs_rate * stream_s, 2)},
    }
    rows = [Row(
        what="CPU s per analysed stream-second, whole command", project=ours_cpu, baseline=theirs_cpu, unit="CPU s/s",
        higher_is_better=False, project_label=f"frontage analyze, {choice or 'auto'}, 1 frame/s",
        baseline_label=f"YOLO(pt).predict(stream, vid_stride={VID_STRIDE})",
        note=f"{CLIP.name} {stream_s:.0f} s, imgsz {IMGSZ}, {result.get('frames')} vs {naive_frames} frames, "
             f"episodes {len(result.get('episodes', []))} vs none; startup included"),
        Row(what="CPU s per analysed stream-second, steady state", project=ours_rate, baseline=theirs_rate,
            unit="CPU s/s", higher_is_better=False, project_label=f"frontage analyze, {choice or 'auto'}",
            baseline_label="the same loop",
            note=f"({stream_s:.0f} s run - {short_s:.0f} s run) / {stream_s - short_s:.0f} s: startup taken out "
                 f"(startup {details['startup_cpu_s']['frontage']:.1f} vs {details['startup_cpu_s']['naive']:.1f} CPU s)")]
    return rows, details
