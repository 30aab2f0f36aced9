"""Training stills and sprites: determinism, box sanity, BGRA sprites (all real rendering, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest

from detector.synth import LabeledFrame, class_names, random_labeled_frames, render_object

SIZE = (480, 270)


@pytest.fixture(scope="module")
def frames() -> list[LabeledFrame]:
    return list(random_labeled_frames(8, seed=11, size=SIZE))


def test_same_seed_same_frames(frames: list[LabeledFrame]) -> None:
    again = list(random_labeled_frames(3, seed=11, size=SIZE))
    for a, b in zip(frames[:3], again, strict=True):
        assert np.array_equal(a.image, b.image)
        assert np.array_equal(a.xyxy, b.xyxy)
        assert a.class_names == b.class_names
    other = next(random_labeled_frames(1, seed=12, size=SIZE))
    assert not np.array_equal(other.image, frames[0].image)


def test_labels_inside_frame_and_known(frames: list[LabeledFrame]) -> None:
    names = set(class_names())
    total = 0
    for f in frames:
        h, w = f.image.shape[:2]
        assert f.image.dtype == np.uint8 and f.image.shape == (SIZE[1], SIZE[0], 3)
        assert f.xyxy.dtype == np.float32 and f.xyxy.shape == (len(f.class_names), 4)
        assert set(f.class_names) <= names
        if len(f.xyxy):
            assert (f.xyxy[:, 0] >= 0).all() and (f.xyxy[:, 1] >= 0).all()
            assert (f.xyxy[:, 2] <= w).all() and (f.xyxy[:, 3] <= h).all()
            assert (f.xyxy[:, 2] > f.xyxy[:, 0]).all() and (f.xyxy[:, 3] > f.xyxy[:, 1]).all()
        total += len(f.xyxy)
    assert total > 10


def test_boxes_cover_drawn_pixels(frames: list[LabeledFrame]) -> None:
    """A labelled box is where something was drawn: its content differs from a plain blur of the scene."""
    for f in frames:
        for box in f.xyxy:
            x0, y0, x1, y1 = (int(v) for v in box)
            patch = f.image[y0:y1, x0:x1].astype(np.float32)
            assert patch.size > 0 and patch.std() > 2.0


def test_render_object_bgra_tight() -> None:
    rng = np.random.default_rng(5)
    for name in class_names():
        sprite = render_object(name, rng, 64)
        assert sprite.dtype == np.uint8 and sprite.ndim == 3 and sprite.shape[2] == 4
        assert sprite.shape[0] == 64 and sprite.shape[1] >= 1
        alpha = sprite[:, :, 3]
        assert (alpha.max() == 255 and alpha.min() == 0) or alpha.mean() > 200
        # tight: the first and last row and column hold some of the object
        assert alpha[0].max() > 0 and alpha[-1].max() > 0 and alpha[:, 0].max() > 0 and alpha[:, -1].max() > 0


def test_render_object_deterministic_and_rejects_unknown() -> None:
    a = render_object("trash_bag", np.random.default_rng(1), 90)
    b = render_object("trash_bag", np.random.default_rng(1), 90)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="unknown class"):
        render_object("car", np.random.default_rng(1), 90)
