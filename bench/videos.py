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


def street_clip(gop_s: float, duration_s: float = 20.0, fps: float = 25.0, size: tuple[int, int] = (1280, 720),
                quiet: bool = False) -> Path:
    """Path of a cached clip (made on first use). ``gop_s``: seconds between keyframes.

    ``quiet``: the same street with nothing moving (the scene frozen at its first instant, only sensor noise
    and compression shimmer change): a camera at a quiet hour, where motion gating can skip the model."""
    w, h = size
    kind = "quiet" if quiet else "street"
    path = VIDEO_DIR / f"{kind}_{w}x{h}_{fps:g}fps_gop{gop_s:g}s_{duration_s:g}s.mp4"
    if path.exists():
        return path
    from detector.synth.clip import FrameRenderer, build_plan, encode
    from detector.synth.scenarios import SCENARIOS

    VIDEO_DIR.mkdir(parents=True, exist_ok=True)
    plan = build_plan(SCENARIOS[SCENARIO], seed=7, duration_s=duration_s, fps=fps, size=size, name=path.stem)
    renderer = FrameRenderer(plan)
    if quiet:
        from detector.synth.scene import apply_look, composite

        still = renderer.bg.image.copy()
        composite(still, None, plan.camera, plan.objects_at(0.0), plan.look)

        def frame(i: int):  # the renderer's own look and noise bank, on a frozen scene
            noise = renderer.noise[i % len(renderer.noise)] if renderer.noise else None
            return apply_look(still.copy(), plan.look, renderer.bg.emissive, renderer.rng, rain_phase=1 + i % 10,
                              noise=noise)

        encode(frame, plan.frame_count, path, fps, size, crf=18, gop_s=gop_s)
    else:
        encode(renderer.frame, plan.frame_count, path, fps, size, crf=18, gop_s=gop_s)
    return path


def repeated_clip(path: Path, repeats: int) -> Path:
    """The clip played ``repeats`` times in one file (packets copied, timestamps shifted: no re-encode).
    RTSP serves a file once per client, so a benchmark longer than the clip needs a longer file."""
    import av

    out_path = path.with_name(f"{path.stem}_x{repeats}.mp4")
    if out_path.exists():
        return out_path
    tmp = out_path.with_suffix(".partial.mp4")
    with av.open(str(path)) as probe:
        stream = probe.streams.video[0]
        span = int(stream.duration or 0) or int(float(probe.duration) / 1e6 / float(stream.time_base))
    with av.open(str(tmp), "w") as out:
        with av.open(str(path)) as src:
            ostream = out.add_stream_from_template(src.streams.video[0])
        for k in range(repeats):
            with av.open(str(path)) as src:
                for packet in src.demux(video=0):
                    if packet.dts is None:
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + k * span
                    packet.dts += k * span
                    packet.stream = ostream
                    out.mux(packet)
    tmp.replace(out_path)
    return out_path


def zones_file(path: Path, camera_id: str, duration_s: float = 20.0, fps: float = 25.0) -> Path:
    """The zones file of the generated street for one camera id (the scene's shop fronts and pavement)."""
    import yaml

    from detector.synth.clip import build_plan
    from detector.synth.scenarios import SCENARIOS

    out = path.parent / "zones" / f"{camera_id}.yaml"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        plan = build_plan(SCENARIOS[SCENARIO], seed=7, duration_s=duration_s, fps=fps, size=(1280, 720), name=camera_id)
        out.write_text(yaml.safe_dump(plan.zones_document(), sort_keys=False), encoding="utf-8")
    return out


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
