"""Motion gate: a static scene is skipped (even with sensor noise and compression), a change triggers the
model, and a re-check is forced after max_skip_s of media time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from detector.frames import Frame
from detector.gating import MotionGate, MotionGateConfig
from detector.sources import open_source

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _frame(image: np.ndarray, t: float) -> Frame:
    return Frame("cam-01", image, t, T0)


@pytest.fixture()
def street() -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.integers(40, 200, (36, 64, 3), dtype=np.uint8)
    return np.kron(base, np.ones((20, 20, 1), np.uint8))  # 720x1280 blocky "scene"


def _run(gate: MotionGate, frames: list[Frame]) -> list[bool]:
    decisions = []
    for frame in frames:
        run = gate.should_infer(frame)
        if run:
            gate.mark_inferred(frame)
        decisions.append(run)
    return decisions


def test_static_scene_is_skipped_until_max_skip(street: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    noisy = [np.clip(street + rng.normal(0, 3, street.shape), 0, 255).astype(np.uint8) for _ in range(25)]
    gate = MotionGate(mode="motion", max_skip_s=10.0)
    decisions = _run(gate, [_frame(img, float(t)) for t, img in enumerate(noisy)])
    # first frame, then nothing until 10 s of media time have passed, then again 10 s later
    assert [t for t, run in enumerate(decisions) if run] == [0, 10, 20]
    assert gate.last_changed_fraction < gate.config.changed_fraction


def test_change_triggers_and_becomes_the_new_reference(street: np.ndarray) -> None:
    gate = MotionGate(mode="motion", max_skip_s=60.0)
    with_bag = street.copy()
    with_bag[500:620, 300:380] = (30, 30, 30)  # a dark bag put down: ~1 % of the picture
    frames = [street, street, with_bag, with_bag, with_bag, street]
    decisions = _run(gate, [_frame(img, float(t)) for t, img in enumerate(frames)])
    assert decisions == [True, False, True, False, False, True]  # removal is a change too


def test_small_object_far_away_still_counts(street: np.ndarray) -> None:
    """A 40x40 px object in a 1280x720 frame (0.17 %) must not vanish in the downscale."""
    gate = MotionGate(mode="motion", max_skip_s=60.0)
    img = street.copy()
    img[100:140, 1000:1040] = 255
    assert _run(gate, [_frame(street, 0.0), _frame(img, 1.0)]) == [True, True]


def test_disabled_gate_and_time_going_backwards(street: np.ndarray) -> None:
    assert _run(MotionGate(enabled=False), [_frame(street, 0.0), _frame(street, 1.0)]) == [True, True]
    gate = MotionGate(MotionGateConfig(mode="motion", max_skip_s=5.0))
    assert _run(gate, [_frame(street, 50.0), _frame(street, 51.0), _frame(street, 2.0)]) == [True, False, True]
    small = street[:360, :640]  # a new resolution (camera reconfigured): compare nothing, run the model
    assert _run(gate, [_frame(small, 3.0)]) == [True]


@pytest.mark.shared
def test_real_footage_motion(shared_dir: Path) -> None:
    """PETS campus (people walking): most frames trigger; the same frame repeated never does."""
    src = open_source(str(shared_dir / "videos" / "pets2009_campus_480x360.avi"), "cam", analysis_fps=1.0)
    frames = list(src.frames())[:20]
    src.close()
    gate = MotionGate(mode="motion", max_skip_s=30.0)
    moving = _run(gate, frames)
    assert sum(moving) >= 15
    gate = MotionGate(mode="motion", max_skip_s=30.0)
    still = _run(gate, [Frame("cam", frames[0].image.copy(), float(t), T0) for t in range(10)])
    assert still == [True] + [False] * 9
