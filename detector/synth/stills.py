"""Independent randomised stills with exact boxes, for training (`random_labeled_frames`)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import numpy as np

from detector.synth.camera import Camera
from detector.synth.classes import class_map
from detector.synth.objects import STREET_THINGS, make_spec
from detector.synth.scene import (
    Drawn,
    Look,
    Placed,
    Street,
    apply_look,
    composite,
    h264_roundtrip,
    jpeg_roundtrip,
    project_placed,
    random_camera,
    random_look,
    random_street,
    render_background,
)

Rng = np.random.Generator

#: An object counts (and gets a box) when at least this share of its pixels is visible.
MIN_VISIBLE = 0.4
MIN_BOX_PX = 6
MIN_HEIGHT_PX, MAX_HEIGHT_PX = 14, 330


@dataclass
class LabeledFrame:
    """One picture and the boxes of every visible object in it.

    ``image``: H x W x 3 uint8 BGR. ``xyxy``: (N, 4) float32 pixel boxes of the *visible* extent (occluded
    and out-of-frame parts excluded), clipped to the frame. ``class_names``: N model class names, parallel
    to ``xyxy``. ``meta``: how the frame was made (seed, camera, look, counts). The pavement is always on
    the right; mirror in augmentation for the other side (signs then read backwards, as in any flipped photo).
    """

    image: np.ndarray
    xyxy: np.ndarray
    class_names: list[str]
    meta: dict[str, object] = field(default_factory=dict)


# How often each violation class is drawn in busy scenes (fixtures and people are placed separately).
_VIOLATION_WEIGHTS = {
    "bicycle": 1.1, "e_bike": 1.0, "goods_display": 1.3, "table": 0.9, "chair": 1.0, "parasol": 0.8,
    "a_frame_sign": 1.0, "stall_cart": 0.7, "stacked_materials": 1.7, "trash_bag": 2.2, "litter_pile": 1.4,
}


def _place(rng: Rng, cam: Camera, street: Street, class_name: str, x_range: tuple[float, float],
           tries: int = 30, **params: float) -> Placed | None:
    """A ground position for one new object that gives it a sensible on-screen size."""
    spec = make_spec(class_name, rng, **params)
    for _ in range(tries):
        x = float(rng.uniform(*x_range))
        z = float(rng.uniform(1.0, 60.0) if rng.random() < 0.3 else rng.uniform(1.0, 22.0))
        pr = project_placed(cam, Placed(spec, x, z, None))
        if pr is None:
            continue
        u, v, hpx, _ = pr
        labelled = class_name in class_map()
        if not (MIN_HEIGHT_PX <= hpx <= (MAX_HEIGHT_PX if labelled else 2 * cam.height)):
            continue
        if not (-0.05 * cam.width <= u <= 1.05 * cam.width and v <= cam.height + 0.15 * hpx):
            continue
        if labelled and v - hpx < -0.3 * hpx:
            continue
        return Placed(spec, x, z, class_name if class_name in class_map() else None)
    return None


def _scene_objects(rng: Rng, cam: Camera, street: Street, look: Look) -> tuple[list[Placed], str]:
    kx, fx = street.kerb_x, street.facade_x
    pave = (kx + 0.3, fx - 0.3)
    near_kerb = (kx + 0.3, kx + 1.2)
    near_shop = (fx - 1.6, fx - 0.35)
    placed: list[Placed] = []

    def add(p: Placed | None) -> None:
        if p is not None:
            placed.append(p)

    r = rng.random()
    busy = "clean" if r < 0.25 else "few" if r < 0.55 else "busy"
    n_viol = 0 if busy == "clean" else int(rng.integers(1, 4)) if busy == "few" else int(rng.integers(4, 13))
    names = list(_VIOLATION_WEIGHTS)
    w = np.array([_VIOLATION_WEIGHTS[n] for n in names])
    for _ in range(n_viol):
        name = str(rng.choice(names, p=w / w.sum()))
        where = near_kerb if name in ("bicycle", "e_bike", "trash_bag") and rng.random() < 0.7 else (
            near_shop if name in ("goods_display", "a_frame_sign", "table", "chair", "parasol", "stacked_materials") and rng.random() < 0.6
            else pave)
        p = _place(rng, cam, street, name, where)
        add(p)
        if p is not None and name == "table" and rng.random() < 0.7:  # chairs around a table
            for _ in range(int(rng.integers(1, 4))):
                add(_place_near(rng, cam, "chair", p, 0.9))
        if p is not None and name in ("bicycle", "e_bike") and rng.random() < 0.5:  # parked in a row
            for _ in range(int(rng.integers(1, 4))):
                add(_place_near(rng, cam, name, p, 1.2, along=True))
        if p is not None and name == "trash_bag" and rng.random() < 0.4:
            add(_place_near(rng, cam, "trash_bag", p, 0.6))
    # fixtures
    for _ in range(int(rng.integers(0, 4))):
        add(_place(rng, cam, street, str(rng.choice(["bench", "bin", "bin"])), near_kerb if rng.random() < 0.7 else near_shop))
    # people: walkers, people standing, riders on bikes on the road edge
    umbrella = 1.0 if look.rain > 0 else 0.0
    for _ in range(int(rng.integers(0, 11))):
        p = _place(rng, cam, street, "person", pave if rng.random() < 0.85 else (street.opposite_x + 1, kx - 0.3), umbrella=umbrella)
        if p is not None:
            p.phase = float(rng.uniform(0, 2 * np.pi))
            add(p)
    for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.4 else 0):
        add_rider(rng, cam, placed, x_range=(kx - 1.6, kx - 0.5), kind=str(rng.choice(["bicycle", "e_bike"])))
    # distractors: cars on the road, planters and bollards
    for _ in range(int(rng.integers(0, 4))):
        add(_place(rng, cam, street, "car", (street.opposite_x + 1.2, kx - 1.0)))
    for _ in range(int(rng.integers(0, 3))):
        add(_place(rng, cam, street, str(rng.choice(["planter", "bollard"])), near_kerb if rng.random() < 0.5 else near_shop))
    # street furniture in front of things: lamp posts and trees along the kerb (partial occlusion)
    for _ in range(int(rng.integers(0, 4))):
        add(_place(rng, cam, street, str(rng.choice(["lamp_post", "lamp_post", "tree"])), (kx + 0.15, kx + 0.45),
                   tries=10))
    return placed, busy


def _place_near(rng: Rng, cam: Camera, name: str, anchor: Placed, radius: float, along: bool = False) -> Placed | None:
    spec = make_spec(name, rng)
    dx = float(rng.uniform(-0.25, 0.25)) if along else float(rng.uniform(-radius, radius))
    dz = float(rng.uniform(0.6, radius)) * float(rng.choice([-1, 1]))
    p = Placed(spec, anchor.x + dx, anchor.z + dz, name)
    pr = project_placed(cam, p)
    if pr is None or not (MIN_HEIGHT_PX <= pr[2] <= MAX_HEIGHT_PX * 1.1):
        return None
    return p


def add_rider(rng: Rng, cam: Camera, placed: list[Placed], x_range: tuple[float, float], kind: str = "bicycle",
              z: float | None = None) -> None:
    """A person riding a bicycle or e-bike (both labelled): the rider is drawn just in front of the bike."""
    bike = make_spec(kind, rng)
    x = float(rng.uniform(*x_range))
    z = float(rng.uniform(2.0, 40.0)) if z is None else z
    b = Placed(bike, x, z, kind)
    pr = project_placed(cam, b)
    if pr is None or not (MIN_HEIGHT_PX <= pr[2] <= MAX_HEIGHT_PX * 0.8):
        return
    rider = Placed(make_spec("person", rng, stride=0.15), x, z - 0.05, "person", phase=float(rng.uniform(0, 6.3)),
                   lift_m=bike.height_m * 0.3, shadow=False)
    placed.extend([b, rider])


#: where each street thing of the next class list stands (road, pavement, kerb edge or shop front)
_THING_PLACES = {"car": "road", "van_truck": "road", "bus": "road", "pushchair": "pave", "wheelchair": "pave",
                 "dog": "pave", "suitcase": "pave", "kiosk": "shop", "poster": "shop", "window_display": "facade",
                 "planter": "shop", "bollard": "kerb", "bike_rack": "kerb"}


def _street_things(rng: Rng, cam: Camera, street: Street, placed: list[Placed], wanted: set[str]) -> list[Placed]:
    """Street things of the next class list, placed from their own random stream (so a frame's other objects
    and look stay exactly those of the same frame without them). Handbags and backpacks are carried by a
    person already in the scene, a wheeled suitcase walks beside one."""
    kx, fx = street.kerb_x, street.facade_x
    ranges = {"road": (street.opposite_x + 1.2, kx - 1.0), "pave": (kx + 0.3, fx - 0.3), "kerb": (kx + 0.3, kx + 1.0),
              "shop": (fx - 1.2, fx - 0.3), "facade": (fx - 0.12, fx - 0.05)}
    out: list[Placed] = []
    standing = [name for name in _THING_PLACES if name in wanted]
    for _ in range(int(rng.integers(1, 7)) if standing else 0):
        name = str(rng.choice(standing))
        p = _place(rng, cam, street, name, ranges[_THING_PLACES[name]])
        if p is not None:
            p.label = name
            out.append(p)
    carried = [name for name in ("handbag", "backpack", "suitcase") if name in wanted]
    people = [p for p in placed if p.label == "person" and p.lift_m == 0]
    for person in people if carried else []:
        if rng.random() > 0.35:
            continue
        name = str(rng.choice(carried))
        side = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.22, 0.35))
        lift = 0.0 if name == "suitcase" else person.spec.height_m * float(rng.uniform(0.38, 0.5))
        dz = -0.08 if rng.random() < 0.5 else 0.08  # in front of or behind the person
        out.append(Placed(make_spec(name, rng), person.x + side, person.z + dz, name, lift_m=lift,
                          shadow=name == "suitcase"))
    return out


def labels_from(ids: np.ndarray, drawn: list[Drawn]) -> tuple[np.ndarray, list[str], int]:
    """Visible boxes of labelled objects from the id buffer; also how many were dropped as too hidden."""
    H, W = ids.shape
    boxes: list[list[float]] = []
    names: list[str] = []
    hidden = 0
    for d in drawn:
        if d.placed.label is None or d.full_px == 0:
            continue
        x0, y0, x1, y1 = (int(v) for v in d.box_full)
        x0c, y0c, x1c, y1c = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
        if x1c <= x0c or y1c <= y0c:
            continue
        mine = ids[y0c:y1c, x0c:x1c] == d.index
        count = int(mine.sum())
        if count < MIN_VISIBLE * d.full_px:
            hidden += 1
            continue
        ys, xs = np.nonzero(mine)
        bx0, by0, bx1, by1 = x0c + xs.min(), y0c + ys.min(), x0c + xs.max() + 1, y0c + ys.max() + 1
        if bx1 - bx0 < MIN_BOX_PX / 2 or by1 - by0 < MIN_BOX_PX:
            continue
        boxes.append([float(bx0), float(by0), float(bx1), float(by1)])
        names.append(d.placed.label)
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    return xyxy, names, hidden


def random_labeled_frame(seed: int, index: int, size: tuple[int, int] = (1280, 720),
                         classes: Collection[str] | None = None) -> LabeledFrame:
    """Frame ``index`` of the series ``seed`` (each frame is independent: same arguments, same frame).

    ``classes``: the class list to label. A list with street things (the shipped one since 4.0; the dataset
    builder passes it) also labels the cars, planters and bollards every frame has as distractors, and adds
    more street things from a separate random stream. ``None`` (picture fixtures, re-learning rounds) and
    3.1's 14 classes draw none of them: the very same pictures as before.
    """
    rng = np.random.default_rng([seed, index])
    W, H = size
    cam = random_camera(rng, size)
    street = random_street(rng)
    look = random_look(rng)
    bg = render_background(cam, street, look, rng)
    placed, busy = _scene_objects(rng, cam, street, look)
    things = set(classes or ()) & set(STREET_THINGS)
    if things:
        for p in placed:  # distractors of the shipped list that the next list names
            if p.label is None and p.spec.class_name in things:
                p.label = p.spec.class_name
        placed += _street_things(np.random.default_rng([seed, index, 7]), cam, street, placed, things)
    img = bg.image.copy()
    ids = np.full((H, W), -1, np.int32)
    drawn = composite(img, ids, cam, placed, look)
    xyxy, names, hidden = labels_from(ids, drawn)
    img = apply_look(img, look, bg.emissive, rng)
    codec_roll = rng.random()
    quality: int | None = None
    h264_crf: int | None = None
    if codec_roll < 0.55:
        quality = int(rng.integers(35, 96))
        img = jpeg_roundtrip(img, quality)
    elif codec_roll < 0.75:
        h264_crf = int(rng.integers(24, 38))
        img = h264_roundtrip(img, h264_crf)
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    meta: dict[str, object] = {
        "seed": seed, "index": index, "busy": busy, "look": look.name, "jpeg_quality": quality, "h264_crf": h264_crf,
        "camera": {"height_m": cam.height_m, "pitch_deg": cam.pitch_deg, "yaw_deg": cam.yaw_deg, "hfov_deg": cam.hfov_deg},
        "counts": counts, "hidden_dropped": hidden,
    }
    return LabeledFrame(image=img, xyxy=xyxy, class_names=names, meta=meta)


def random_labeled_frames(n: int, seed: int, size: tuple[int, int] = (1280, 720),
                          classes: Collection[str] | None = None) -> Iterator[LabeledFrame]:
    """``n`` independent randomised street stills with exact boxes (deterministic for ``seed``).

    >>> frames = list(random_labeled_frames(2, seed=3, size=(320, 180)))
    >>> frames[0].image.shape, frames[0].xyxy.dtype.name, len(frames[0].xyxy) == len(frames[0].class_names)
    ((180, 320, 3), 'float32', True)
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    w, h = (int(v) for v in size)
    if w < 64 or h < 64:
        raise ValueError(f"size must be at least 64x64, got {size}")
    for i in range(n):
        yield random_labeled_frame(seed, i, (w, h), classes)
