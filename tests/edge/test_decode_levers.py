"""Issue #18 lever 5, cheaper decode for quiet streets: the loop-filter flag reaches the decoder and the shipped
model's boxes agree on its pictures; the adaptive analysis interval stretches after ``quiet_s`` of an unchanged
picture, is capped by the zones, and snaps back at once when the model finds something else; with keyframe-only
decode the keyframes it does not need are demuxed but never decoded; through the real pipeline (shipped model,
``frontage analyze``'s file camera) the stretch happens at the same media times on every run."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from detector.config import CameraConfig
from detector.detections import Detections
from detector.inference import ModelConfig, load_backend
from detector.inference.agreement import mutual_agreement
from detector.inference.autoselect import SCORE_TOLERANCE
from detector.sources import AdaptiveIntervalConfig, AnalysisCadence, DecodeOptions, open_source
from detector.zones.schema import ZonesFile

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "frontage-n.onnx"
CLIP = ROOT / "sample_videos" / "market-street-day.mp4"
ZONES = CLIP.with_suffix(".zones.yaml")
CHANGE_S = 12  # the still-then-change clip: the street at 0 s until here, then the street at 70 s


def _box(x: float, cls: int = 0) -> Detections:
    return Detections(xyxy=np.array([[x, 100.0, x + 40.0, 160.0]]), confidence=np.array([0.7]),
                      class_id=np.array([cls]), class_names=("bag", "bike"))


def _keyframes(path: Path, count: int, **decode: object) -> list[np.ndarray]:
    src = open_source(str(path), "cam", analysis_fps=0.5, decode=DecodeOptions(keyframes="keyframes", threads=1,
                                                                                **decode))  # type: ignore[arg-type]
    images = []
    for frame in src.frames():  # type: ignore[attr-defined]
        images.append(frame.image)
        if len(images) == count:
            break
    src.close()  # type: ignore[attr-defined]
    return images


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    if not MODEL.exists() or not CLIP.exists():
        pytest.skip("the shipped model or the sample clips are not in the repository")
    return load_backend(ModelConfig(path=str(MODEL), backend="onnxruntime"))


@pytest.fixture(scope="module")
def still_then_change(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s, 10 fps, 1 s GOP, no B-frames: the sample street frozen at 0 s for CHANGE_S s, then frozen at 70 s
    (other goods and bikes stand there): a quiet camera whose picture changes once."""
    import av

    if not CLIP.exists():
        pytest.skip("the sample clips are not in the repository")
    pictures = _keyframes(CLIP, 36)
    before, after = pictures[0], pictures[35]
    path = tmp_path_factory.mktemp("quiet") / "still-then-change.mp4"
    h, w = before.shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        stream.options = {"preset": "ultrafast", "g": "10", "keyint_min": "10", "sc_threshold": "0", "bf": "0",
                          "crf": "20"}
        for i in range(200):
            frame = av.VideoFrame.from_ndarray(before if i < CHANGE_S * 10 else after, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_loop_filter_flag_reaches_the_decoder_and_the_models_boxes_agree(backend) -> None:  # type: ignore[no-untyped-def]
    assert CameraConfig(id="c", url="x.mp4", zones=Path("z.yaml"), skip_loop_filter=True).decode_options() == \
        DecodeOptions(skip_loop_filter=True)
    plain = _keyframes(CLIP, 8)
    unfiltered = _keyframes(CLIP, 8, skip_loop_filter=True)
    assert len(unfiltered) == len(plain) == 8
    diffs = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(plain, unfiltered, strict=True)]
    assert max(diffs) > 0, "the flag did not reach the decoder: pictures are bit-identical"
    assert max(diffs) < 1.0, diffs  # well under one grey level on average
    a = [d for image in plain for d in backend.infer([image])]
    b = [d for image in unfiltered for d in backend.infer([image])]
    assert sum(len(d) for d in a) >= 8  # the street has things on it: the agreement means something
    assert mutual_agreement(a, b, SCORE_TOLERANCE) >= 0.9


def test_adaptive_interval_stretches_after_quiet_seconds_and_snaps_back() -> None:
    cadence = AnalysisCadence(1.0, AdaptiveIntervalConfig(enabled=True, quiet_s=5.0))
    intervals = []
    for t in range(8):  # the model ran at 0 s, the gate skipped every frame after it
        cadence.observe(float(t), inferred=t == 0, detections=_box(10))
        intervals.append(cadence.interval_s)
    assert intervals == [1.0] * 5 + [2.0] * 3
    cadence.observe(9.0, inferred=True, detections=_box(11))  # a forced re-check: the same bag, a pixel over
    assert cadence.interval_s == 2.0
    cadence.observe(11.0, inferred=True, detections=_box(200))  # the gate let a frame through: something moved
    assert cadence.interval_s == 1.0
    cadence.observe(12.0, inferred=False, detections=_box(200))
    assert cadence.interval_s == 1.0  # quiet_s starts again from the change
    cadence.observe(16.0, inferred=False, detections=_box(200))
    assert cadence.interval_s == 2.0
    cadence.observe(18.0, inferred=True, detections=_box(200, cls=1))  # same place, other class: a change
    assert cadence.interval_s == 1.0
    off = AnalysisCadence(1.0, AdaptiveIntervalConfig(enabled=False, quiet_s=1.0))
    for t in range(5):
        off.observe(float(t), inferred=False, detections=_box(10))
    assert off.interval_s == 1.0


def test_stretched_interval_is_capped_by_the_zones_dwell_clear_and_grace() -> None:
    zone = {"id": "z", "kind": "storefront", "polygon": [[0, 0], [1, 0], [1, 1]], "forbid": ["exposed_garbage"]}
    short_grace = ZonesFile.model_validate({"camera": "c", "defaults": {"grace_s": 3}, "zones": [zone]})
    short_clear = ZonesFile.model_validate({"camera": "c", "zones": [{**zone, "clear_s": 6}]})
    current = [short_grace]
    cadence = AnalysisCadence(1.0, AdaptiveIntervalConfig(enabled=True, quiet_s=1.0, stretch=4.0),
                              zones=lambda: current[0])
    assert cadence.stretched_interval_s() == 1.0  # 0.25 x 3 s is below the normal interval: never stretched
    current[0] = short_clear  # zones reloaded at run time: the cap follows
    assert cadence.stretched_interval_s() == 1.5
    assert AnalysisCadence(1.0, AdaptiveIntervalConfig(stretch=4.0)).stretched_interval_s() == 2.5  # defaults: grace 10 s
    assert AnalysisCadence(0.5, AdaptiveIntervalConfig()).stretched_interval_s() == 2.5  # 2 s -> 4 s, capped


def test_undue_keyframes_are_demuxed_but_not_decoded(still_then_change: Path) -> None:
    cadence = AnalysisCadence(1.0, AdaptiveIntervalConfig(enabled=True, quiet_s=5.0))
    src = open_source(str(still_then_change), "cam", analysis_fps=1.0, cadence=cadence)
    picked = []
    for frame in src.frames():  # type: ignore[attr-defined]
        t = round(frame.pts_s, 2)
        picked.append(t)
        # scripted gate: the model ran at 0 s; at 11 s it ran again and found something else
        cadence.observe(frame.pts_s, inferred=t in (0.0, 11.0), detections=_box(10 if t < 11 else 300))
    src.close()  # type: ignore[attr-defined]
    stats = src.stats  # type: ignore[attr-defined]
    assert stats.keyframes_only
    # every second until 5 s of quiet, then every 2 s; the change at 11 s brings every second back at once
    assert picked == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 18.0]
    assert stats.keyframes_demuxed == 20
    assert stats.frames_decoded == len(picked)  # only what was picked went through the decoder
    assert stats.keyframes_skipped == 20 - len(picked) == 5
    # without the cadence: every keyframe decoded, one frame a second
    fixed = open_source(str(still_then_change), "cam", analysis_fps=1.0)
    assert [round(f.pts_s) for f in fixed.frames()] == list(range(20))  # type: ignore[attr-defined]
    fixed.close()  # type: ignore[attr-defined]
    assert fixed.stats.frames_decoded == 20 and fixed.stats.keyframes_skipped == 0  # type: ignore[attr-defined]


def _analyse(clip: Path, adaptive: bool) -> tuple[list[tuple[float, bool]], object]:
    from detector.pipeline.build import build_pipeline
    from detector.pipeline.offline import ReportSink, analysis_config

    cfg = analysis_config(clip, ZONES, model=MODEL, backend="onnxruntime")
    cam = cfg.cameras[0]
    # motion gate: the cut to another picture is let through at once (the static gate, the default, waits until
    # the new picture has settled, static.hold_s, and this measures the cadence's snap-back, not that wait)
    cfg = cfg.model_copy(update={"gating": cfg.gating.model_copy(update={"mode": "motion"}), "cameras": [
        cam.model_copy(update={"adaptive_interval": cam.adaptive_interval.model_copy(update={"enabled": adaptive})})]})
    pipeline = build_pipeline(cfg, ReportSink(), keep_episodes=True, file_attempts=1)
    seen: list[tuple[float, bool]] = []
    inferred_before = [0]

    def on_frame(feed, frame, detections) -> None:  # type: ignore[no-untyped-def]
        seen.append((round(frame.pts_s, 2), feed.counts.inferred > inferred_before[0]))
        inferred_before[0] = feed.counts.inferred

    pipeline.on_frame = on_frame
    try:
        pipeline.run()
    finally:
        pipeline.close()
    return seen, pipeline.feeds[0].stats


def test_analyze_stretches_a_quiet_camera_and_snaps_back_on_a_change(still_then_change: Path, backend) -> None:  # type: ignore[no-untyped-def]
    before, after = _keyframes(still_then_change, 2)[0], _keyframes(still_then_change, 10)[-1]
    a, b = backend.infer([before])[0], backend.infer([after])[0]
    assert len(a) and len(b) and mutual_agreement([a], [b], 1.0) < 1.0  # the model sees the change

    seen, stats = _analyse(still_then_change, adaptive=True)
    times = [t for t, _ in seen]
    quiet = [t for t in times if 6 <= t < CHANGE_S]
    assert quiet and all(round(y - x, 2) == 2.0 for x, y in itertools.pairwise(quiet)), times
    change = next(t for t, inferred in seen if inferred and t >= CHANGE_S)  # the gate let the change through
    assert change <= CHANGE_S + 1.0
    assert [t for t in times if change <= t <= change + 3] == [change, change + 1, change + 2, change + 3]
    assert stats.keyframes_skipped > 0 and stats.frames_decoded == len(times)  # type: ignore[attr-defined]
    again, _ = _analyse(still_then_change, adaptive=True)
    assert again == seen  # media time, not wall time: every run stretches at the same frames
    fixed, fixed_stats = _analyse(still_then_change, adaptive=False)
    assert [t for t, _ in fixed] == [float(t) for t in range(20)]
    assert fixed_stats.keyframes_skipped == 0  # type: ignore[attr-defined]
