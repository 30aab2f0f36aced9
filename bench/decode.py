"""Decode: CPU seconds per second of 1280x720 H.264 video, three ways, through ``detector.sources``.

* full decode — every frame decoded and converted to BGR (``analysis_fps`` = the clip's 25 fps): what a loop
  over ``cv2.VideoCapture.read()`` costs; the baseline.
* decode-and-drop — every frame decoded, only 1 frame/s converted (``keyframes_only=False``, 1 fps).
* keyframes only — non-key frames skipped inside the decoder (``keyframes_only=True``, 1 fps).

Each at a 1 s and a 4 s GOP, plus two keyframe-only variants as live cameras run them: one decoder thread
(``LiveCamera``'s default: 40 decoders already share the cores) and, on top, the frame scaled to a 640 px
analysis width in the same swscale pass as the BGR conversion (``analysis_width: 640``). CPU time is the whole
process's (decoder threads included), so the figure is "cores busy per camera". At a 4 s GOP keyframes-only yields one frame per 4 s, fewer than 1 frame/s: the
sources choose it automatically only when the GOP is no longer than the analysis interval.
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, CpuTimer, Row
from bench.videos import street_clip

MODES: dict[str, dict[str, Any]] = {
    "full decode": {"analysis_fps": 25.0, "keyframes": "all"},
    "decode-and-drop": {"analysis_fps": 1.0, "keyframes": "all"},
    "keyframes only": {"analysis_fps": 1.0, "keyframes": "keyframes"},
    "keyframes only, 1 decoder thread": {"analysis_fps": 1.0, "keyframes": "keyframes", "threads": 1},
    "keyframes only, 1 thread, 640 px wide": {"analysis_fps": 1.0, "keyframes": "keyframes", "threads": 1,
                                              "width": 640},
}


def measure(path: str, analysis_fps: float, repeats: int, duration_s: float, **decode: Any) -> dict[str, float]:
    """Read the whole clip ``repeats`` times with the project's VideoSource; CPU s per media s. ``decode``:
    :class:`detector.sources.DecodeOptions` fields."""
    from detector.sources import DecodeOptions, open_source

    cpu = wall = media = 0.0
    frames = decoded = 0
    for _ in range(repeats):
        with CpuTimer() as t:
            src = open_source(path, "bench", analysis_fps=analysis_fps, decode=DecodeOptions(**decode))
            for _ in src.frames():
                frames += 1
            decoded += src.stats.frames_decoded
            src.close()
        cpu += t.cpu
        wall += t.wall
        media += duration_s
    return {"cpu_per_media_s": cpu / media, "wall_per_media_s": wall / media, "frames_out": frames / repeats,
            "frames_decoded": decoded / repeats, "media_s": media / repeats}


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
    return rows, details
