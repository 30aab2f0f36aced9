"""Static-change gate (``gating.mode: static``): people walking across a still street never wake the model
(after warm-up only the forced re-checks run it), something put down and left does within a few seconds of
media time after it stops moving, so does its removal, and the forced re-check keeps its ceiling. Scripted
640x360 frames with sensor noise, at the analysis rates the edge runs (0.5-2 analyses/s), fed the way the
Batcher feeds a gate (a camera's first frame only to ``mark_inferred``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pytest

from detector.batching import Batcher
from detector.detections import Detections
from detector.frames import Frame
from detector.gating import MotionGate, MotionGateConfig, StaticChangeConfig, StaticChangeMap

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
RATES = [0.5, 1.0, 2.0]  # analyses per second of media time
HOLD_S = StaticChangeConfig().hold_s


def _street(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (36, 64, 3), dtype=np.uint8)
    return np.kron(base, np.ones((10, 10, 1), np.uint8))  # 360x640 blocky "scene"


NOISE = [np.random.default_rng(k).normal(0, 3, (360, 640, 3)).astype(np.int16) for k in range(7)]  # sensor noise


@dataclass
class Scene:
    """A still street with walkers (uniform blobs crossing at their own speed) and things put down."""

    background: np.ndarray = field(default_factory=_street)
    walkers: int = 6
    # (x0, y0, x1, y1, grey, from_s, to_s): a dark box present from from_s until to_s
    things: list[tuple[int, int, int, int, int, float, float]] = field(default_factory=list)
    brightness: Callable[[float], float] = lambda t: 0.0

    def at(self, t: float) -> np.ndarray:
        img = self.background.astype(np.int16) + round(self.brightness(t))
        for x0, y0, x1, y1, grey, t_from, t_to in self.things:
            if t_from <= t < t_to:
                img[y0:y1, x0:x1] = grey
        for k in range(self.walkers):  # 30x80 px people, 35-80 px/s, both ways, never stopping
            speed = (35 + 9 * k) * (1 if k % 2 else -1)
            x = int((100 * k + speed * t) % 700) - 30
            y = 150 + 27 * k
            img[y : y + 80, max(0, x) : max(0, x + 30)] = (230, 40, 120, 20, 200, 90)[k % 6]
        img += NOISE[round(t * 4) % len(NOISE)]
        return np.clip(img, 0, 255).astype(np.uint8)


def _frames(scene: Scene, fps: float, duration_s: float) -> list[Frame]:
    return [Frame("cam-01", scene.at(i / fps), i / fps, T0) for i in range(int(duration_s * fps))]


def _model_runs(gate: MotionGate, frames: list[Frame]) -> list[float]:
    """Media times at which the model ran, the way the Batcher drives a gate."""
    runs = []
    for i, frame in enumerate(frames):
        if i == 0 or gate.should_infer(frame):  # no previous detections yet: no question asked
            gate.mark_inferred(frame)
            runs.append(frame.pts_s)
    return runs


def _gate(max_skip_s: float = 10.0) -> MotionGate:
    return MotionGate(MotionGateConfig(mode="static", max_skip_s=max_skip_s))


@pytest.mark.parametrize("fps", RATES)
def test_people_walking_past_run_the_model_only_at_the_forced_rechecks(fps: float) -> None:
    frames = _frames(Scene(), fps, 90)
    runs = _model_runs(_gate(max_skip_s=10.0), frames)
    gaps = np.diff(runs)
    assert gaps.min() >= 10.0 and gaps.max() < 10.0 + 1 / fps, runs  # every run after the first is forced
    # the motion gate, by comparison, runs the model on every frame of this street
    assert len(_model_runs(MotionGate(mode="motion", max_skip_s=10.0), frames)) == len(frames)


@pytest.mark.parametrize("fps", RATES)
def test_a_thing_put_down_and_left_runs_the_model_soon_after_it_stops_moving(fps: float) -> None:
    carried = [(50 + 30 * k, 280, 100 + 30 * k, 320, 25, 26 + k * 0.5, 26.5 + k * 0.5) for k in range(8)]
    stays = (290, 280, 340, 320, 25, 30.0, 1e9)  # carried in from 26 s, put down at 30 s
    frames = _frames(Scene(things=[*carried, stays]), fps, 60)
    runs = _model_runs(_gate(max_skip_s=120.0), frames)  # no forced re-check in this window
    assert runs[0] == 0.0
    assert len(runs) >= 2 and 30.0 < runs[1] <= 30.0 + HOLD_S + 2, runs  # nothing while it was carried
    # then it is part of what stays: the walkers wake nothing, but a run while one of them was in front of the
    # bag is followed by one more once it is in view (that run's detections may lack the bag)
    assert len(runs) <= 4, runs


@pytest.mark.parametrize("fps", RATES)
def test_a_thing_taken_away_runs_the_model(fps: float) -> None:
    bag = (290, 280, 340, 320, 25, 0.0, 40.0)  # there from the start, gone at 40 s
    runs = _model_runs(_gate(max_skip_s=120.0), _frames(Scene(things=[bag]), fps, 70))
    assert runs[0] == 0.0 and len(runs) == 2 and 40.0 < runs[1] <= 40.0 + HOLD_S + 2, runs


def test_forced_rechecks_keep_their_ceiling_with_the_batchers_phase() -> None:
    gate = MotionGate(MotionGateConfig(mode="static", max_skip_s=8.0), phase=0.5)
    runs = _model_runs(gate, _frames(Scene(), 1.0, 60))
    assert runs[:2] == [0.0, 4.0]  # the first re-check comes `phase` early, so cameras do not re-check together
    assert max(np.diff(runs)) <= 8.0


def test_a_static_thing_hidden_at_a_run_is_looked_at_again_once_in_view() -> None:
    """A run while someone walked in front of the bag would have its detections held until the next forced
    re-check (they may lack the bag); once the bag is settled in view again the model runs once more."""
    still = np.full((90, 160), 100, np.uint8)
    bag = still.copy()
    bag[60:70, 40:50] = 30
    m = StaticChangeMap(StaticChangeConfig(hold_s=2), pixel_threshold=20)
    for t in range(0, 10):
        m.update(still if t < 4 else bag, float(t))
    m.mark()  # the model has seen the bag
    hidden = bag.copy()
    hidden[50:80, 35:55] = 220  # a passer-by right in front of it...
    m.update(hidden, 10.0)
    m.mark()  # ...when the model ran
    m.update(bag, 11.0)  # gone on: the bag is in view but not settled yet
    assert m.changed_fraction() == 0.0
    m.update(bag, 13.0)
    assert m.changed_fraction() > MotionGateConfig().changed_fraction
    m.mark()
    m.update(bag, 14.0)
    assert m.changed_fraction() == 0.0


def test_lighting_drift_and_an_exposure_step_are_not_new_things() -> None:
    def light(t: float) -> float:
        return 0.3 * t + (25.0 if t >= 40 else 0.0)  # 27 grey levels of drift over 90 s, and a step at 40 s

    runs = _model_runs(_gate(max_skip_s=120.0), _frames(Scene(brightness=light), 1.0, 90))
    assert runs == [0.0]


def test_the_view_jumps_the_model_runs_and_the_background_is_learnt_again() -> None:
    scene = Scene()
    other = _street(seed=11)  # the camera was knocked: another picture altogether
    frames = [Frame("cam-01", scene.at(t) if t < 30 else Scene(background=other).at(t), float(t), T0)
              for t in range(80)]
    gate = _gate(max_skip_s=120.0)
    runs = _model_runs(gate, frames)
    assert runs[0] == 0.0 and 30.0 <= runs[1] <= 30.0 + HOLD_S + 1, runs
    assert len(runs) <= 3 and runs[-1] <= 30.0 + 2 * HOLD_S + 1, runs  # then quiet again: the walkers only


def test_first_frame_new_picture_size_and_time_going_back_run_the_model() -> None:
    scene = Scene()
    gate = _gate(max_skip_s=120.0)
    small = scene.at(5.0)[:180, :320]
    frames = [Frame("cam-01", scene.at(t), t, T0) for t in (50.0, 51.0, 52.0)]
    assert _model_runs(gate, frames) == [50.0]
    assert gate.should_infer(Frame("cam-01", scene.at(3.0), 3.0, T0))  # a file looped, a camera restarted
    assert gate.should_infer(Frame("cam-01", small, 53.0, T0))  # camera reconfigured (or the zone crop moved)


class FakeBackend:
    """One fixed detection per image; records how many images it was given."""

    backend, max_batch, class_names, imgsz = "fake", 8, ("bin",), 640

    def __init__(self) -> None:
        self.images = 0

    def input_size(self, images: list[np.ndarray]) -> tuple[int, int]:
        return (384, 640)

    def infer(self, images: list[np.ndarray]) -> list[Detections]:
        self.images += len(images)
        box = Detections(xyxy=np.array([[290, 280, 340, 320]], np.float32), confidence=np.array([0.9], np.float32),
                         class_id=np.array([0]), class_names=self.class_names)
        return [box for _ in images]


def test_the_batcher_runs_a_static_gate_from_the_config() -> None:
    backend = FakeBackend()
    batcher = Batcher(backend, gate=MotionGateConfig(mode="static", max_skip_s=120.0))  # type: ignore[arg-type]
    results = [r for frame in _frames(Scene(), 1.0, 40) for r in batcher.infer([frame])]
    assert backend.images == 1 and sum(r.inferred for r in results) == 1  # walkers only: the first frame
    assert all(len(r.detections) == 1 for r in results)  # the held detections fill the skipped frames


def test_static_settings_are_typed() -> None:
    cfg = MotionGateConfig.model_validate({"mode": "static", "static": {"hold_s": 4, "background_s": 300}})
    assert cfg.static.hold_s == 4 and MotionGateConfig().mode == "static"
    with pytest.raises(ValueError):
        MotionGateConfig.model_validate({"mode": "still"})
    with pytest.raises(ValueError):
        MotionGateConfig.model_validate({"static": {"hold": 4}})
