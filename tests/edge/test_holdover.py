"""Held frames (the gate skipped the model) are no observations, and a run that loses a thing the rules follow
makes the camera's next frame go through the model (issue #18: the static gate as the default).

Scripted detections and pictures, media time only; the batcher test uses the real ONNX Runtime backend on a
tiny generated model, as tests/edge/test_batching.py does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from detector.batching import AnalysedFrame, Batcher
from detector.detections import Detections
from detector.events import EventType, ModelInfo
from detector.frames import Frame
from detector.gating import MotionGateConfig
from detector.inference import ModelConfig, load_backend
from detector.pipeline.analyzer import CameraAnalyzer
from detector.pipeline.build import CameraFeed, Pipeline
from detector.rules import RuleEngine
from tests.edge.test_rules import CHAIR, CMAP, NAMES, T0, WH, dets, zones

# zones(): dwell 10 s, clear 6 s, grace 3 s; CHAIR stands in z-a


def feed(engine: RuleEngine, script: dict[int, tuple[Detections, bool]], until: int,
         image: object = None) -> list:
    """Frames at t = 0..until: (detections, fresh) from the script, else nothing seen at a model run.
    ``image``: a callable t -> the frame's picture (the pixel check), or None."""
    events = []
    for t in range(until + 1):
        d, fresh = script.get(t, (dets(), True))
        img = image(t) if callable(image) else None
        events += engine.update(d, float(t), T0 + timedelta(seconds=t), WH, image=img, fresh=fresh)
    return events


def test_a_held_absence_does_not_clear_an_open_episode() -> None:
    # a run at 21 s has someone in front of the chair; the gate holds that result until the run at 36 s
    script = {t: (dets(CHAIR), True) for t in range(0, 21)}
    script.update({t: (dets(), t == 21) for t in range(21, 36)})
    script[36] = (dets(CHAIR), True)
    engine = zones()
    assert [e.type for e in feed(engine, script, 36)] == [EventType.STARTED]
    assert not engine.missing  # seen again at 36 s
    # the same frames all fresh (the model saw nothing from 21 to 35 s): the episode clears after clear_s
    fresh = {t: (d, True) for t, (d, _) in script.items()}
    events = feed(zones(), fresh, 36)
    assert [e.type for e in events] == [EventType.STARTED, EventType.CLEARED] and events[1].observed_t == 26


def test_a_fresh_absence_clears_at_the_next_run_with_the_last_sighting_as_end() -> None:
    script = {t: (dets(CHAIR), True) for t in range(0, 21)}
    script.update({t: (dets(), t in (21, 27)) for t in range(21, 30)})
    events = feed(zones(), script, 29)
    assert [e.type for e in events] == [EventType.STARTED, EventType.CLEARED]
    assert events[1].observed_t == 27 and events[1].ended_t == 20  # not at 26 s: that frame was held


def _run_as_the_batcher_would(engine: RuleEngine, seen_until: int, until: int) -> tuple[list[int], list]:
    """The chair in view until ``seen_until``, then gone; a frame goes through the model only at the start
    (until it is lost) or when the rules asked for a look (``missing`` after the previous frame): the static gate
    skips the rest (nothing changes in the picture). Returns the model-run times and the events."""
    runs, events, asked, last = [], [], False, dets(CHAIR)
    for t in range(until + 1):
        fresh = t <= seen_until + 1 or asked
        d = (dets(CHAIR) if t <= seen_until else dets()) if fresh else last
        events += engine.update(d, float(t), T0 + timedelta(seconds=t), WH, fresh=fresh)
        if fresh:
            runs.append(t)
            last = d
        asked = engine.missing
    return runs, events


def test_missing_asks_for_fewer_looks_the_longer_a_followed_thing_stays_lost() -> None:
    """Lost at 15 s (clear_s 6): a look on the next frame, then after 1, 2 ... s, and when the clear is due; the
    episode clears on time (at 20 s), with 5 model runs instead of one on every frame."""
    engine = zones()
    runs, events = _run_as_the_batcher_would(engine, seen_until=14, until=30)
    assert [e.type for e in events] == [EventType.STARTED, EventType.CLEARED]
    assert events[1].ended_t == 14 and events[1].observed_t == 14 + 6
    assert [t for t in runs if t >= 15] == [15, 16, 17, 19, 20]
    assert not engine.missing  # cleared: nothing followed any more
    # an open episode whose object comes back after 3 s: seen again at the next look, and no more asking
    engine = zones()
    for t in range(15):
        engine.update(dets(CHAIR), float(t), T0 + timedelta(seconds=t), WH)
    for t in (15, 16):
        engine.update(dets(), float(t), T0 + timedelta(seconds=t), WH)
    engine.update(dets(), 17.0, T0 + timedelta(seconds=17), WH)
    assert not engine.missing  # missed three times: the next look is due at 19 s
    engine.update(dets(), 18.0, T0 + timedelta(seconds=18), WH, fresh=False)
    assert engine.missing  # asked on the frame before
    engine.update(dets(CHAIR), 19.0, T0 + timedelta(seconds=19), WH)
    assert not engine.missing and engine.open_episodes()
    # a thing seen at one run only (a bag carried past) asks for nothing
    engine = zones()
    engine.update(dets(CHAIR), 0.0, T0, WH)
    engine.update(dets(), 1.0, T0 + timedelta(seconds=1), WH)
    assert not engine.missing


def test_a_held_gap_longer_than_grace_keeps_a_pending_reference() -> None:
    script = {t: (dets(CHAIR), True) for t in (0, 1, 2)}
    script.update({t: (dets(), t == 3) for t in range(3, 9)})  # lost at the run at 3 s, held to 8 s (> grace)
    script.update({t: (dets(CHAIR), True) for t in range(9, 12)})
    events = feed(zones(), script, 11)
    assert [(e.type, e.started_t) for e in events] == [(EventType.STARTED, 0)]


def test_held_frames_are_no_pixel_check_or_vote() -> None:
    """Passers-by in front of the chair on held frames (its held box on a fresh picture) cost it nothing."""
    still = np.full((WH[1], WH[0]), 90, np.uint8)
    still[700:800, 100:150] = 30  # the chair: dark left half, light right half
    still[700:800, 150:200] = 200

    def picture(t: int) -> np.ndarray:
        if t % 3 == 0:
            return still
        busy = still.copy()  # someone else in front of the chair's box each held frame, somewhere else each time
        x = 100 + (t * 37) % 80
        busy[700:800, x:x + 20] = 255
        busy[700:750, 100:200] = 0
        return busy

    held = {t: (dets(CHAIR, ("person", (500, 100, 520, 150))), t % 3 == 0) for t in range(0, 20)}
    assert [e.type for e in feed(zones(), held, 19, image=picture)] == [EventType.STARTED]
    # the same frames counted as fresh: the chair's crop changes on two frames of three and it never starts
    fresh = {t: (d, True) for t, (d, _) in held.items()}
    assert feed(zones(), fresh, 19, image=picture) == []


def _frame(t: float, value: int = 100) -> Frame:
    return Frame("cam-v", np.full((240, 320, 3), value, np.uint8), t, datetime(2026, 5, 1, 8, 0, tzinfo=UTC))


@pytest.mark.parametrize("mode", ["motion", "static"])
def test_verify_runs_the_model_on_the_next_frame_once(mode: str, tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="building the test model needs the onnx package (train extra)")
    from detector.inference.testing import write_fixed_output_model

    model = write_fixed_output_model(tmp_path / "m.onnx", [[100, 200, 300, 400, 0.9, 0]], ["bin"])
    batcher = Batcher(load_backend(ModelConfig(path=str(model))), gate=MotionGateConfig(mode=mode, max_skip_s=60))
    inferred = []
    for t in range(8):
        if t == 4:
            batcher.verify("cam-v")
        (r,) = batcher.infer([_frame(float(t))])
        inferred.append(r.inferred)
    assert inferred == [True, False, False, False, True, False, False, False]  # a still picture: only 0 and 4
    assert batcher.frames_verified == 1 and batcher.frames_inferred == 2


class ScriptedBatcher:
    """Stands in for the Batcher in Pipeline.step: hands out scripted results, records verify calls."""

    def __init__(self, results: list[AnalysedFrame]) -> None:
        self.results = results
        self.verified: list[float] = []
        self.now = 0.0

    def step(self, feeds: object, timeout: float = 0.2) -> list[AnalysedFrame]:
        if not self.results:
            for f in feeds:  # type: ignore[attr-defined]
                f.done = True
            return []
        r = self.results.pop(0)
        self.now = r.frame.pts_s
        return [r]

    def verify(self, camera_id: str) -> None:
        self.verified.append(self.now)


def raw(*items: tuple[str, tuple[float, float, float, float]]) -> Detections:
    """The model's detections as the batcher hands them on (the analyser applies the class map)."""
    return Detections(xyxy=np.array([b for _, b in items], np.float32).reshape(-1, 4),
                      confidence=np.full(len(items), 0.8, np.float32),
                      class_id=np.array([NAMES.index(c) for c, _ in items], np.int64), class_names=NAMES)


def test_the_pipeline_passes_held_frames_on_and_asks_for_a_look() -> None:
    engine = zones()
    analyzer = CameraAnalyzer("cam-01", engine.zones_file, CMAP, ModelInfo(name="m", version="1"))
    image = np.zeros((WH[1], WH[0], 3), np.uint8)

    def result(t: int, d: Detections, inferred: bool) -> AnalysedFrame:
        return AnalysedFrame(Frame("cam-01", image, float(t), T0 + timedelta(seconds=t)), d, inferred)

    # chair from 0 to 20 s (episode from 10 s), lost at the run at 21 s, the gate holding that until 36 s
    results = [result(t, raw(CHAIR), True) for t in range(0, 21)]
    results += [result(t, raw(), t == 21) for t in range(21, 36)]
    results.append(result(36, raw(CHAIR), True))
    batcher = ScriptedBatcher(results)
    sink = SimpleNamespace(emitted=[])
    sink.emit = lambda feed, emitted: sink.emitted.append(emitted.episode.type)
    cam = SimpleNamespace(id="cam-01", stop=lambda: None)
    feed_ = CameraFeed(config=cam, analyzer=analyzer, camera=cam)  # type: ignore[arg-type]
    pipeline = Pipeline(SimpleNamespace(), None, CMAP, batcher, [feed_], sink)  # type: ignore[arg-type]
    pipeline.run()
    assert sink.emitted == [EventType.STARTED]  # not cleared by the held absence
    assert batcher.verified == list(range(21, 36))  # every frame after the losing run asks for a model run
    assert feed_.counts.inferred == 23 and feed_.counts.gated == 14
