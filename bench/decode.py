"""Decode: CPU seconds per second of 1280x720 H.264 video, three ways, through ``detector.sources``.

* full decode — every frame decoded and converted to BGR (``analysis_fps`` = the clip's 25 fps): what a loop
  over ``cv2.VideoCapture.read()`` costs; the baseline.
* decode-and-drop — every frame decoded, only 1 frame/s converted (``keyframes_only=False``, 1 fps).
* keyframes only — non-key frames skipped inside the decoder (``keyframes_only=True``, 1 fps).

Each at a 1 s and a 4 s GOP. CPU time is the whole process's (decoder threads included), so the figure is
"cores busy per camera". At a 4 s GOP keyframes-only yields one frame per 4 s, fewer than 1 frame/s: the
sources choose it automatically only when the GOP is no longer than the analysis interval.
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, CpuTimer, Row
from bench.videos import street_clip

MODES = {
    "full decode": {"analysis_fps": 25.0, "keyframes_only": False},
    "decode-and-drop": {"analysis_fps": 1.0, "keyframes_only": False},
    "keyframes only": {"analysis_fps": 1.0, "keyframes_only": True},
}


def measure(path: str, analysis_fps: float, keyframes_only: bool, repeats: int, duration_s: float) -> dict[str, float]:
    """Read the whole clip ``repeats`` times with the project's VideoSource; CPU s per media s."""
    from detector.sources import open_source

    cpu = wall = media = 0.0
    frames = decoded = 0
    for _ in range(repeats):
        with CpuTimer() as t:
            src = open_source(path, "bench", analysis_fps=analysis_fps, keyframes_only=keyframes_only)
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
                measure(str(path), opts["analysis_fps"], opts["keyframes_only"], 1, duration)
            figures[mode] = measure(str(path), opts["analysis_fps"], opts["keyframes_only"], repeats, duration)
        details[f"gop{gop:g}s"] = figures
        base = figures["full decode"]["cpu_per_media_s"]
        for mode in ("decode-and-drop", "keyframes only"):
            f = figures[mode]
            note = f"{f['frames_out'] / f['media_s']:.2f} frames/s out"
            if mode == "keyframes only" and gop > 1.0:
                note += "; fewer than 1 frame/s, so the sources pick it only when GOP <= analysis interval"
            rows.append(Row(
                what=f"decode CPU, GOP {gop:g} s: {mode} vs full decode",
                project=f["cpu_per_media_s"], baseline=base, unit="CPU s/s", higher_is_better=False,
                project_label=mode, baseline_label="full decode", note=note))
    return rows, details
