"""End to end: CPU seconds per analysed stream-second of ``frontage analyze`` (and of N edge cameras) against the
naive ultralytics loop.

All are whole processes on the same sample clip (``sample_videos/market-street-day.mp4`` and
``rainy-lane.mp4``: 960x540, 10 fps, a keyframe every 2 s, 180 s and 160 s), the same weights and the same
input size (640, the model's own; both letterbox 960x540 into 640x384):

* Frontage — ``python -m detector analyze CLIP --zones ZONES --json OUT`` at its default 1 analysis/s:
  decode, the engine ``backend: auto`` chose (measured once before the rounds, then cached), tracking,
  zones, rules, episodes.
* N edge cameras — the real ``EdgeRuntime`` (``frontage edge``'s loop: batcher, outbox, health reporter) with
  N file cameras of the clip read as fast as possible (``realtime: false``), until their ends
  (``python -m bench.e2e --edge N CLIP ZONES``); CPU per analysed stream-second = CPU / (N x clip length).
* Every lever on — the same pipeline as analyze (``analysis_config`` + ``build_pipeline``) with every lever of
  ``bench.streams.LEVERS`` switched on (``python -m bench.e2e --profile --all-levers CLIP``): what the levers
  buy end to end while some are still off by default; its stage profile comes with it.
* Baseline — ``YOLO("models/frontage-n.pt").predict(source=CLIP, stream=True, vid_stride=10, imgsz=640)``,
  one frame in ten (1 frame/s on this clip), boxes only: no tracking, no zones, no episodes. N such loops
  cost N times one (nothing is shared between them), so one loop is the baseline per stream.

CPU time is the child process's user + system time (all its threads), startup and model load included: what
running the command costs. Each round also runs both on the clip's first 20 s (stream copy, same frames):
the difference between the two lengths is the steady-state rate with startup taken out. Rounds alternate
the commands (and the clips), so load from other work on a shared box falls on all; the best round of each
counts.

Where ``frontage analyze``'s CPU goes (``python -m bench.e2e --profile [CLIP]``): one in-process run of the same
pipeline (``analyze_video``) with process CPU time taken around each stage: imports, model load (with auto's
cached choice), decode (the camera's next frame), gate, letterbox + box decode/NMS, the model run, tracker,
rules (class map, zones, episode rules, evidence).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    BenchError,
    Context,
    Overrides,
    Row,
    apply_overrides,
    cpu_seconds,
    describe,
    parse_set,
)

CPU_AT_IMPORT = cpu_seconds()  # --profile: what the interpreter took before this module (imports counted after)
CLIPS = ("market-street-day", "rainy-lane")  # rainy-lane: the clip of the Intel measurement
CLIP = ROOT / "sample_videos" / "market-street-day.mp4"
ZONES = ROOT / "sample_videos" / "market-street-day.zones.yaml"
EDGE_CAMERAS = 4
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


def _clip_files(name: str) -> tuple[Path, Path]:
    return ROOT / "sample_videos" / f"{name}.mp4", ROOT / "sample_videos" / f"{name}.zones.yaml"


def _engine_of(data_dir: Path) -> str | None:
    """The engine auto chose for the shipped model on this machine (informative only)."""
    try:
        engines = json.loads((data_dir / "engines.json").read_text())
    except (OSError, ValueError):
        return None
    return next((e.get("choice") for e in engines.values() if e.get("model", "").endswith(ONNX.name)), None)


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    clips = [_clip_files(name) for name in (CLIPS[:1] if ctx.quick else CLIPS)]
    for needed in (PT, ONNX, *(p for pair in clips for p in pair)):
        if not needed.exists():
            raise BenchError(f"{needed.relative_to(ROOT)} missing")
    rounds = 2 if ctx.quick else 3
    data_dir = ROOT / "var" / "bench" / "engines"  # auto-selection's measurements, kept between runs
    env = {**os.environ, "FRONTAGE_DATA_DIR": str(data_dir), "YOLO_VERBOSE": "False"}
    details: dict[str, Any] = {"imgsz": IMGSZ, "rounds": rounds, "clips": {}}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "episodes.json"

        def frontage(clip: Path, zones: Path) -> list[str]:
            return [sys.executable, "-m", "detector", "analyze", str(clip), "--zones", str(zones), "--json", str(out_json)]

        def naive(clip: Path) -> list[str]:
            return [sys.executable, "-c", NAIVE, str(PT), str(clip), str(VID_STRIDE), str(IMGSZ)]

        def levers(clip: Path, zones: Path) -> list[str]:  # analyze's pipeline, every lever of bench.streams on
            return [sys.executable, "-m", "bench.e2e", "--profile", "--all-levers", str(clip), str(zones)]

        def edge(clip: Path, zones: Path) -> list[str]:
            return [sys.executable, "-m", "bench.e2e", "--edge", str(EDGE_CAMERAS), str(clip), str(zones)]

        ctx.log("e2e: warm-up (auto-selection measures the engines once, the OS caches the files)")
        shorts = {clip: head_of_clip(clip, SHORT_S) for clip, _ in clips}
        timed_process(frontage(shorts[clips[0][0]], clips[0][1]), env)
        timed_process(naive(shorts[clips[0][0]]), env)
        cpu: dict[tuple[str, str, str], list[float]] = {}  # (clip, command, long|short) -> CPU s per round
        wall: dict[tuple[str, str], list[float]] = {}
        results: dict[str, dict[str, Any]] = {}
        naive_frames: dict[str, int] = {}
        profiles: dict[str, dict[str, Any]] = {}  # the all-levers runs: their stages
        edge_out: dict[str, Any] = {}
        for r in range(rounds):
            for clip, zones in clips:
                commands = [("frontage", frontage(clip, zones), frontage(shorts[clip], zones)),
                            ("naive", naive(clip), naive(shorts[clip])),
                            ("levers", levers(clip, zones), levers(shorts[clip], zones))]
                if clip == clips[0][0] and not ctx.quick:
                    commands.append(("edge", edge(clip, zones), None))
                for what, long_cmd, short_cmd in (commands if r % 2 == 0 else commands[::-1]):
                    ctx.log(f"e2e: round {r + 1}/{rounds}: {clip.name}: {what}")
                    if short_cmd is not None:
                        cpu.setdefault((clip.name, what, "short"), []).append(timed_process(short_cmd, env)[0])
                    c, w, stdout = timed_process(long_cmd, env)
                    cpu.setdefault((clip.name, what, "long"), []).append(c)
                    wall.setdefault((clip.name, what), []).append(w)
                    if what == "frontage":
                        results[clip.name] = json.loads(out_json.read_text())
                    elif what == "naive":
                        naive_frames[clip.name] = int(stdout.strip().splitlines()[-1])
                    elif what == "levers":
                        profiles[clip.name] = json.loads(stdout)
                    else:
                        edge_out = json.loads(stdout.strip().splitlines()[-1])
    engine = _engine_of(data_dir)
    for clip, _ in clips:
        stream_s = _clip_seconds(clip)
        short_s = _clip_seconds(shorts[clip])
        best = {what: min(cpu[(clip.name, what, "long")]) for what in ("frontage", "naive", "levers")}
        rate = {what: (best[what] - min(cpu[(clip.name, what, "short")])) / (stream_s - short_s)
                for what in ("frontage", "naive", "levers")}
        result = results[clip.name]
        ran = result.get("engine") or engine or "auto"
        startup = {what: round(best[what] - rate[what] * stream_s, 2) for what in best}
        details["clips"][clip.name] = {
            "stream_s": stream_s, "short_s": short_s, "engine": ran, "frontage_frames": result.get("frames"),
            "frontage_inferred": result.get("frames_inferred"), "frontage_gated": result.get("frames_gated"),
            "frontage_episodes": len(result.get("episodes", [])), "frontage_imgsz": result.get("imgsz"),
            "naive_frames": naive_frames[clip.name], "startup_cpu_s": startup,
            **{f"{what}_{kind}_cpu_s_rounds": [round(c, 2) for c in cpu[(clip.name, what, kind)]]
               for what in ("frontage", "naive", "levers") for kind in ("long", "short")},
            **{f"{what}_wall_s_rounds": [round(w, 2) for w in wall[(clip.name, what)]]
               for what in ("frontage", "naive", "levers")},
            "levers_profile": profiles[clip.name],
        }
        inferred = f"model on {result.get('frames_inferred')} of {result.get('frames')}"
        rows.append(Row(
            what=f"CPU s per analysed stream-second, whole command, {clip.name}", project=best["frontage"] / stream_s,
            baseline=best["naive"] / stream_s, unit="CPU s/s", higher_is_better=False,
            project_label=f"frontage analyze, {ran}, 1 frame/s, {inferred}",
            baseline_label=f"YOLO(pt).predict(stream, vid_stride={VID_STRIDE})",
            note=f"{stream_s:.0f} s clip, imgsz {IMGSZ}, {result.get('frames')} vs {naive_frames[clip.name]} frames, "
                 f"episodes {len(result.get('episodes', []))} vs none; startup included"))
        rows.append(Row(
            what=f"CPU s per analysed stream-second, steady state, {clip.name}", project=rate["frontage"],
            baseline=rate["naive"], unit="CPU s/s", higher_is_better=False, project_label=f"frontage analyze, {ran}",
            baseline_label="the same loop",
            note=f"({stream_s:.0f} s run - {short_s:.0f} s run) / {stream_s - short_s:.0f} s: startup taken out "
                 f"(startup {startup['frontage']:.1f} vs {startup['naive']:.1f} CPU s)"))
        prof = profiles[clip.name]
        rows.append(Row(
            what=f"CPU s per analysed stream-second, every lever on, {clip.name}", project=best["levers"] / stream_s,
            baseline=best["naive"] / stream_s, unit="CPU s/s", higher_is_better=False,
            project_label=f"analyze's pipeline, {prof['engine']}, model on {prof['frames_inferred']} of "
                          f"{prof['frames']}, {prof['episodes']} episodes",
            baseline_label=f"YOLO(pt).predict(stream, vid_stride={VID_STRIDE})",
            note=f"python -m bench.e2e --profile --all-levers ({describe(prof['overrides'])}); steady state "
                 f"{rate['levers']:.3f} vs {rate['naive']:.3f} ({rate['naive'] / rate['levers']:.2f}x)"))
        if (clip.name, "edge", "long") in cpu:
            best_edge = min(cpu[(clip.name, "edge", "long")])
            details["clips"][clip.name]["edge"] = {
                "cameras": EDGE_CAMERAS, "cpu_s_rounds": [round(c, 2) for c in cpu[(clip.name, "edge", "long")]],
                "wall_s_rounds": [round(w, 2) for w in wall[(clip.name, "edge")]], **edge_out}
            rows.append(Row(
                what=f"CPU s per analysed stream-second, {EDGE_CAMERAS} edge cameras, {clip.name}",
                project=best_edge / (EDGE_CAMERAS * stream_s), baseline=best["naive"] / stream_s, unit="CPU s/s",
                higher_is_better=False,
                project_label=f"EdgeRuntime, {EDGE_CAMERAS} file cameras, {edge_out.get('engine', ran)}, "
                              f"model on {edge_out.get('frames_inferred')} of {edge_out.get('frames')}",
                baseline_label="one naive loop per stream",
                note=f"{EDGE_CAMERAS} x {stream_s:.0f} s, one process, startup included"))
    return rows, details


# -- the N-camera edge (a child process of run) -------------------------------------------------------
def run_edge(n: int, clip: Path, zones: Path) -> dict[str, Any]:
    """The real edge loop with ``n`` file cameras of ``clip`` read as fast as possible, to their ends."""
    import logging

    from detector.config import EdgeConfig
    from detector.pipeline.live import EdgeRuntime

    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = EdgeConfig.model_validate({
            "service_url": "http://127.0.0.1:9",  # nothing listens: the events wait in the outbox
            "device_id": "bench-edge", "device_key": "fe_bench", "model": {"path": str(ONNX)},
            "cameras": [{"id": f"cam-{i:02d}", "url": str(clip), "zones": str(zones), "realtime": False}
                        for i in range(n)],
            "outbox": str(Path(tmp) / "outbox.db"), "evidence_dir": str(Path(tmp) / "evidence"),
        })
        runtime = EdgeRuntime(cfg, exit_when_done=True, drain_timeout_s=0.2)
        code = runtime.run()  # 3: the outbox was not delivered (no service): expected here
        counts = [f.counts for f in runtime.feeds]
        return {"exit": code, "engine": getattr(runtime.backend, "backend", None),
                "frames": sum(c.frames for c in counts), "frames_inferred": sum(c.inferred for c in counts),
                "events": sum(c.events for c in counts)}


# -- where analyze's CPU goes (a child process: imports count) ------------------------------------------
def profile_analyze(clip: Path, zones: Path, overrides: Overrides | None = None) -> dict[str, Any]:
    """One ``analyze_video``-equivalent run with process CPU time taken around each stage (see the module doc);
    ``overrides``: dotted config keys on analyze's config (``{"gating.mode": "static"}``)."""
    at_start = CPU_AT_IMPORT  # the interpreter and bench.common
    from detector.config import PipelineConfig
    from detector.gating import MotionGate
    from detector.pipeline.build import build_pipeline, load_model
    from detector.pipeline.offline import ReportSink, analysis_config

    after_imports = cpu_seconds()
    cfg = analysis_config(clip, zones)
    if overrides:
        cfg = PipelineConfig.model_validate(apply_overrides(cfg.model_dump(), overrides))
    backend, classmap = load_model(cfg)
    after_model = cpu_seconds()
    spent: dict[str, float] = {}

    def timed(obj: Any, attr: str, bucket: str) -> None:
        inner = getattr(obj, attr)

        def wrapper(*a: Any, **k: Any) -> Any:
            t = cpu_seconds()
            try:
                return inner(*a, **k)
            finally:
                spent[bucket] = spent.get(bucket, 0.0) + cpu_seconds() - t

        setattr(obj, attr, wrapper)

    pipeline = build_pipeline(cfg, ReportSink(), model=(backend, classmap), keep_episodes=True, file_attempts=1)
    (feed,) = pipeline.feeds
    timed(feed.camera, "latest", "decode (next analysis frame)")
    if hasattr(backend, "_run"):
        timed(backend, "_run", "model run")
    timed(backend, "infer", "engine call")  # model run + letterbox + box decode/NMS
    if pipeline.batcher.trackers is not None:
        timed(pipeline.batcher.trackers, "update", "tracker")
    timed(feed.analyzer, "process", "rules (class map, zones, episodes, evidence)")
    for method in ("should_infer", "mark_inferred"):  # class level: the batcher makes its gates lazily
        timed(MotionGate, method, "gate")
    before_loop = cpu_seconds()
    try:
        pipeline.run()
    finally:
        pipeline.close()
    end = cpu_seconds()
    stages = {"interpreter start": at_start, "imports": after_imports - at_start,
              "model load (auto's cached choice)": after_model - after_imports,
              "pipeline build (camera open)": before_loop - after_model}
    engine_call = spent.pop("engine call", 0.0)
    run_s = spent.get("model run", 0.0)
    spent["letterbox + box decode/NMS"] = engine_call - run_s
    stages.update(spent)
    stages["loop, other (batcher, counts)"] = (end - before_loop) - sum(spent.values())
    return {"clip": clip.name, "overrides": overrides or {}, "engine": backend.backend, "frames": feed.analyzer.frames,
            "episodes": len(feed.analyzer.episodes),
            "episode_list": sorted(([e["zone"], e["category"], e["start_s"], e["end_s"]]
                                    for e in (ep.as_json() for ep in feed.analyzer.episodes.values())),
                                   key=lambda e: (e[0], e[1], e[2])),
            "frames_inferred": feed.counts.inferred, "cpu_s_total": round(end, 3),
            "stages_cpu_s": {k: round(v, 3) for k, v in stages.items()},
            "stages_share": {k: round(v / end, 3) for k, v in stages.items()}}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="e2e helpers: the N-camera edge child, or the profile of analyze")
    parser.add_argument("--edge", type=int, default=None, metavar="N", help="run N edge file cameras of CLIP")
    parser.add_argument("--profile", action="store_true", help="where frontage analyze's CPU goes, by stage")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="--profile: config override, dotted (cameras[]. = every camera); repeatable")
    parser.add_argument("--all-levers", action="store_true", help="--profile: every lever of bench.streams on")
    parser.add_argument("clip", type=Path, nargs="?", default=CLIP)
    parser.add_argument("zones", type=Path, nargs="?", default=None, help="default: CLIP's .zones.yaml")
    args = parser.parse_args(argv)
    zones = args.zones or args.clip.with_suffix(".zones.yaml")
    if args.edge:
        print(json.dumps(run_edge(args.edge, args.clip, zones)))
    elif args.profile:
        overrides: Overrides = {}
        if args.all_levers:
            from bench.streams import all_on, available_levers

            overrides = all_on(available_levers()[0])
        overrides.update(parse_set(args.set))
        print(json.dumps(profile_analyze(args.clip, zones, overrides), indent=1))
    else:
        parser.error("--edge N or --profile")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
