"""Streams per box: how many 1280x720 H.264 cameras (25 fps) one box analyses at 1 frame/s each, on time.

The real edge loop runs: ``detector.pipeline.live.EdgeRuntime`` with an edge.yaml of N cameras (``LiveCamera``
threads, keyframe-only decode chosen automatically, gate, Batcher, the engine ``backend: auto`` chose, tracker,
rules, outbox). The cameras are the generated street clip played in real time and looped (``realtime: true,
loop: true``), or the same clip served by the GStreamer RTSP server (``tests/helpers/rtsp_server.py``).

"On time", per camera, over the measured window (after a warm-up): it got at least 90% of its analysis
frames (at most one missing: nothing starved) and no analysed frame was more than 2 s late. A camera's
analysis frames are one per second, or, when its ``adaptive_interval`` is on, the frames its own cadence
asked for (handed over + overwritten in its slot): a camera analysed every 2 s on purpose is not starved.
Lateness of a frame = when its result reached the rules minus when the camera played it (file cameras: the
camera's start + media time; the camera's smallest lateness, the time it took to open, is taken off; RTSP
cameras stamp frames when they are decoded, so there lateness starts at decode).

Two scenes: the busy street (people walking all the time: every analysed frame has motion, the motion gate
never skips) and the quiet street (the same street frozen, only sensor noise: what motion gating is for).

The edge loop is measured as is; the only hook is a subclass that records when each result reaches the rules
(``_handle``). Every variant is an edge.yaml override: a dict of dotted keys (``cameras[].`` = every camera),
e.g. ``{"gating.enabled": False}``. The levers of issue #18 are named in :data:`LEVERS`, each with the
overrides that turn it on and off; "what each lever bought" runs all levers on, then each one off in turn,
at the same N. A lever whose keys this checkout's ``EdgeConfig`` does not have is left out (and said so).

One probe at a fixed N, e.g. for profiling or an A/B of a camera option (CPU per stream, lateness, and the
cores of camera threads vs the edge loop vs native pools)::

    python -m bench.streams --n 24 --scene quiet [--set gating.mode=static] [--set cameras[].analysis_width=640]
    python -m bench.streams --levers --n 16 --scene busy     # all levers on, then each off in turn
    python -m bench.streams --capacity --scene quiet [--all-levers]   # the ladder, 8 ... 128, then bisection
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

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
    percentile,
)
from bench.inference import model_files, model_imgsz
from bench.videos import repeated_clip, street_clip, zones_file

WORK = ROOT / "var" / "bench" / "streams"
LATE_S = 2.0
MIN_SHARE = 0.9
LADDER = (8, 16, 32, 48, 64, 96, 128)  # the targets are 40 busy and 100 quiet: the ladder passes both
BISECT_STEPS = 3

@dataclass(frozen=True)
class Lever:
    """One of issue #18's levers as edge.yaml overrides: ``on`` turns it on, ``off`` turns it off (both
    explicit, so "all on" does not depend on what the defaults are today)."""

    name: str
    on: Overrides
    off: Overrides
    note: str = ""
    scenes: tuple[str, ...] = ("busy", "quiet")  # where it is worth a probe


#: The levers, in the order of issue #18. Adding one is one line; one whose keys this checkout's EdgeConfig
#: does not have is skipped (so a lever can be named before its switch lands).
LEVERS: tuple[Lever, ...] = (
    Lever("keyframe-only decode", on={"cameras[].keyframes": "auto"}, off={"cameras[].keyframes": "all"}),
    Lever("motion gating", on={"gating.enabled": True}, off={"gating.enabled": False}),
    Lever("zone-rectangle inference", on={"batch.zone_crop.enabled": True}, off={"batch.zone_crop.enabled": False}),
    Lever("static-change gate", on={"gating.mode": "static"}, off={"gating.mode": "motion"}),
    Lever("skip loop filter", on={"cameras[].skip_loop_filter": True}, off={"cameras[].skip_loop_filter": False}),
    Lever("adaptive interval", on={"cameras[].adaptive_interval.enabled": True},
          off={"cameras[].adaptive_interval.enabled": False}),
)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``, ``Annotated[...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def config_has(key: str) -> bool:
    """Whether the dotted edge.yaml key names a field of this checkout's ``EdgeConfig``.

    >>> config_has("gating.enabled"), config_has("cameras[].keyframes"), config_has("gating.no_such_field")
    (True, True, False)
    """
    from detector.config import EdgeConfig

    model: type[BaseModel] | None = EdgeConfig
    for part in key.split("."):
        name = part.removesuffix("[]")
        if model is None or name not in model.model_fields:
            return False
        model = _submodel(model.model_fields[name].annotation)
    return True


def available_levers() -> tuple[list[Lever], list[str]]:
    """(levers this checkout can switch, names of those it cannot yet)."""
    ok, missing = [], []
    for lever in LEVERS:
        (ok if all(config_has(k) for k in {**lever.on, **lever.off}) else missing).append(lever)
    return ok, [lever.name for lever in missing]


def all_on(levers: list[Lever]) -> Overrides:
    out: Overrides = {}
    for lever in levers:
        out.update(lever.on)
    return out


def write_config(n: int, urls: list[str], onnx_path: Path, imgsz: int, tag: str,
                 overrides: Overrides | None = None) -> Path:
    """edge.yaml for ``n`` cameras, then ``overrides`` (dotted keys) applied."""
    WORK.mkdir(parents=True, exist_ok=True)
    cameras = []
    for i in range(n):
        cam_id = f"cam-{i:03d}"
        entry: dict[str, Any] = {"id": cam_id, "url": urls[i % len(urls)], "analysis_fps": 1.0,
                                 "zones": str(zones_file(WORK / "x", cam_id))}
        if "://" not in entry["url"]:
            entry.update(realtime=True, loop=True)
        cameras.append(entry)
    outbox = WORK / f"outbox-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{outbox}{suffix}").unlink(missing_ok=True)
    cfg: dict[str, Any] = {
        "service_url": "http://127.0.0.1:9",  # nothing listens: events (if any) wait in the outbox
        "device_id": "bench-edge", "device_key": "fe_bench",
        "model": {"path": str(onnx_path), "imgsz": imgsz, "max_batch": 8},
        "classes": str(ROOT / "models" / "frontage-n.classes.yaml"),
        "batch": {"max_batch": 8, "max_wait_ms": 50},
        "gating": {},
        "cameras": cameras, "outbox": str(outbox), "evidence_dir": str(WORK / "evidence"),
        "clip_s": 0,  # no evidence clip ring: it only holds memory (8 frames per camera)
        "model_check_s": 3600,
    }
    apply_overrides(cfg, overrides or {})
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


def probe(n: int, urls: list[str], *, overrides: Overrides | None = None, warmup_s: float = 8.0,
          window_s: float = 20.0, model: Path | None = None, imgsz: int | None = None,
          log: Any = print, on_window: Any = None) -> dict[str, Any]:
    """Run the edge with ``n`` cameras for ``warmup_s + window_s``; per-camera timeliness and CPU.

    ``overrides``: dotted edge.yaml keys (``{"gating.enabled": False}``, ``{"cameras[].keyframes": "all"}``).
    ``model``: another ONNX file than the shipped one. ``on_window``: called as the measured window starts
    (bench/profile_gil.py starts its samplers there)."""
    from detector.config import load_edge_config
    from detector.pipeline.live import EdgeRuntime

    logging.getLogger("frontage.health").setLevel(logging.ERROR)  # no service listens: every report fails
    pt, onnx_path, shipped = model_files()
    del pt
    imgsz = imgsz or model_imgsz(onnx_path)  # default: the model's own operating size
    if model is not None:
        onnx_path, shipped = model.resolve(), False
    overrides = dict(overrides or {})
    cfg = load_edge_config(write_config(n, urls, onnx_path, imgsz, f"{n}", overrides))
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

    def produced() -> dict[str, int]:  # frames each live camera handed over or overwrote: what its cadence asked
        return {f.id: f.live.stats.frames_yielded + f.live.stats.frames_dropped  # type: ignore[attr-defined]
                for f in runtime.feeds if f.live is not None}

    thread = threading.Thread(target=target, name="edge-runtime", daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 60 + n  # model load + camera opens (each open probes the GOP)
        while not runtime.feeds or len(runtime.feeds) < n:
            if errors or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if errors:
            raise BenchError(f"the edge runtime failed: {errors[0]}")
        while time.monotonic() < deadline and not all(  # every camera open and delivering
                f.live is None or f.live.stats.healthy for f in runtime.feeds):  # type: ignore[attr-defined]
            time.sleep(0.05)
        starts = {f.id: f.live._t0 for f in runtime.feeds if f.live is not None}  # type: ignore[attr-defined]
        adaptive = {f.id for f in runtime.feeds if getattr(f, "cadence", None) is not None}
        time.sleep(warmup_s)
        roles = _thread_roles()
        threads0 = thread_cpu_seconds(roles)
        gc_timer = _GcTimer().start()
        produced0 = produced()
        cpu0, t0 = cpu_seconds(), time.monotonic()
        if on_window is not None:
            on_window()
        batches0, inferred0, skipped0 = runtime.batcher.batches, runtime.batcher.frames_inferred, runtime.batcher.frames_skipped
        time.sleep(window_s)
        cpu1, t1 = cpu_seconds(), time.monotonic()
        produced1 = produced()
        threads1 = thread_cpu_seconds(roles)
        gc_timer.stop()
        batcher = runtime.batcher
        counters = (batcher.batches - batches0, batcher.frames_inferred - inferred0, batcher.frames_skipped - skipped0)
        dropped = sum(f.live.stats.frames_dropped for f in runtime.feeds if f.live is not None)  # type: ignore[attr-defined]
        keyframes_only = sum(bool(f.live.stats.keyframes_only) for f in runtime.feeds if f.live is not None)  # type: ignore[attr-defined]
        unhealthy = [f.id for f in runtime.feeds if f.live is not None and not f.live.stats.healthy]  # type: ignore[attr-defined]
        engine = getattr(runtime.backend, "backend", None)
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
    nominal = window_s * 1.0
    cams = [f"cam-{i:03d}" for i in range(n)]
    # what each camera should have got: 1/s, or what its own adaptive cadence asked for
    expected = {c: float(produced1.get(c, 0) - produced0.get(c, 0)) if c in adaptive else nominal for c in cams}
    # a window of k seconds holds k or k-1 analysis instants depending on phase: allow one missing frame
    starved = [c for c in cams if counts.get(c, 0) < expected[c] - max(1.0, (1 - MIN_SHARE) * expected[c])]
    too_late = [c for c in cams if worst.get(c, float("inf")) > LATE_S]
    cores = (cpu1 - cpu0) / (t1 - t0)
    result = {
        "n": n, "overrides": overrides, "engine": engine, "window_s": round(t1 - t0, 1),
        "cpu_cores": round(cores, 3), "cpu_per_stream": round(cores / n, 4),
        "analysed_per_cam_min": min(counts.get(c, 0) for c in cams), "expected_per_cam": nominal,
        "expected_per_cam_min": min(expected.values()), "cameras_adaptive": len(adaptive),
        "analysed_per_s": round(sum(counts.values()) / (t1 - t0), 2),
        "lateness_p50_s": round(percentile(late_in_window, 50), 3) if late_in_window else None,
        "lateness_p99_s": round(percentile(late_in_window, 99), 3) if late_in_window else None,
        "lateness_max_s": round(max(late_in_window), 3) if late_in_window else None,
        "batches": counters[0], "frames_inferred": counters[1], "frames_skipped_by_gate": counters[2],
        "inferred_share": round(counters[1] / max(1, counters[1] + counters[2]), 3),
        "slot_drops": dropped, "cameras_keyframes_only": keyframes_only, "unhealthy": unhealthy[:5],
        "starved": len(starved), "late": len(too_late), "shipped_model": shipped,
        "latest_frames": [{"camera": c, "pts_s": round(p, 2), "late_s": round(v, 3)}
                          for v, c, p in sorted(latest_frames, reverse=True)[:8]],
        # cores per role: camera threads = demux + decode + BGR conversion (one decoder thread each);
        # edge loop = gate, letterbox, the engine call's own thread, tracker, rules, outbox
        "gc_share_of_cpu": round(gc_timer.seconds / max(1e-9, cpu1 - cpu0), 4), "gc_full_collections": gc_timer.full,
        "cores_by_thread": {role: round((threads1.get(role, 0.0) - threads0.get(role, 0.0)) / (t1 - t0), 3)
                            for role in sorted(set(threads0) | set(threads1))},
    }
    result["on_time"] = not starved and not too_late and not unhealthy
    log(f"streams: N={n} [{describe(overrides)}]: on_time={result['on_time']} "
        f"cpu/stream={result['cpu_per_stream']:.3f} lateness p99={result['lateness_p99_s']} s "
        f"min analysed {result['analysed_per_cam_min']}/{result['expected_per_cam_min']:.0f} "
        f"inferred={counters[1]} skipped={counters[2]} cores={result['cores_by_thread']}")
    return result


def find_capacity(urls: list[str], candidates: list[int] | tuple[int, ...], ctx: Context,
                  bisect_steps: int = BISECT_STEPS, **kw: Any) -> tuple[int, list[dict[str, Any]]]:
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


def lever_effects(n: int, urls: list[str], levers: list[Lever], ctx: Context, on: Overrides,
                  base: dict[str, Any] | None = None, **kw: Any) -> dict[str, dict[str, Any]]:
    """At ``n`` cameras: every lever on (``on``; ``base``: that probe when already run), then each of
    ``levers`` off in turn."""
    out = {"all on": base or probe(n, urls, overrides=on, log=ctx.log, **kw)}
    for lever in levers:
        out[lever.name] = probe(n, urls, overrides={**on, **lever.off}, log=ctx.log, **kw)
    return out


def lever_rows(scene: str, n: int, effects: dict[str, dict[str, Any]]) -> list[Row]:
    """One row per lever: CPU per stream with all on vs with that lever off (with on-time and the model's share)."""
    base = effects["all on"]
    rows = []
    for name, off in effects.items():
        if name == "all on":
            continue
        rows.append(Row(
            what=f"what it bought, {scene}, N={n}: all levers on vs {name} off",
            project=base["cpu_per_stream"], baseline=off["cpu_per_stream"], unit="cores", higher_is_better=False,
            project_label=f"all on, on time: {base['on_time']}, model on {base['inferred_share']:.0%} of frames",
            baseline_label=f"{name} off, on time: {off['on_time']}, model on {off['inferred_share']:.0%}",
            note=f"lateness p99 {off['lateness_p99_s']} vs {base['lateness_p99_s']} s, fewest frames per camera "
                 f"{off['analysed_per_cam_min']} vs {base['analysed_per_cam_min']} (of {off['expected_per_cam_min']:.0f}"
                 f" / {base['expected_per_cam_min']:.0f} asked)"))
    return rows


def scene_clip(scene: str, gop_s: float = 1.0) -> str:
    return str(street_clip(gop_s, quiet=scene == "quiet"))


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    logging.getLogger("frontage").setLevel(logging.WARNING)
    levers, missing = available_levers()
    on = all_on(levers)
    details: dict[str, Any] = {"late_s": LATE_S, "min_share": MIN_SHARE, "levers": [lv.name for lv in levers],
                               "levers_not_in_this_checkout": missing, "all_on": on}
    rows: list[Row] = []
    if ctx.quick:
        kw: dict[str, Any] = {"warmup_s": 3.0, "window_s": 8.0}
        ladder: tuple[int, ...] = (4,)
    else:
        kw = {"warmup_s": 5.0, "window_s": 15.0}
        ladder = LADDER
    caps: dict[str, tuple[int, dict[str, Any]]] = {}
    for scene in ("busy", "quiet"):
        clip = scene_clip(scene)
        start = [n for n in ladder if n >= caps["busy"][0]] if scene == "quiet" and caps else list(ladder)
        cap, probes = find_capacity([clip], start or ladder, ctx, overrides=on, **kw)
        n = cap or min(p["n"] for p in probes)  # where the variants run: the capacity, or the smallest N tried
        base = _probe_at(probes, n, [clip], ctx, overrides=on, **kw)
        caps[scene] = (n, base)
        details[f"{scene}_gop1"] = {"capacity": cap, "probes": probes}
        target = 40 if scene == "busy" else 100
        rows.append(Row(
            what=f"streams per box on time (1 frame/s each, lag < 2 s, none starved), {scene} street, 1 s GOP, "
                 f"looped files, every lever on",
            project=float(cap), baseline=None, unit="streams", target=f">= {target}", met=cap >= target,
            project_label=f"{base['cpu_per_stream']:.3f} cores/stream at N={n}, model on {base['inferred_share']:.0%} "
                          f"of frames, {base['engine']}",
            note=("quick: only N in " + str(list(ladder))) if ctx.quick else f"levers on: {describe(on)}"))
    for scene in ("busy", "quiet"):
        n, base = caps[scene]
        scene_levers = [lv for lv in levers if scene in lv.scenes]
        if ctx.quick:  # a minute: only the first two levers
            scene_levers = scene_levers[:2]
        effects = lever_effects(n, [scene_clip(scene)], scene_levers, ctx, on, base=base, **kw)
        details[f"{scene}_levers"] = effects
        rows += lever_rows(f"{scene} street", n, effects)
    if not ctx.quick:
        n_busy, base_busy = caps["busy"]
        busy = scene_clip("busy")
        details["busy_gop1_width640"] = w = probe(n_busy, [busy], overrides={**on, "cameras[].analysis_width": 640},
                                                  log=ctx.log, **kw)
        rows.append(Row(what=f"CPU per stream, busy street, N={n_busy}, 1 s GOP: analysis_width 640 vs as decoded (1280)",
                        project=w["cpu_per_stream"], baseline=base_busy["cpu_per_stream"], unit="cores",
                        higher_is_better=False, project_label=f"640 px wide, on time: {w['on_time']}",
                        baseline_label=f"1280 px (default), on time: {base_busy['on_time']}"))
        details["busy_gop4"] = g4 = probe(n_busy, [scene_clip("busy", 4.0)], overrides=on, log=ctx.log, **kw)
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
                details["rtsp_busy_gop1"] = r = probe(n_busy, [server.url], overrides=on, log=ctx.log, **kw)
            rows.append(Row(what=f"busy street, N={n_busy}, 1 s GOP: RTSP (GStreamer server) vs looped files",
                            project=r["cpu_per_stream"], baseline=base_busy["cpu_per_stream"], unit="cores",
                            higher_is_better=False, project_label=f"RTSP, on time: {r['on_time']}",
                            baseline_label=f"files, on time: {base_busy['on_time']}"))
        except (BenchError, RuntimeError, ImportError) as exc:
            details["rtsp_error"] = str(exc).splitlines()[0]
    return rows, details


def main(argv: list[str] | None = None) -> int:
    """One probe at a fixed N (default), what each lever bought at that N (--levers), or the capacity ladder
    (--capacity): CPU per stream and lateness, for profiling and A/B runs. Prints JSON."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--n", type=int, default=16, help="number of cameras")
    parser.add_argument("--scene", choices=("busy", "quiet"), default="busy")
    parser.add_argument("--gop", type=float, default=1.0, help="keyframe interval of the clip (s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="edge.yaml override, dotted (cameras[]. = every camera), value as YAML; repeatable")
    parser.add_argument("--all-levers", action="store_true", help="every lever of LEVERS on (before --set)")
    parser.add_argument("--levers", action="store_true", help="all levers on, then each off in turn, at --n")
    parser.add_argument("--capacity", action="store_true", help="the ladder (8 ... 128) and bisection")
    parser.add_argument("--no-gating", action="store_true", help="= --set gating.enabled=false")
    parser.add_argument("--no-keyframes", action="store_true", help="= --set cameras[].keyframes=all")
    parser.add_argument("--analysis-width", type=int, default=None, help="= --set cameras[].analysis_width=W")
    parser.add_argument("--decoder-threads", type=int, default=None, help="= --set cameras[].decoder_threads=T")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--model", type=Path, default=None, help="ONNX file instead of the shipped model")
    parser.add_argument("--imgsz", type=int, default=None, help="model input size (default: the model's own)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    levers, missing = available_levers()
    overrides: Overrides = all_on(levers) if args.all_levers or args.levers else {}
    shorthands = {"gating.enabled": False if args.no_gating else None,
                  "cameras[].keyframes": "all" if args.no_keyframes else None,
                  "cameras[].analysis_width": args.analysis_width, "cameras[].decoder_threads": args.decoder_threads}
    overrides.update({k: v for k, v in shorthands.items() if v is not None})
    overrides.update(parse_set(args.set))
    clip = scene_clip(args.scene, args.gop)
    kw: dict[str, Any] = {"warmup_s": args.warmup, "window_s": args.window, "model": args.model, "imgsz": args.imgsz}
    ctx = Context(quick=False, log=lambda m: print(m, file=sys.stderr, flush=True))
    result: dict[str, Any]
    if args.levers:
        scene_levers = [lv for lv in levers if args.scene in lv.scenes]
        result = {"levers_not_in_this_checkout": missing,
                  "effects": lever_effects(args.n, [clip], scene_levers, ctx, overrides, **kw)}
        for row in lever_rows(f"{args.scene} street", args.n, result["effects"]):
            ctx.log(f"{row.what}: {row.project} vs {row.baseline} cores ({row.project_label} / {row.baseline_label})")
    elif args.capacity:
        cap, probes = find_capacity([clip], LADDER, ctx, overrides=overrides, **kw)
        result = {"capacity": cap, "overrides": overrides, "probes": probes}
    else:
        result = probe(args.n, [clip], overrides=overrides, log=ctx.log, **kw)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # python -m bench.streams --n 24 --scene quiet
    raise SystemExit(main())
