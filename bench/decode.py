"""Decode: CPU seconds per second of 1280x720 H.264 video, through ``detector.sources``.

* full decode — every frame decoded and converted to BGR (``analysis_fps`` = the clip's 25 fps): what a loop
  over ``cv2.VideoCapture.read()`` costs; the baseline.
* decode-and-drop — every frame decoded, only 1 frame/s converted (``keyframes_only=False``, 1 fps).
* keyframes only — non-key frames skipped inside the decoder (``keyframes_only=True``, 1 fps).

Each at a 1 s and a 4 s GOP, plus keyframe-only variants as live cameras run them: one decoder thread
(``LiveCamera``'s default: 40 decoders already share the cores), the frame scaled to a 640 px analysis width in
the same swscale pass as the BGR conversion (``analysis_width: 640``), and without the deblocking loop filter
(``skip_loop_filter: true``). CPU time is the whole process's (decoder threads included), so the figure is
"cores busy per camera". At a 4 s GOP keyframes-only yields one frame per 4 s, fewer than 1 frame/s: the
sources choose it automatically only when the GOP is no longer than the analysis interval.

Quiet street (the same street frozen, 1 s GOP, one decoder thread, keyframes only): the levers of issue #18 for
a camera whose picture does not change — the adaptive interval (``adaptive_interval``: after ``quiet_s`` of an
unchanged picture every second keyframe is not even decoded), the loop filter skipped, and both. The picture's
"unchanged" is scripted here (the model ran on the first frame only and every frame after it counts as gated:
what the motion gate does on this clip, bench/streams.py), so the figure is decode alone.

Box agreement: the shipped model (ONNX Runtime) on the keyframes of the sample clips decoded with and without
the loop filter: same class, IoU >= 0.9, score within 0.03 (`detector.inference.agreement`, both ways): a flag
that changes boxes is not worth its CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import ROOT, Context, CpuTimer, Row
from bench.videos import street_clip

MODES: dict[str, dict[str, Any]] = {
    "full decode": {"analysis_fps": 25.0, "keyframes": "all"},
    "decode-and-drop": {"analysis_fps": 1.0, "keyframes": "all"},
    "keyframes only": {"analysis_fps": 1.0, "keyframes": "keyframes"},
    "keyframes only, 1 decoder thread": {"analysis_fps": 1.0, "keyframes": "keyframes", "threads": 1},
    "keyframes only, 1 thread, 640 px wide": {"analysis_fps": 1.0, "keyframes": "keyframes", "threads": 1,
                                              "width": 640},
    "keyframes only, 1 thread, loop filter skipped": {"analysis_fps": 1.0, "keyframes": "keyframes", "threads": 1,
                                                      "skip_loop_filter": True},
}
QUIET_BASE = "keyframes only, 1 decoder thread"
QUIET_MODES: dict[str, dict[str, Any]] = {
    QUIET_BASE: MODES[QUIET_BASE],
    "adaptive interval": {**MODES[QUIET_BASE], "adaptive": True},
    "loop filter skipped": {**MODES[QUIET_BASE], "skip_loop_filter": True},
    "adaptive interval + loop filter skipped": {**MODES[QUIET_BASE], "adaptive": True, "skip_loop_filter": True},
}


def measure(path: str, analysis_fps: float, repeats: int, duration_s: float, adaptive: bool = False,
            **decode: Any) -> dict[str, float]:
    """Read the whole clip ``repeats`` times with the project's VideoSource; CPU s per media s. ``decode``:
    :class:`detector.sources.DecodeOptions` fields; ``adaptive``: the camera's default adaptive interval, its
    picture unchanged after the first frame (the model ran on it, the gate skipped every later one)."""
    from detector.detections import Detections
    from detector.sources import AdaptiveIntervalConfig, AnalysisCadence, DecodeOptions, open_source

    cpu = wall = media = 0.0
    frames = decoded = skipped = 0
    nothing = Detections.empty(())
    for _ in range(repeats):
        with CpuTimer() as t:
            cadence = AnalysisCadence(analysis_fps, AdaptiveIntervalConfig(enabled=True)) if adaptive else None
            src = open_source(path, "bench", analysis_fps=analysis_fps, decode=DecodeOptions(**decode),
                              cadence=cadence)
            for frame in src.frames():
                frames += 1
                if cadence is not None:
                    cadence.observe(frame.pts_s, frame.index == 0, nothing)
            decoded += src.stats.frames_decoded
            skipped += src.stats.keyframes_skipped
            src.close()
        cpu += t.cpu
        wall += t.wall
        media += duration_s
    return {"cpu_per_media_s": cpu / media, "wall_per_media_s": wall / media, "frames_out": frames / repeats,
            "frames_decoded": decoded / repeats, "keyframes_skipped": skipped / repeats, "media_s": media / repeats}


def loop_filter_agreement(clips: list[Path], every: int = 2) -> dict[str, Any]:
    """Every ``every``-th keyframe of each clip decoded with and without the loop filter, through the shipped
    model: mutual box agreement (autoselect's test) and the mean absolute pixel difference."""
    import numpy as np

    from detector.inference import ModelConfig, load_backend
    from detector.inference.agreement import mutual_agreement
    from detector.inference.autoselect import SCORE_TOLERANCE
    from detector.sources import DecodeOptions, open_source

    backend = load_backend(ModelConfig(path=str(ROOT / "models" / "frontage-n.onnx"), backend="onnxruntime"))
    out: dict[str, Any] = {}
    for clip in clips:
        pictures = {}
        for skip in (False, True):
            src = open_source(str(clip), "bench", analysis_fps=0.5,
                              decode=DecodeOptions(keyframes="keyframes", threads=1, skip_loop_filter=skip))
            pictures[skip] = [f.image for i, f in enumerate(src.frames()) if i % every == 0]
            src.close()
        plain = [d for img in pictures[False] for d in backend.infer([img])]
        unfiltered = [d for img in pictures[True] for d in backend.infer([img])]
        diff = float(np.mean([np.abs(a.astype(np.int16) - b).mean()
                              for a, b in zip(pictures[False], pictures[True], strict=True)]))
        out[clip.stem] = {"frames": len(plain), "boxes": sum(len(d) for d in plain),
                          "agreement": round(mutual_agreement(plain, unfiltered, SCORE_TOLERANCE), 4),
                          "mean_abs_pixel_diff": round(diff, 3)}
    return out


def run(ctx: Context) -> tuple[list[Row], dict[str, Any]]:
    duration = ctx.clip_s
    repeats = 1 if ctx.quick else 3
    rows: list[Row] = []
    details: dict[str, Any] = {"clips": {}, "repeats": repeats}
    for gop in (1.0, 4.0):
        path = street_clip(gop, duration)
        size = path.stat().st_size
        details["clips"][f"gop{gop:g}s"] = {"path": str(path.relative_to(path.parents[3])),
                                            "bitrate_kbps": round(size * 8 / duration / 1000)}
        figures = {}
        for mode, opts in MODES.items():
            ctx.log(f"decode: GOP {gop:g} s, {mode}")
            if not figures:  # warm-up: imports, page cache
                measure(str(path), repeats=1, duration_s=duration, **opts)
            figures[mode] = measure(str(path), repeats=repeats, duration_s=duration, **opts)
        details[f"gop{gop:g}s"] = figures
        base = figures["full decode"]["cpu_per_media_s"]
        for mode in [m for m in MODES if m != "full decode"]:
            f = figures[mode]
            note = f"{f['frames_out'] / f['media_s']:.2f} frames/s out"
            if mode.startswith("keyframes only") and gop > 1.0:
                note += "; fewer than 1 frame/s, so the sources pick it only when GOP <= analysis interval"
            rows.append(Row(
                what=f"decode CPU, GOP {gop:g} s: {mode} vs full decode",
                project=f["cpu_per_media_s"], baseline=base, unit="CPU s/s", higher_is_better=False,
                project_label=mode, baseline_label="full decode", note=note))
    rows += _quiet_rows(ctx, duration, repeats, details)
    clips = sorted((ROOT / "sample_videos").glob("*.mp4"))
    if clips and (ROOT / "models" / "frontage-n.onnx").exists():
        ctx.log("decode: box agreement with the loop filter skipped (sample clips, shipped model)")
        agreement = loop_filter_agreement(clips[:1] if ctx.quick else clips, every=4 if ctx.quick else 2)
        details["loop_filter_agreement"] = agreement
        worst = min(a["agreement"] for a in agreement.values())
        rows.append(Row(
            what="model boxes on keyframes decoded without vs with the loop filter (worst sample clip)",
            project=worst, baseline=None, unit="agreement", project_label="skip_loop_filter: true",
            baseline_label="deblocked", target=">= 0.9", met=worst >= 0.9,
            note="; ".join(f"{k}: {a['agreement']:.3f} of {a['boxes']} boxes, pixels differ "
                           f"{a['mean_abs_pixel_diff']:.2f} grey levels" for k, a in agreement.items())))
    return rows, details


def _quiet_rows(ctx: Context, duration: float, repeats: int, details: dict[str, Any]) -> list[Row]:
    """The quiet street, keyframes only, one decoder thread: each lever against none, modes interleaved."""
    path = street_clip(1.0, duration, quiet=True)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in QUIET_MODES}
    measure(str(path), repeats=1, duration_s=duration, **QUIET_MODES[QUIET_BASE])  # warm-up
    for _ in range(repeats):  # interleaved: a machine shared with other jobs drifts between rounds
        for mode, opts in QUIET_MODES.items():
            ctx.log(f"decode: quiet street, GOP 1 s, {mode}")
            runs[mode].append(measure(str(path), repeats=1, duration_s=duration, **opts))
    figures = {mode: {key: min(r[key] for r in rs) if key.endswith("_s") else rs[0][key] for key in rs[0]}
               for mode, rs in runs.items()}
    details["quiet_gop1s"] = figures
    base = figures[QUIET_BASE]
    rows = []
    for mode in [m for m in QUIET_MODES if m != QUIET_BASE]:
        f = figures[mode]
        rows.append(Row(
            what=f"decode CPU, quiet street, GOP 1 s, keyframes only, 1 thread: {mode} vs neither",
            project=f["cpu_per_media_s"], baseline=base["cpu_per_media_s"], unit="CPU s/s", higher_is_better=False,
            project_label=mode, baseline_label=QUIET_BASE,
            note=f"{f['frames_decoded']:.0f} of {base['frames_decoded']:.0f} keyframes decoded, "
                 f"{f['frames_out'] / f['media_s']:.2f} frames/s out (best of {repeats} interleaved rounds)"))
    return rows
