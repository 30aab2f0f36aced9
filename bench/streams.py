"""Streams per box: how many 1280x720 H.264 cameras (25 fps) one box analyses at 1 frame/s each, on time.

The real edge loop runs: ``detector.pipeline.live.EdgeRuntime`` with an edge.yaml of N cameras (``LiveCamera``
threads, keyframe-only decode chosen automatically, motion gate, Batcher, ONNX Runtime, tracker, rules,
outbox). The cameras are the generated street clip played in real time and looped (``realtime: true,
loop: true``), or the same clip served by the GStreamer RTSP server (``tests/helpers/rtsp_server.py``).

"On time", per camera, over the measured window (after a warm-up): it got at least 90% of its analysis
frames, and at most one missing (nothing starved) and no analysed frame was more than 2 s late. Lateness of a frame = when its
result reached the rules minus when the camera played it (file cameras: the camera's start + media time;
the camera's smallest lateness, the time it took to open, is taken off; RTSP cameras stamp frames when
they are decoded, so there lateness starts at decode).

Two scenes: the busy street (people walking all the time: every analysed frame has motion, the gate never
skips) and the quiet street (the same street frozen, only sensor noise: what motion gating is for).

The edge loop is measured as is; the only hook is a subclass that records when each result reaches the rules
(``_handle``). Variants are edge.yaml switches (``keyframes: all``, ``gating.enabled: false``).

One probe at a fixed N, e.g. for profiling or an A/B of a camera option (CPU per stream, lateness, and the
cores of camera threads vs the edge loop vs native pools)::

    python -m bench.streams --n 24 --scene quiet [--analysis-width 640] [--decoder-threads 0] [--model x.onnx]
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import ROOT, BenchError, Context, Row, cpu_seconds, percentile
from bench.inference import model_files, model_imgsz
from bench.videos import repeated_clip, street_clip, zones_file

WORK = ROOT / "var" / "bench" / "streams"
LATE_S = 2.0
MIN_SHARE = 0.9


def write_config(n: int, urls: list[str], onnx_path: Path, imgsz: int, gating: bool, tag: str,
                 camera_options: dict[str, Any] | None = None) -> Path:
    """edge.yaml for ``n`` cameras; ``camera_options`` go into every camera entry (e.g. ``keyframes: all``)."""
    WORK.mkdir(parents=True, exist_ok=True)
    cameras = []
    for i in range(n):
        cam_id = f"cam-{i:03d}"
        entry: dict[str, Any] = {"id": cam_id, "url": urls[i % len(urls)], "analysis_fps": 1.0,
                                 "zones": str(zones_file(WORK / "x", cam_id)), **(camera_options or {})}
        if "://" not in entry["url"]:
            entry.update(realtime=True, loop=True)
        cameras.append(entry)
    outbox = WORK / f"outbox-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{outbox}{suffix}").unlink(missing_ok=True)
    cfg = {
        "service_url": "http://127.0.0.1:9",  # nothing listens: events (if any) wait in the outbox
        "device_id": "bench-edge", "device_key": "fe_bench",
        "model": {"path": str(onnx_path), "imgsz": imgsz, "max_batch": 8},
        "classes": str(ROOT / "models" / "frontage-n.classes.yaml"),
        "batch": {"max_batch": 8, "max_wait_ms": 50},
        "gating": {"enabled": gating},
        "cameras": cameras, "outbox": str(outbox), "evidence_dir": str(WORK / "evidence"),
        "clip_s": 0,  # no evidence clip ring: it only holds memory (8 frames per camera)
        "model_check_s": 3600,
    }
    path = WORK / f"edge-{tag}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def thread_cpu_seconds(named: dict[int, str]) -> dict[str, float]:
    """CPU seconds of this process's threads (Linux /proc), by role: the Python threads in ``named`` (native
    id -> role) and "native" for the rest (ffmpeg decoder threads, ONNX Runtime's pool). Empty elsewhere."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        role = named.get(int(tid), "native")
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return out


class _GcTimer:
    """Wall time spent in Python's garbage collector (all generations) while started."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._t: float | None = None

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        elif self._t is not None:
            self.seconds += time.perf_counter() - self._t
            self.full += info.get("generation") == 2
            self._t = None

    def start(self) -> _GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def _thread_roles() -> dict[int, str]:
    roles = {}
    for t in threading.enumerate():
        if t.native_id is None:
            continue
        name = t.name
        roles[t.native_id] = ("camera threads" if name.startswith("camera-") else
                              "edge loop" if name == "edge-runtime" else "other python")
    return roles


def probe(n: int, urls: list[str], *, gating: bool = True, keyframes: bool = True, warmup_s: float = 8.0,
          window_s: float = 20.0, model: Path | None = None, camera_options: dict[str, Any] | None = None,
          imgsz: int | None = None, log: Any = print) -> dict[str, Any]:
    """Run the edge with ``n`` cameras for ``warmup_s + window_s``; per-camera timeliness and CPU.

    ``model``: another ONNX file than the shipped one (e.g. a dynamic-size twin, to see the rectangular
    letterbox before the shipped model is re-exported). ``camera_options``: extra edge.yaml camera fields
    (``analysis_width``, ``decoder_threads``, ...); ``keyframes=False`` is ``keyframes: all``."""
    from detector.config import load_edge_config
    from detector.pipeline.live import EdgeRuntime

    pt, onnx_path, shipped = model_files()
    del pt
    imgsz = imgsz or model_imgsz(onnx_path)  # default: the model's own operating size
    if model is not None:
        onnx_path, shipped = model.resolve(), False
    options = dict(camera_options or {})
    if not keyframes:
        options["keyframes"] = "all"
    cfg = load_edge_config(write_config(n, urls, onnx_path, imgsz, gating, f"{n}", options))
    records: list[tuple[str, float, float]] = []  # (camera, pts_s, monotonic when the rules got it)

    class TimedRuntime(EdgeRuntime):
        def _handle(self, feed, frame, detections):  # type: ignore[no-untyped-def]
            records.append((feed.id, frame.pts_s, time.monotonic()))
            super()._handle(feed, frame, detections)

    runtime = TimedRuntime(cfg, drain_timeout_s=0.5)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runtime.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="edge-runtime", daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 60
        while not runtime.feeds or len(runtime.feeds) < n:  # model load + camera opens
            if errors or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if errors:
            raise BenchError(f"the edge runtime failed: {errors[0]}")
        while time.monotonic() < deadline and not all(  # every camera open and delivering (opens probe the GOP)
                f.live is None or f.live.stats.healthy for f in runtime.feeds):  # type: ignore[attr-defined]
            time.sleep(0.05)
        starts = {f.id: f.live._t0 for f in runtime.feeds if f.live is not None}  # type: ignore[attr-defined]
        time.sleep(warmup_s)
        roles = _thread_roles()
        threads0 = thread_cpu_seconds(roles)
        gc_timer = _GcTimer().start()
        cpu0, t0 = cpu_seconds(), time.monotonic()
        batches0, inferred0, skipped0 = runtime.batcher.batches, runtime.batcher.frames_inferred, runtime.batcher.frames_skipped
        time.sleep(window_s)
        cpu1, t1 = cpu_seconds(), time.monotonic()
        threads1 = thread_cpu_seconds(roles)
        gc_timer.stop()
        batcher = runtime.batcher
        counters = (batcher.batches - batches0, batcher.frames_inferred - inferred0, batcher.frames_skipped - skipped0)
        dropped = sum(f.live.stats.frames_dropped for f in runtime.feeds if f.live is not None)  # type: ignore[attr-defined]
        keyframes_only = sum(bool(f.live.stats.keyframes_only) for f in runtime.feeds if f.live is not None)  # type: ignore[attr-defined]
        unhealthy = [f.id for f in runtime.feeds if f.live is not None and not f.live.stats.healthy]  # type: ignore[attr-defined]
    finally:
        runtime.stop()
        thread.join(30)
    if errors:
        raise BenchError(f"the edge runtime failed: {errors[0]}")
    lateness: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for cam, pts, at in records:
        late = at - (starts.get(cam, t0) + pts)
        lateness.setdefault(cam, []).append(late)
        if t0 <= at < t1:
            counts[cam] = counts.get(cam, 0) + 1
    late_in_window: list[float] = []
    latest_frames: list[tuple[float, str, float]] = []  # (lateness, camera, pts): where the tail comes from
    worst: dict[str, float] = {}
    for cam, values in lateness.items():
        offset = min(values)  # time to open the camera
        window = [(v - offset, pts) for (c, pts, at), v in zip([r for r in records if r[0] == cam], values, strict=True)
                  if t0 <= at < t1]
        latest_frames += [(late, cam, pts) for late, pts in window]
        window = [late for late, _ in window]
        late_in_window += window
        worst[cam] = max(window) if window else float("inf")
    expected = window_s * 1.0
    cams = [f"cam-{i:03d}" for i in range(n)]
    # a window of k seconds holds k or k-1 analysis instants depending on phase: allow one missing frame
    starved = [c for c in cams if counts.get(c, 0) < expected - max(1.0, (1 - MIN_SHARE) * expected)]
    too_late = [c for c in cams if worst.get(c, float("inf")) > LATE_S]
    result = {
        "n": n, "gating": gating, "keyframes_only_requested": keyframes, "window_s": round(t1 - t0, 1),
        "cpu_cores": round((cpu1 - cpu0) / (t1 - t0), 3), "cpu_per_stream": round((cpu1 - cpu0) / (t1 - t0) / n, 4),
        "analysed_per_cam_min": min(counts.get(c, 0) for c in cams), "expected_per_cam": expected,
        "lateness_p50_s": round(percentile(late_in_window, 50), 3) if late_in_window else None,
        "lateness_p99_s": round(percentile(late_in_window, 99), 3) if late_in_window else None,
        "lateness_max_s": round(max(late_in_window), 3) if late_in_window else None,
        "batches": counters[0], "frames_inferred": counters[1], "frames_skipped_by_gate": counters[2],
        "slot_drops": dropped, "cameras_keyframes_only": keyframes_only, "unhealthy": unhealthy[:5],
        "starved": len(starved), "late": len(too_late), "shipped_model": shipped,
        "camera_options": options,
        "latest_frames": [{"camera": c, "pts_s": round(p, 2), "late_s": round(v, 3)}
                          for v, c, p in sorted(latest_frames, reverse=True)[:8]],
        # cores per role: camera threads = demux + decode + BGR conversion (one decoder thread each);
        # edge loop = gate, letterbox, the ONNX Runtime call's own thread, tracker, rules, outbox
        "gc_share_of_cpu": round(gc_timer.seconds / max(1e-9, cpu1 - cpu0), 4), "gc_full_collections": gc_timer.full,
        "cores_by_thread": {role: round((threads1.get(role, 0.0) - threads0.get(role, 0.0)) / (t1 - t0), 3)
                            for role in sorted(set(threads0) | set(threads1))},
    }
    result["on_time"] = not starved and not too_late and not unhealthy
    log(f"streams: N={n} gating={gating} keyframes={keyframes}: on_time={result['on_time']} "
        f"cpu/stream={result['cpu_per_stream']:.3f} lateness p99={result['lateness_p99_s']} s "
        f"min analysed {result['analysed_per_cam_min']}/{expected:.0f} inferred={counters[1]} skipped={counters[2]}")
    return result


def find_capacity(urls: list[str], candidates: list[int], ctx: Context, bisect_steps: int = 2,
                  **kw: Any) -> tuple[int, list[dict[str, Any]]]:
    """Largest on-time N: up ``candidates`` (ascending) until one fails, then a few bisection steps."""
    probes: list[dict[str, Any]] = []
    good = 0
    bad: int | None = None
    for n in candidates:
        r = probe(n, urls, log=ctx.log, **kw)
        probes.append(r)
        if r["on_time"]:
            good = n
        else:
            bad = n
            break
    for _ in range(bisect_steps if not ctx.quick else 0):
        if bad is None or bad - good <= max(2, good // 8):
            break
        mid = (good + bad) // 2 if good else max(1, bad // 2)
        r = probe(mid, urls, log=ctx.log, **kw)
        probes.append(r)
        if r["on_time"]:
            good = mid
        else:
            bad = mid
    return good, probes


def _probe_at(probes: list[dict[str, Any]], n: int, urls: list[str], ctx: Context, **kw: Any) -> dict[str, Any]:
    return next((p for p in probes if p["n"] == n), None) or probe(n, urls, log=ctx.log, **kw)


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    logging.getLogger("frontage").setLevel(logging.WARNING)
    busy = str(street_clip(1.0))
    quiet = str(street_clip(1.0, quiet=True))
    details: dict[str, Any] = {"late_s": LATE_S, "min_share": MIN_SHARE}
    rows: list[Row] = []
    if ctx.quick:
        kw = {"warmup_s": 3.0, "window_s": 8.0}
        ladder = [4]
    else:
        kw = {"warmup_s": 5.0, "window_s": 15.0}
        ladder = [8, 16, 32, 48, 64]
    cap_busy, probes_busy = find_capacity([busy], ladder, ctx, **kw)
    details["busy_gop1"] = {"capacity": cap_busy, "probes": probes_busy}
    cap_quiet, probes_quiet = find_capacity([quiet], [n for n in ladder if n >= cap_busy] or ladder, ctx, **kw)
    details["quiet_gop1"] = {"capacity": cap_quiet, "probes": probes_quiet}
    # where the variants run: at the capacity found, or the smallest N tried when none was on time
    n_busy = cap_busy or min(p["n"] for p in probes_busy)
    n_quiet = cap_quiet or min(p["n"] for p in probes_quiet)
    base_busy = _probe_at(probes_busy, n_busy, [busy], ctx, **kw)
    base_quiet = _probe_at(probes_quiet, n_quiet, [quiet], ctx, **kw)
    for scene, cap, base, n in (("busy street", cap_busy, base_busy, n_busy), ("quiet street", cap_quiet, base_quiet, n_quiet)):
        share = base["frames_skipped_by_gate"] / max(1, base["frames_skipped_by_gate"] + base["frames_inferred"])
        rows.append(Row(
            what=f"streams per box on time (1 frame/s each, lag < 2 s, none starved), {scene}, 1 s GOP, looped files",
            project=float(cap), baseline=None, unit="streams", target=">= 40", met=cap >= 40,
            project_label=f"{base['cpu_per_stream']:.3f} cores/stream at N={n}, gate skipped {share:.0%}",
            note=("quick: only N in " + str(ladder)) if ctx.quick else ""))
    variants = {"keyframe-only decode off": {"keyframes": False}, "motion gating off": {"gating": False},
                "both off": {"keyframes": False, "gating": False}}
    if ctx.quick:  # a minute: only the two single switches
        variants.pop("both off")
    for name, opts in variants.items():
        details[f"quiet_gop1_{name}"] = v = probe(n_quiet, [quiet], log=ctx.log, **opts, **kw)
        rows.append(Row(what=f"CPU per stream, quiet street, N={n_quiet}, 1 s GOP: as shipped vs {name}",
                        project=base_quiet["cpu_per_stream"], baseline=v["cpu_per_stream"], unit="cores",
                        higher_is_better=False, project_label=f"as shipped, on time: {base_quiet['on_time']}",
                        baseline_label=f"{name}, on time: {v['on_time']}",
                        note=f"lateness p99 {v['lateness_p99_s']} s, fewest frames per camera "
                             f"{v['analysed_per_cam_min']}/{v['expected_per_cam']:.0f}"))
    if not ctx.quick:
        details["busy_gop1_width640"] = w = probe(n_busy, [busy], log=ctx.log, camera_options={"analysis_width": 640}, **kw)
        rows.append(Row(what=f"CPU per stream, busy street, N={n_busy}, 1 s GOP: analysis_width 640 vs as decoded (1280)",
                        project=w["cpu_per_stream"], baseline=base_busy["cpu_per_stream"], unit="cores",
                        higher_is_better=False, project_label=f"640 px wide, on time: {w['on_time']}",
                        baseline_label=f"1280 px (default), on time: {base_busy['on_time']}"))
        details["busy_gop4"] = g4 = probe(n_busy, [str(street_clip(4.0))], log=ctx.log, **kw)
        rows.append(Row(what=f"CPU per stream, busy street, N={n_busy}: 4 s GOP (decode-and-drop, chosen automatically)",
                        project=base_busy["cpu_per_stream"], baseline=g4["cpu_per_stream"], unit="cores",
                        higher_is_better=False, project_label="1 s GOP (keyframes only)",
                        baseline_label=f"4 s GOP, on time: {g4['on_time']}"))
        try:
            from tests.helpers.rtsp_server import RtspServer, rtsp_server_available

            ok, why = rtsp_server_available()
            if not ok:
                raise BenchError(why)
            long_clip = repeated_clip(Path(busy), 6)  # 2 min: one RTSP session per camera, never ending
            with RtspServer(long_clip) as server:
                details["rtsp_busy_gop1"] = r = probe(n_busy, [server.url], log=ctx.log, **kw)
            rows.append(Row(what=f"busy street, N={n_busy}, 1 s GOP: RTSP (GStreamer server) vs looped files",
                            project=r["cpu_per_stream"], baseline=base_busy["cpu_per_stream"], unit="cores",
                            higher_is_better=False, project_label=f"RTSP, on time: {r['on_time']}",
                            baseline_label=f"files, on time: {base_busy['on_time']}"))
        except (BenchError, RuntimeError, ImportError) as exc:
            details["rtsp_error"] = str(exc).splitlines()[0]
    return rows, details


def main(argv: list[str] | None = None) -> int:
    """One probe at a fixed N (no capacity search): CPU per stream and lateness, for profiling and A/B runs."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--n", type=int, default=16, help="number of cameras")
    parser.add_argument("--scene", choices=("busy", "quiet"), default="busy")
    parser.add_argument("--gop", type=float, default=1.0, help="keyframe interval of the clip (s)")
    parser.add_argument("--no-gating", action="store_true")
    parser.add_argument("--no-keyframes", action="store_true", help="decode every frame (keyframes_only off)")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--model", type=Path, default=None, help="ONNX file instead of the shipped model")
    parser.add_argument("--analysis-width", type=int, default=None, help="edge.yaml camera analysis_width")
    parser.add_argument("--decoder-threads", type=int, default=None, help="edge.yaml camera decoder_threads")
    parser.add_argument("--imgsz", type=int, default=None, help="model input size (default: the model's own)")
    args = parser.parse_args(argv)
    camera_options = {k: v for k, v in (("analysis_width", args.analysis_width),
                                        ("decoder_threads", args.decoder_threads)) if v is not None}
    logging.basicConfig(level=logging.WARNING)
    clip = str(street_clip(args.gop, quiet=args.scene == "quiet"))
    result = probe(args.n, [clip], gating=not args.no_gating, keyframes=not args.no_keyframes,
                   warmup_s=args.warmup, window_s=args.window, model=args.model, camera_options=camera_options,
                   imgsz=args.imgsz)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # python -m bench.streams --n 24 --scene quiet
    raise SystemExit(main())
