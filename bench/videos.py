"""Benchmark source videos: 1280x720 H.264 at 25 fps, made by the project's own scene generator.

A street scene from ``detector.synth`` (people walking, objects appearing: real motion for the decoder and
the motion gate) encoded with ``detector.synth.clip.encode`` at a chosen GOP. Files are cached in the
git-ignored ``var/bench/videos/``; the name says what they are, so a changed request makes a new file.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO_DIR = ROOT / "var" / "bench" / "videos"
SCENARIO = "market-street-day"


def street_clip(gop_s: float, duration_s: float = 20.0, fps: float = 25.0, size: tuple[int, int] = (1280, 720)) -> Path:
    """Path of a cached clip (made on first use). ``gop_s``: seconds between keyframes."""
    w, h = size
    path = VIDEO_DIR / f"street_{w}x{h}_{fps:g}fps_gop{gop_s:g}s_{duration_s:g}s.mp4"
    if path.exists():
        return path
    from detector.synth.clip import FrameRenderer, build_plan, encode
    from detector.synth.scenarios import SCENARIOS

    VIDEO_DIR.mkdir(parents=True, exist_ok=True)
    plan = build_plan(SCENARIOS[SCENARIO], seed=7, duration_s=duration_s, fps=fps, size=size, name=path.stem)
    renderer = FrameRenderer(plan)
    # Render each frame once even though encode() asks by index (the renderer is the slow part).
    encode(renderer.frame, plan.frame_count, path, fps, size, crf=18, gop_s=gop_s)
    return path


def frames_from(path: Path, count: int) -> list:
    """The first ``count`` decoded frames of a clip as BGR arrays (inference benchmarks feed these)."""
    import av

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="bgr24"))
            if len(out) >= count:
                break
    return out


if __name__ == "__main__":
    import sys
    import time

    t = time.perf_counter()
    p = street_clip(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0, float(sys.argv[2]) if len(sys.argv) > 2 else 20.0)
    print(p, p.stat().st_size, f"{time.perf_counter() - t:.1f}s")
