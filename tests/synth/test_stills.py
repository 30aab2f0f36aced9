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
        render_object("lamp_post", np.random.default_rng(1), 90)  # a distractor, in no class list
    assert render_object("car", np.random.default_rng(1), 90).shape[0] == 90  # a street thing (since 4.0)


def _scene() -> tuple:
    from detector.synth.camera import Camera
    from detector.synth.scene import Look

    cam = Camera(width=640, height=360, height_m=5.0, pitch_deg=26.0, yaw_deg=25.0, hfov_deg=60.0)
    look = Look("overcast", shadow_strength=0.0, noise_sigma=0.0)
    return cam, look


def test_box_is_the_visible_object_standing_on_its_ground_point() -> None:
    from detector.synth.objects import make_spec
    from detector.synth.scene import Placed, composite
    from detector.synth.stills import labels_from

    cam, look = _scene()
    rng = np.random.default_rng(3)
    bag = Placed(make_spec("trash_bag", rng), 5.0, 9.0, "trash_bag")
    img = np.zeros((360, 640, 3), np.uint8)
    ids = np.full((360, 640), -1, np.int32)
    drawn = composite(img, ids, cam, [bag], look)
    xyxy, names, hidden = labels_from(ids, drawn)
    assert names == ["trash_bag"] and hidden == 0
    u, v = cam.project(np.array([[5.0, 0.0, 9.0]]))[0]
    x0, y0, x1, y1 = xyxy[0]
    assert abs((x0 + x1) / 2 - u) <= 2 and abs(y1 - v) <= 2  # bottom-centre = where it stands
    assert img[int(y0):int(y1), int(x0):int(x1)].any() and not img[:, : max(0, int(x0) - 2)].any()


def test_hidden_and_cut_objects() -> None:
    from detector.synth.objects import make_spec
    from detector.synth.scene import Placed, composite
    from detector.synth.stills import labels_from

    cam, look = _scene()
    rng = np.random.default_rng(4)
    # a small bag right behind a big cart (from the camera) is mostly hidden: no box for it
    bag = Placed(make_spec("trash_bag", rng), 5.0, 10.0, "trash_bag")
    cart = Placed(make_spec("stall_cart", rng), 4.8, 8.8, "stall_cart")
    img = np.zeros((360, 640, 3), np.uint8)
    ids = np.full((360, 640), -1, np.int32)
    xyxy, names, hidden = labels_from(ids, composite(img, ids, cam, [bag, cart], look))
    assert names == ["stall_cart"] and hidden == 1
    # a person standing right at the edge of the picture, a bit more than half in: kept, box clipped
    xs = np.linspace(4.0, 14.0, 2001)
    us = cam.project(np.stack([xs, np.zeros_like(xs), np.full_like(xs, 9.0)], 1))[:, 0]
    x = float(xs[np.argmin(np.abs(us - 634))])
    person = Placed(make_spec("person", rng), x, 9.0, "person", phase=0.0)
    img = np.zeros((360, 640, 3), np.uint8)
    ids = np.full((360, 640), -1, np.int32)
    xyxy, names, _ = labels_from(ids, composite(img, ids, cam, [person], look))
    assert names == ["person"]
    assert xyxy[0, 2] == 640 and xyxy[0, 0] >= 0


def test_street_things_render_as_bgra_sprites() -> None:
    """Every street thing of the class list has a sprite drawer (cars to window displays)."""
    from detector.synth.objects import STREET_THINGS

    rng = np.random.default_rng(9)
    for name in STREET_THINGS:
        sprite = render_object(name, rng, 72)
        assert sprite.shape[0] == 72 and sprite.shape[2] == 4 and sprite[:, :, 3].max() == 255, name
    with pytest.raises(ValueError, match="street things"):
        render_object("spaceship", rng, 72)


def test_the_class_list_labels_street_things_and_3_1_s_list_does_not() -> None:
    """With the shipped class list (since 4.0) the stills also draw and label street things; with 3.1's 14
    classes (or none) every frame is the very same picture as before (the street things come from a separate
    random stream, drawn only when the list has them)."""
    from detector.synth.objects import STREET_THINGS
    from detector.training.classes import CLASSES_31, class_names

    names = class_names()
    old = list(random_labeled_frames(6, seed=21, size=SIZE, classes=names[:CLASSES_31]))
    again = list(random_labeled_frames(6, seed=21, size=SIZE))
    nxt = list(random_labeled_frames(6, seed=21, size=SIZE, classes=names))
    assert all(np.array_equal(a.image, b.image) and a.class_names == b.class_names for a, b in zip(old, again, strict=True))
    seen = {n for f in nxt for n in f.class_names}
    assert len(seen & set(STREET_THINGS)) >= 4 and seen <= set(names)
    # without the list only the distractors every street has are street things (labelled: classes since 4.0)
    assert {n for f in old for n in f.class_names} & set(STREET_THINGS) <= {"car", "planter", "bollard"}
    for f in nxt:
        h, w = f.image.shape[:2]
        assert (f.xyxy[:, [0, 2]] <= w).all() and (f.xyxy[:, [1, 3]] <= h).all() and (f.xyxy >= 0).all()
