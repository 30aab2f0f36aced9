"""Procedural sprites: every model class (and a few unlabelled distractors) drawn with OpenCV primitives.

An object is first *specified* (`ObjectSpec`: class, real size in metres, appearance seed) and then drawn
at any pixel height, so a clip can draw the same bag at every frame and a still can draw a fresh one.
Sprites are BGRA with the object touching all four edges; the bottom-centre is where it meets the ground.

>>> import numpy as np
>>> sprite = render_object("trash_bag", np.random.default_rng(0), 80)
>>> sprite.shape[0], sprite.shape[2], sprite.dtype.name
(80, 4, 'uint8')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from detector.synth.classes import class_names

Rng = np.random.Generator
Color = tuple[int, int, int, int]

# Real height range (m) and width/height aspect range per class: they set the perspective size of objects.
SIZES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "person": ((1.5, 1.9), (0.36, 0.44)),
    "bicycle": ((0.95, 1.1), (0.8, 1.75)),
    "e_bike": ((1.0, 1.25), (0.8, 1.65)),
    "goods_display": ((0.55, 1.6), (0.8, 2.0)),
    "table": ((0.72, 0.8), (1.0, 1.8)),
    "chair": ((0.78, 0.95), (0.5, 0.7)),
    "parasol": ((2.0, 2.6), (0.9, 1.25)),
    "a_frame_sign": ((0.8, 1.15), (0.5, 0.72)),
    "stall_cart": ((1.5, 2.2), (0.9, 1.4)),
    "stacked_materials": ((0.45, 1.4), (0.9, 2.2)),
    "trash_bag": ((0.35, 0.85), (0.8, 2.2)),
    "litter_pile": ((0.25, 0.5), (1.6, 3.0)),
    "bench": ((0.75, 0.9), (1.8, 2.6)),
    "bin": ((0.9, 1.2), (0.5, 0.8)),
    # unlabelled distractors (not model classes): they teach the model what is *not* a violation
    "car": ((1.4, 1.65), (1.6, 2.8)),
    "planter": ((0.5, 0.9), (0.8, 1.3)),
    "bollard": ((0.7, 1.0), (0.18, 0.25)),
    "lamp_post": ((4.0, 6.0), (0.14, 0.3)),
    "tree": ((3.2, 5.5), (0.45, 0.75)),
    # street things (classes of frontage-n since 4.0, all `ignore`); car, planter and bollard above are
    # drawn as distractors too, and labelled when the class list has them
    "van_truck": ((1.9, 3.2), (1.6, 3.0)),
    "bus": ((2.8, 3.3), (2.4, 4.0)),
    "pushchair": ((0.95, 1.1), (0.6, 0.95)),
    "wheelchair": ((0.9, 1.0), (0.75, 1.0)),
    "dog": ((0.3, 0.7), (1.0, 1.6)),
    "handbag": ((0.22, 0.4), (0.8, 1.4)),
    "backpack": ((0.4, 0.55), (0.6, 0.8)),
    "suitcase": ((0.55, 0.95), (0.45, 0.7)),
    "kiosk": ((2.0, 2.6), (0.35, 1.4)),
    "bike_rack": ((0.7, 0.95), (1.5, 3.5)),
    "poster": ((1.2, 2.6), (0.5, 2.2)),
    "window_display": ((1.4, 2.2), (1.0, 2.2)),
}
DISTRACTORS = ("car", "planter", "bollard", "lamp_post", "tree")
#: drawn only for training data (dataset builder's scenes, composites): the existing scenarios and stills
#: never draw them, so their random streams and the sample clips stay as they are
STREET_THINGS = ("car", "van_truck", "bus", "pushchair", "wheelchair", "dog", "handbag", "backpack", "suitcase",
                 "kiosk", "bollard", "planter", "bike_rack", "poster", "window_display")

_WORK_HEIGHT = 200  # draw at least this tall, then resize down: anti-aliasing and detail for small sprites


@dataclass(frozen=True)
class ObjectSpec:
    """One object's identity: class, real size and the seed of its look."""

    class_name: str
    height_m: float
    width_m: float
    seed: int
    params: tuple[tuple[str, float], ...] = ()

    @property
    def aspect(self) -> float:
        return self.width_m / self.height_m


def make_spec(class_name: str, rng: Rng, **params: float) -> ObjectSpec:
    """Sample the size and look of one object of ``class_name``."""
    if class_name not in SIZES:
        raise ValueError(f"unknown object class {class_name!r}; known: {', '.join(SIZES)}")
    (h0, h1), (a0, a1) = SIZES[class_name]
    h = float(rng.uniform(h0, h1))
    a = float(rng.uniform(a0, a1))
    return ObjectSpec(class_name, h, h * a, int(rng.integers(0, 2**31 - 1)), tuple(sorted(params.items())))


# ----------------------------------------------------------------------------------------------- colours
def _c(b: float, g: float, r: float, a: int = 255) -> Color:
    return (int(min(max(b, 0), 255)), int(min(max(g, 0), 255)), int(min(max(r, 0), 255)), a)


def _pick(rng: Rng, palette: list[tuple[int, int, int]], jitter: float = 18) -> Color:
    b, g, r = palette[int(rng.integers(len(palette)))]
    j = rng.normal(0, jitter, 3)
    return _c(b + j[0], g + j[1], r + j[2])


def _shade(c: Color, k: float) -> Color:
    return _c(c[0] * k, c[1] * k, c[2] * k, c[3])


def _rand_color(rng: Rng, sat: tuple[float, float] = (0.4, 0.95), val: tuple[float, float] = (0.35, 0.95)) -> Color:
    hsv = np.uint8([[[rng.integers(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return _c(b, g, r)


SKIN = [(150, 180, 225), (120, 155, 205), (90, 120, 170), (60, 85, 125), (170, 195, 235)]
HAIR = [(20, 20, 25), (30, 40, 60), (40, 70, 110), (150, 150, 150), (60, 90, 150)]
DARK = [(30, 30, 30), (50, 45, 40), (70, 60, 50), (40, 40, 60), (90, 90, 90)]
WOOD = [(60, 100, 150), (40, 75, 120), (90, 140, 190), (30, 55, 90)]
CARDBOARD = [(90, 140, 185), (100, 150, 195), (70, 115, 160), (120, 165, 200)]
BAG = [(25, 25, 25), (35, 35, 35), (40, 70, 35), (120, 70, 30), (210, 210, 210), (60, 60, 60), (30, 120, 170)]


# ----------------------------------------------------------------------------------------------- helpers
class _Pen:
    """Draw with normalised coordinates (0-1 of the canvas width/height)."""

    def __init__(self, img: np.ndarray):
        self.img = img
        self.h, self.w = img.shape[:2]

    def p(self, x: float, y: float) -> tuple[int, int]:
        return round(x * (self.w - 1)), round(y * (self.h - 1))

    def pts(self, xy: list[tuple[float, float]] | np.ndarray) -> np.ndarray:
        a = np.asarray(xy, dtype=np.float64)
        return np.stack([a[:, 0] * (self.w - 1), a[:, 1] * (self.h - 1)], 1).round().astype(np.int32)

    def t(self, k: float) -> int:
        return max(1, round(k * self.h))

    def poly(self, xy: list[tuple[float, float]] | np.ndarray, c: Color) -> None:
        cv2.fillPoly(self.img, [self.pts(xy)], c, cv2.LINE_AA)

    def rect(self, x0: float, y0: float, x1: float, y1: float, c: Color) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], c)

    def line(self, a: tuple[float, float], b: tuple[float, float], c: Color, k: float) -> None:
        cv2.line(self.img, self.p(*a), self.p(*b), c, self.t(k), cv2.LINE_AA)

    def polyline(self, xy: list[tuple[float, float]], c: Color, k: float, closed: bool = False) -> None:
        cv2.polylines(self.img, [self.pts(xy)], closed, c, self.t(k), cv2.LINE_AA)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, c: Color, thick: float = -1,
                a0: float = 0, a1: float = 360, angle: float = 0) -> None:
        axes = (max(1, round(rx * (self.w - 1))), max(1, round(ry * (self.h - 1))))
        t = -1 if thick < 0 else self.t(thick)
        cv2.ellipse(self.img, self.p(cx, cy), axes, angle, a0, a1, c, t, cv2.LINE_AA)

    def blob(self, cx: float, cy: float, rx: float, ry: float, c: Color, rng: Rng, wobble: float = 0.15,
             n: int = 18) -> np.ndarray:
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        r = 1 + rng.uniform(-wobble, wobble, n)
        r = (r + np.roll(r, 1) + np.roll(r, -1)) / 3
        xy = np.stack([cx + rx * r * np.cos(ang), cy + ry * r * np.sin(ang)], 1)
        self.poly(xy, c)
        return xy

    def text(self, s: str, x: float, y: float, scale_h: float, c: Color, thick: float = 0.02) -> None:
        scale = scale_h * self.h / 22.0
        cv2.putText(self.img, s, self.p(x, y), cv2.FONT_HERSHEY_SIMPLEX, max(scale, 0.1), c,
                    self.t(thick), cv2.LINE_AA)


def _word(rng: Rng, n: int | None = None) -> str:
    n = n or int(rng.integers(3, 8))
    letters = "ABCDEFGHIKLMNOPRSTUVWXYZ0123456789%$"
    return "".join(letters[int(i)] for i in rng.integers(0, len(letters), n))


def _wheel(pen: _Pen, cx: float, cy: float, rx: float, ry: float, rng: Rng, tyre: float = 0.045,
           spokes: bool = True, hub: Color | None = None) -> None:
    pen.ellipse(cx, cy, rx, ry, _c(25, 25, 25), thick=tyre)
    if spokes:
        rim = _c(150, 150, 150)
        pen.ellipse(cx, cy, rx * 0.9, ry * 0.9, rim, thick=tyre * 0.25)
        for a in np.linspace(0, np.pi, 6, endpoint=False) + rng.uniform(0, 1):
            dx, dy = math.cos(a) * rx * 0.88, math.sin(a) * ry * 0.88
            pen.line((cx - dx, cy - dy), (cx + dx, cy + dy), _c(170, 170, 170, 255), 0.006)
    else:
        pen.ellipse(cx, cy, rx * 0.55, ry * 0.55, hub or _c(120, 120, 120))


# ----------------------------------------------------------------------------------------------- drawers
def _person(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    phase = prm.get("phase", float(rng.uniform(0, 2 * np.pi)))
    facing = prm.get("facing", float(rng.choice([-1.0, 1.0])))
    skin, hair = _pick(rng, SKIN, 10), _pick(rng, HAIR, 10)
    top = _rand_color(rng) if rng.random() < 0.6 else _pick(rng, [*DARK, (230, 230, 230)])
    legs = _pick(rng, [*DARK, (120, 90, 50), (150, 130, 110)])
    shoe = _pick(rng, DARK)
    dress = rng.random() < 0.18
    swing = math.sin(phase) * prm.get("stride", 0.6)
    cx = 0.5
    # legs (hip at 0.52) with a stride that follows the walking phase
    for s in (-1, 1):
        fx = cx + s * swing * 0.28
        pen.poly([(cx - 0.08 + s * 0.06, 0.5), (cx + 0.08 + s * 0.06, 0.5), (fx + 0.06, 0.97), (fx - 0.06, 0.97)],
                 _shade(legs, 1.0 if s > 0 else 0.8))
        pen.ellipse(fx + facing * 0.04, 0.975, 0.1, 0.022, shoe)
    if dress:
        pen.poly([(cx - 0.22, 0.3), (cx + 0.22, 0.3), (cx + 0.34, 0.7), (cx - 0.34, 0.7)], top)
    # torso
    pen.poly([(cx - 0.24, 0.2), (cx + 0.24, 0.2), (cx + 0.21, 0.55), (cx - 0.21, 0.55)], top)
    pen.ellipse(cx, 0.205, 0.24, 0.03, top)
    # arms swing against the legs
    for s in (-1, 1):
        hx = cx + s * 0.27 - s * swing * 0.2 * s
        pen.line((cx + s * 0.22, 0.23), (hx, 0.5), _shade(top, 0.85), 0.05)
        pen.ellipse(hx, 0.51, 0.05, 0.018, skin)
    if rng.random() < 0.3:  # shoulder bag or shopping bag
        bag = _rand_color(rng, val=(0.2, 0.8))
        bx = cx + float(rng.choice([-1, 1])) * 0.3
        pen.rect(bx - 0.12, 0.42, bx + 0.12, 0.6, bag)
    # neck, head, hair
    pen.rect(cx - 0.05, 0.14, cx + 0.05, 0.21, skin)
    pen.ellipse(cx, 0.09, 0.16, 0.07, skin)
    if rng.random() < 0.85:
        pen.ellipse(cx - facing * 0.03, 0.07, 0.17, 0.055, hair, a0=180, a1=360)
        pen.ellipse(cx - facing * 0.08, 0.09, 0.09, 0.05, hair)
    if rng.random() < 0.2:  # cap
        pen.ellipse(cx, 0.05, 0.17, 0.04, _rand_color(rng), a0=180, a1=360)
    if prm.get("umbrella", 0) > 0:
        u = _rand_color(rng, val=(0.1, 0.7))
        pen.line((cx + 0.2, 0.45), (cx + 0.02, -0.02), _c(40, 40, 40), 0.01)
        pen.ellipse(cx, 0.035, 0.49, 0.035, u, a0=180, a1=360)
        pen.line((0.02, 0.035), (0.98, 0.035), _shade(u, 0.7), 0.006)


def _bicycle(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    frame = _rand_color(rng, val=(0.25, 0.9))
    # the canvas is narrower than a side view when the bike is seen obliquely: wheels become ellipses
    view = min(1.0, (pen.w / pen.h) / 1.75)
    r = 0.34
    rx = r * pen.h / pen.w * max(view, 0.25)
    ry = r
    flip = rng.random() < 0.5
    xr, xf = rx + 0.01, 1 - rx - 0.01
    if flip:
        xr, xf = xf, xr
    yw = 1 - r - 0.005
    _wheel(pen, xr, yw, rx, ry, rng)
    _wheel(pen, xf, yw, rx, ry, rng)
    bb = (xr + (xf - xr) * 0.42, yw + 0.02)
    seat = (xr + (xf - xr) * 0.3, 0.22)
    head = (xr + (xf - xr) * 0.8, 0.2)
    k = 0.045
    pen.line((xr, yw), bb, frame, k)
    pen.line((xr, yw), seat, frame, k)
    pen.line(bb, seat, frame, k)
    pen.line(bb, head, frame, k)
    pen.line(seat, head, frame, k)
    pen.line(head, (xf, yw), frame, k)
    pen.line(seat, (seat[0], 0.12), _c(90, 90, 90), 0.03)
    pen.ellipse(seat[0], 0.1, 0.12 * max(view, 0.4), 0.03, _c(25, 25, 25))
    hb = (head[0] + (0.03 if xf > xr else -0.03), 0.05)
    pen.line(head, hb, _c(80, 80, 80), 0.03)
    pen.line((hb[0] - 0.08 * view, hb[1]), (hb[0] + 0.08 * view, hb[1] + 0.02), _c(30, 30, 30), 0.03)
    if rng.random() < 0.35:  # front basket
        pen.rect(hb[0] - 0.08, 0.12, hb[0] + 0.09, 0.27, _pick(rng, [*DARK, (200, 200, 200)]))
    pen.ellipse(bb[0], bb[1], 0.05 * view + 0.02, 0.05, _c(50, 50, 50))


def _e_bike(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """A step-through electric scooter: small fat wheels, body over the rear wheel, seat, front apron."""
    body = _pick(rng, [(235, 235, 235), (30, 30, 30), (40, 40, 180), (160, 90, 40), (170, 150, 230),
                       (120, 120, 120), (60, 140, 60), (20, 160, 220)], 12)
    trim = _shade(body, 0.65)
    view = min(1.0, (pen.w / pen.h) / 1.6)
    r = 0.22
    rx = r * pen.h / pen.w * max(view, 0.3)
    flip = rng.random() < 0.5
    xr, xf = rx + 0.01, 1 - rx - 0.01
    if flip:
        xr, xf = xf, xr
    yw = 1 - r - 0.005
    d = xf - xr
    _wheel(pen, xr, yw, rx, r, rng, tyre=0.08, spokes=False)
    _wheel(pen, xf, yw, rx, r, rng, tyre=0.08, spokes=False)
    # rear body over the rear wheel with the seat on top
    pen.poly([(xr - d * 0.08, yw - 0.05), (xr - d * 0.04, 0.5), (xr + d * 0.12, 0.42), (xr + d * 0.46, 0.44),
              (xr + d * 0.5, yw - 0.02), (xr + d * 0.2, yw + 0.02), (xr + d * 0.05, yw - 0.12)], body)
    pen.poly([(xr - d * 0.02, 0.44), (xr + d * 0.45, 0.44), (xr + d * 0.42, 0.36), (xr + d * 0.0, 0.36)], _c(25, 25, 25))
    pen.line((xr - d * 0.06, yw - 0.08), (xr + d * 0.45, yw - 0.06), trim, 0.02)
    # low floor and front apron rising to the steering column
    pen.poly([(xr + d * 0.45, yw - 0.04), (xr + d * 0.68, yw - 0.04), (xr + d * 0.68, yw + 0.05), (xr + d * 0.45, yw + 0.05)], trim)
    pen.poly([(xr + d * 0.62, yw + 0.02), (xr + d * 0.76, 0.16), (xr + d * 0.9, 0.14), (xr + d * 0.84, yw - 0.12)], body)
    pen.ellipse(xf, yw - 0.02, rx * 1.1, r * 0.9, body, thick=0.04, a0=190 if not flip else 200, a1=330 if not flip else 340)
    pen.line((xr + d * 0.86, 0.16), (xf, yw), _c(60, 60, 60), 0.035)
    pen.line((xr + d * 0.74, 0.06), (xr + d * 1.0, 0.08), _c(30, 30, 30), 0.035)
    pen.ellipse(xr + d * 0.88, 0.2, 0.04, 0.035, _c(200, 230, 240))
    for mx in (0.76, 0.98):  # mirrors
        pen.line((xr + d * mx, 0.07), (xr + d * (mx - 0.03), 0.0), _c(40, 40, 40), 0.015)
    if rng.random() < 0.4:  # delivery box on the back
        box = _pick(rng, [(30, 180, 240), (40, 40, 200), (200, 140, 30), (235, 235, 235)])
        lo, hi = sorted((xr - d * 0.08, xr + d * 0.3))
        pen.rect(lo, 0.04, hi, 0.36, box)
        pen.text(_word(rng, 3), lo + 0.02, 0.22, 0.05, _c(255, 255, 255))


def _goods_display(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    kind = int(rng.integers(3))
    if kind == 0:  # metal shelf rack with packages
        metal = _pick(rng, [(160, 160, 160), (60, 60, 60), (235, 235, 235), (40, 90, 160)])
        shelves = int(rng.integers(2, 5))
        for i in range(shelves):
            y = 0.98 - i * (0.94 / shelves)
            pen.rect(0.0, y - 0.03, 1.0, y, metal)
            x = 0.02
            while x < 0.95:
                w = float(rng.uniform(0.06, 0.16))
                h = float(rng.uniform(0.3, 0.85)) * (0.94 / shelves)
                pen.rect(x, y - 0.03 - h, min(x + w, 0.98), y - 0.03, _rand_color(rng))
                x += w + float(rng.uniform(0.0, 0.03))
        pen.rect(0.0, 0.02, 0.025, 1.0, metal)
        pen.rect(0.975, 0.02, 1.0, 1.0, metal)
    elif kind == 1:  # stacked plastic crates with produce heaped on top
        crate = _pick(rng, [(40, 40, 200), (180, 110, 30), (50, 150, 50), (30, 200, 230), (60, 60, 60)])
        rows = int(rng.integers(1, 4))
        cols = int(rng.integers(1, 4))
        top = 0.3
        ch = (1 - top) / rows
        for r in range(rows):
            for c in range(cols):
                x0, x1 = c / cols + 0.005, (c + 1) / cols - 0.005
                y0, y1 = top + r * ch, top + (r + 1) * ch - 0.01
                pen.rect(x0, y0, x1, y1, _shade(crate, float(rng.uniform(0.8, 1.1))))
                for s in range(3):
                    sx = x0 + (x1 - x0) * (0.2 + 0.3 * s)
                    pen.rect(sx - 0.02, y0 + ch * 0.2, sx + 0.02, y1 - ch * 0.2, _shade(crate, 0.55))
        produce = [_rand_color(rng, sat=(0.6, 1.0), val=(0.5, 1.0)) for _ in range(cols)]
        for c in range(cols):
            for _ in range(int(rng.integers(12, 30))):
                x = float(rng.uniform(c / cols + 0.04, (c + 1) / cols - 0.04))
                y = float(rng.uniform(0.06, top + 0.02))
                pen.ellipse(x, y, 0.035 * cols / 2 + 0.01, 0.035, _shade(produce[c], float(rng.uniform(0.75, 1.1))))
    else:  # clothes rail with hanging garments
        rail = _c(150, 150, 150)
        pen.line((0.02, 0.06), (0.98, 0.06), rail, 0.02)
        pen.line((0.04, 0.06), (0.04, 0.99), rail, 0.02)
        pen.line((0.96, 0.06), (0.96, 0.99), rail, 0.02)
        pen.line((0.0, 0.99), (0.1, 0.99), rail, 0.02)
        pen.line((0.9, 0.99), (1.0, 0.99), rail, 0.02)
        x = 0.08
        while x < 0.88:
            w = float(rng.uniform(0.08, 0.14))
            ln = float(rng.uniform(0.35, 0.75))
            col = _rand_color(rng)
            pen.poly([(x, 0.08), (x + w, 0.08), (x + w * 1.1, 0.08 + ln), (x - w * 0.1, 0.08 + ln)], col)
            pen.line((x, 0.08), (x + w, 0.08), _shade(col, 0.7), 0.01)
            x += w * float(rng.uniform(0.5, 0.9))


def _table(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _pick(rng, [(235, 235, 235), (200, 200, 200), *WOOD, (40, 120, 200), (60, 60, 60)])
    top_h = 0.16
    pen.poly([(0.06, 0.0), (0.94, 0.0), (1.0, top_h), (0.0, top_h)], col)
    pen.rect(0.0, top_h, 1.0, top_h + 0.06, _shade(col, 0.7))
    if rng.random() < 0.3:  # table cloth
        cloth = _rand_color(rng, val=(0.5, 1.0))
        pen.poly([(0.0, top_h), (1.0, top_h), (1.02, 0.62), (-0.02, 0.62)], cloth)
        for x in np.linspace(0.1, 0.9, 5):
            pen.line((x, top_h + 0.05), (x, 0.6), _shade(cloth, 0.8), 0.01)
        leg_top = 0.62
    else:
        leg_top = top_h + 0.06
    legc = _shade(col, 0.55) if rng.random() < 0.5 else _c(80, 80, 80)
    if rng.random() < 0.25:  # pedestal table
        pen.line((0.5, leg_top), (0.5, 0.97), legc, 0.05)
        pen.ellipse(0.5, 0.97, 0.22, 0.025, legc)
    else:
        for x in (0.05, 0.95, 0.2, 0.8):
            pen.line((x, leg_top), (x + (0.02 if x < 0.5 else -0.02), 1.0), legc if x in (0.05, 0.95) else _shade(legc, 0.7), 0.035)
    for _ in range(int(rng.integers(0, 4))):  # cups, bowls, bottles
        x = float(rng.uniform(0.15, 0.85))
        pen.rect(x - 0.03, 0.0, x + 0.03, 0.08, _rand_color(rng))


def _chair(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _pick(rng, [(40, 40, 200), (200, 120, 40), (235, 235, 235), (60, 150, 60), (60, 60, 60), *WOOD])
    if rng.random() < 0.65:  # monobloc plastic chair
        pen.poly([(0.12, 0.02), (0.88, 0.02), (0.84, 0.5), (0.16, 0.5)], col)
        for x in (0.3, 0.5, 0.7):
            pen.line((x, 0.12), (x, 0.4), _shade(col, 0.75), 0.03)
        pen.poly([(0.0, 0.5), (1.0, 0.5), (0.95, 0.6), (0.05, 0.6)], _shade(col, 0.85))
        for a, b in (((0.08, 0.58), (0.0, 1.0)), ((0.92, 0.58), (1.0, 1.0)), ((0.3, 0.6), (0.32, 0.95)),
                     ((0.7, 0.6), (0.68, 0.95))):
            pen.line(a, b, _shade(col, 0.8), 0.045)
    else:  # folding metal/wood chair
        frame = _pick(rng, [*DARK, (170, 170, 170)])
        pen.line((0.15, 0.02), (0.1, 1.0), frame, 0.03)
        pen.line((0.85, 0.02), (0.9, 1.0), frame, 0.03)
        pen.line((0.2, 0.55), (0.8, 1.0), frame, 0.025)
        pen.line((0.8, 0.55), (0.2, 1.0), frame, 0.025)
        pen.rect(0.15, 0.04, 0.85, 0.25, col)
        pen.poly([(0.02, 0.52), (0.98, 0.52), (0.92, 0.6), (0.08, 0.6)], col)


def _parasol(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    a, b = _rand_color(rng, val=(0.6, 1.0)), (_c(240, 240, 240) if rng.random() < 0.6 else _rand_color(rng))
    panels = int(rng.integers(5, 9))
    canopy_h = float(rng.uniform(0.18, 0.3))
    pen.line((0.5, 0.02), (0.5, 0.98), _c(170, 170, 170) if rng.random() < 0.5 else _c(60, 80, 110), 0.012)
    for i in range(panels):
        x0, x1 = i / panels, (i + 1) / panels
        col = a if i % 2 == 0 else b
        pen.poly([(0.5, 0.0), (x0, canopy_h), ((x0 + x1) / 2, canopy_h + 0.03), (x1, canopy_h)], col)
        pen.poly([(0.5, 0.0), (x0, canopy_h), (0.5, canopy_h * 0.6)], _shade(col, 0.85))
    for i in range(panels + 1):
        pen.line((0.5, 0.0), (i / panels, canopy_h), _shade(a, 0.6), 0.006)
    if rng.random() < 0.5:
        pen.text(_word(rng, 4), 0.3, canopy_h * 0.9, 0.06, _c(255, 255, 255) if a[0] < 150 else _c(30, 30, 30), 0.012)
    base = _pick(rng, DARK)
    pen.poly([(0.4, 0.99), (0.6, 0.99), (0.56, 0.93), (0.44, 0.93)], base)


def _a_frame_sign(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    frame = _pick(rng, WOOD + DARK + [(235, 235, 235), (40, 40, 190)])
    board = _pick(rng, [(40, 45, 40), (235, 235, 235), (60, 200, 240), (200, 100, 40), (50, 50, 200)], 10)
    pen.poly([(0.2, 0.0), (0.8, 0.0), (1.0, 1.0), (0.88, 1.0), (0.5, 0.05), (0.12, 1.0), (0.0, 1.0)], _shade(frame, 0.7))
    pen.poly([(0.18, 0.0), (0.82, 0.0), (0.95, 0.9), (0.05, 0.9)], frame)
    pen.poly([(0.24, 0.06), (0.76, 0.06), (0.87, 0.84), (0.13, 0.84)], board)
    ink = _c(240, 240, 240) if sum(board[:3]) < 300 else _c(30, 30, 30)
    y = 0.18
    while y < 0.8:
        if rng.random() < 0.2:
            pen.ellipse(0.5, y, 0.12, 0.05, _rand_color(rng))
            y += 0.14
            continue
        pen.text(_word(rng, int(rng.integers(3, 6))), 0.22 + (y - 0.1) * 0.1, y, 0.045, ink, 0.012)
        y += float(rng.uniform(0.1, 0.16))


def _stall_cart(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    body = _rand_color(rng, val=(0.5, 0.95))
    roof_kind = int(rng.integers(3))
    top = 0.0
    if roof_kind == 0:  # flat canopy on poles
        roof = _rand_color(rng)
        pen.rect(0.0, 0.0, 1.0, 0.08, roof)
        for i in range(8):
            pen.rect(i / 8, 0.08, i / 8 + 0.0625, 0.13, _shade(roof, 0.8))
        pen.line((0.05, 0.08), (0.05, 0.55), _c(150, 150, 150), 0.012)
        pen.line((0.95, 0.08), (0.95, 0.55), _c(150, 150, 150), 0.012)
    elif roof_kind == 1:  # umbrella over the cart
        a = _rand_color(rng)
        pen.line((0.5, 0.03), (0.5, 0.55), _c(160, 160, 160), 0.012)
        for i in range(6):
            col = a if i % 2 else _c(240, 240, 240)
            pen.poly([(0.5, 0.0), (i / 6, 0.18), ((i + 1) / 6, 0.18)], col)
    else:
        top = 0.3
    # glass case with goods, then the cart body, wheels and handle
    gy = max(top, 0.35)
    pen.rect(0.08, gy, 0.92, 0.55, _c(200, 210, 200, 255))
    for _ in range(int(rng.integers(6, 16))):
        x, y = float(rng.uniform(0.12, 0.88)), float(rng.uniform(gy + 0.04, 0.52))
        pen.ellipse(x, y, 0.035, 0.025, _rand_color(rng))
    pen.rect(0.08, gy, 0.92, gy + 0.012, _c(120, 120, 120))
    pen.rect(0.05, 0.55, 0.95, 0.86, body)
    pen.rect(0.05, 0.55, 0.95, 0.58, _shade(body, 0.7))
    pen.text(_word(rng, int(rng.integers(3, 6))), 0.12, 0.74, 0.07, _c(255, 255, 255) if sum(body[:3]) < 400 else _c(20, 20, 20), 0.014)
    pen.line((0.95, 0.65), (1.0, 0.6), _c(90, 90, 90), 0.015)
    for x in (0.2, 0.8):
        _wheel(pen, x, 0.9, 0.07, 0.09, rng, tyre=0.03, spokes=True)


def _stacked_materials(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    kind = int(rng.integers(4))
    if kind == 0:  # cardboard boxes
        rows = int(rng.integers(1, 5))
        y1 = 1.0
        for r in range(rows):
            h = (1.0 / rows) * float(rng.uniform(0.85, 1.0))
            x = float(rng.uniform(0, 0.1)) * r
            while x < 0.95:
                w = float(rng.uniform(0.2, 0.45))
                c = _pick(rng, CARDBOARD, 12)
                x1 = min(x + w, 1.0)
                pen.rect(x, y1 - h, x1, y1, c)
                pen.rect(x, y1 - h, x1, y1 - h + 0.03, _shade(c, 1.12))
                pen.line(((x + x1) / 2, y1 - h), ((x + x1) / 2, y1 - h * 0.6), _c(170, 190, 200), 0.02)
                pen.polyline([(x, y1 - h), (x1, y1 - h), (x1, y1), (x, y1)], _shade(c, 0.6), 0.008, True)
                x = x1 + 0.005
            y1 -= h
    elif kind == 1:  # bricks / blocks
        base = _pick(rng, [(50, 70, 160), (150, 150, 150), (60, 90, 180), (190, 190, 185)], 10)
        rows = int(rng.integers(4, 12))
        for r in range(rows):
            y0, y1 = 1 - (r + 1) / rows, 1 - r / rows
            shift = 0.5 if r % 2 else 0.0
            n = int(rng.integers(3, 7))
            inset = r / rows * float(rng.uniform(0, 0.25))
            for i in range(n):
                x0 = inset + (i + shift * 0) / n * (1 - 2 * inset)
                x1 = inset + (i + 1) / n * (1 - 2 * inset)
                pen.rect(x0 + 0.004, y0 + 0.004, x1 - 0.004, y1 - 0.004, _shade(base, float(rng.uniform(0.8, 1.15))))
    elif kind == 2:  # sacks (cement, sand, rice)
        col = _pick(rng, [(215, 220, 225), (170, 200, 210), (120, 150, 170), (200, 200, 200), (90, 130, 60)], 10)
        rows = int(rng.integers(1, 4))
        for r in range(rows):
            n = rows - r + int(rng.integers(0, 2))
            rh = 1.0 / rows
            for i in range(n):
                cx = (i + 0.5) / n * (1 - 0.2 * r / rows) + 0.1 * r / rows
                pen.blob(cx, 1 - (r + 0.5) * rh, 0.5 / n, rh * 0.52, _shade(col, float(rng.uniform(0.85, 1.05))), rng, 0.08)
                if rng.random() < 0.5:
                    pen.text(_word(rng, 3), cx - 0.2 / n, 1 - (r + 0.45) * rh, rh * 0.2, _c(60, 60, 160), 0.01)
    else:  # pipes / planks
        col = _pick(rng, [*WOOD, (180, 180, 180), (230, 230, 230), (60, 60, 60)])
        rows = int(rng.integers(3, 9))
        for r in range(rows):
            y0, y1 = 1 - (r + 1) / rows, 1 - r / rows
            sh = _shade(col, float(rng.uniform(0.8, 1.1)))
            pen.rect(0.0 + float(rng.uniform(0, 0.05)), y0 + 0.005, 1.0 - float(rng.uniform(0, 0.05)), y1 - 0.005, sh)
            pen.line((0.02, (y0 + y1) / 2), (0.98, (y0 + y1) / 2), _shade(sh, 1.15), 0.01)


def _trash_bag(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    n = int(rng.integers(1, 5)) if pen.w / pen.h > 1.2 else int(rng.integers(1, 3))
    base = _pick(rng, BAG, 10)
    for i in range(n):
        col = base if rng.random() < 0.7 else _pick(rng, BAG, 10)
        cx = (i + 0.5) / n + float(rng.uniform(-0.05, 0.05)) / n
        rx = 0.55 / n + 0.02
        ry = float(rng.uniform(0.3, 0.42))
        cy = 1 - ry - 0.01
        xy = pen.blob(cx, cy, rx, ry, col, rng, 0.12)
        # knot on top, a glossy highlight and a crease: what makes a bag read as a bag
        ky = float(xy[:, 1].min())
        pen.poly([(cx - rx * 0.25, ky + 0.03), (cx, ky - 0.07), (cx + rx * 0.25, ky + 0.03)], col)
        pen.ellipse(cx - rx * 0.3, cy - ry * 0.3, rx * 0.18, ry * 0.35, _shade(col, 1.6 if col[0] < 100 else 1.1), angle=20)
        pen.line((cx + rx * 0.1, cy - ry * 0.5), (cx + rx * 0.3, cy + ry * 0.6), _shade(col, 0.6), 0.01)


def _litter_pile(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    dirt = _pick(rng, [(50, 60, 70), (70, 80, 90), (40, 45, 50), (90, 100, 110)], 10)
    pen.blob(0.5, 0.65, 0.49, 0.34, dirt, rng, 0.2)
    for _ in range(int(rng.integers(12, 30))):
        x, y = float(rng.uniform(0.08, 0.92)), float(rng.uniform(0.15, 0.95))
        kind = int(rng.integers(4))
        c = _rand_color(rng, sat=(0.0, 0.9), val=(0.4, 1.0))
        if kind == 0:  # crumpled paper
            pen.blob(x, y, 0.04, 0.12, _c(220, 225, 230) if rng.random() < 0.6 else c, rng, 0.35, 8)
        elif kind == 1:  # can / cup
            pen.rect(x - 0.02, y - 0.12, x + 0.02, y + 0.08, c)
        elif kind == 2:  # bottle lying down
            pen.ellipse(x, y, 0.06, 0.06, _c(130, 160, 90, 255) if rng.random() < 0.5 else c, angle=float(rng.uniform(0, 180)))
        else:  # food box
            pen.poly([(x - 0.05, y), (x + 0.04, y - 0.1), (x + 0.08, y + 0.02), (x - 0.02, y + 0.1)], c)


def _bench(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    wood = _pick(rng, [*WOOD, (130, 130, 130)])
    metal = _pick(rng, [*DARK, (40, 80, 40)])
    if rng.random() < 0.75:
        for y in (0.05, 0.18, 0.31):
            pen.rect(0.04, y, 0.96, y + 0.09, _shade(wood, float(rng.uniform(0.85, 1.1))))
        for y in (0.52, 0.6):
            pen.rect(0.0, y, 1.0, y + 0.07, wood)
        for x in (0.08, 0.92):
            pen.line((x, 0.02), (x, 1.0), metal, 0.05)
            pen.line((x - 0.05, 0.45), (x + 0.01, 0.45), metal, 0.04)
        pen.line((0.5, 0.67), (0.5, 1.0), metal, 0.04)
    else:  # backless slatted bench on stone feet
        stone = _pick(rng, [(170, 170, 165), (140, 140, 140)])
        for y in (0.35, 0.45):
            pen.rect(0.0, y, 1.0, y + 0.09, wood)
        pen.rect(0.06, 0.54, 0.2, 1.0, stone)
        pen.rect(0.8, 0.54, 0.94, 1.0, stone)


def _bin(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _pick(rng, [(50, 120, 40), (120, 120, 120), (150, 80, 20), (30, 120, 230), (40, 40, 40), (40, 160, 200)], 12)
    if rng.random() < 0.5:  # wheelie bin
        pen.poly([(0.06, 0.12), (0.94, 0.12), (0.88, 0.92), (0.12, 0.92)], col)
        pen.rect(0.0, 0.02, 1.0, 0.13, _shade(col, 0.8))
        pen.rect(0.9, 0.08, 1.0, 0.2, _shade(col, 0.6))
        _wheel(pen, 0.2, 0.93, 0.09, 0.065, rng, tyre=0.04, spokes=False)
        _wheel(pen, 0.8, 0.93, 0.09, 0.065, rng, tyre=0.04, spokes=False)
    else:  # street litter bin (cylinder with a dome lid)
        pen.rect(0.05, 0.15, 0.95, 0.98, col)
        pen.ellipse(0.5, 0.15, 0.45, 0.1, _shade(col, 0.8), a0=180, a1=360)
        pen.rect(0.05, 0.13, 0.95, 0.17, _shade(col, 0.7))
        pen.rect(0.3, 0.22, 0.7, 0.3, _c(20, 20, 20))
        pen.ellipse(0.5, 0.98, 0.45, 0.02, _shade(col, 0.6))
    if rng.random() < 0.6:
        pen.rect(0.3, 0.4, 0.7, 0.55, _c(230, 230, 230))
        pen.text(_word(rng, 3), 0.32, 0.52, 0.08, _c(30, 30, 30), 0.015)


def _car(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    body = _pick(rng, [(235, 235, 235), (30, 30, 30), (160, 160, 160), (40, 40, 170), (140, 80, 30), (120, 120, 120)], 10)
    pen.poly([(0.02, 0.45), (0.2, 0.42), (0.3, 0.08), (0.75, 0.06), (0.88, 0.4), (0.99, 0.45), (0.99, 0.82), (0.01, 0.82)], body)
    pen.poly([(0.33, 0.12), (0.72, 0.1), (0.82, 0.4), (0.24, 0.42)], _c(70, 55, 45))
    pen.line((0.53, 0.11), (0.53, 0.42), body, 0.03)
    pen.rect(0.0, 0.55, 0.05, 0.62, _c(80, 200, 240))
    pen.rect(0.95, 0.55, 1.0, 0.62, _c(60, 60, 200))
    for x in (0.2, 0.8):
        _wheel(pen, x, 0.82, 0.09, 0.17, rng, tyre=0.09, spokes=False)


def _planter(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    pot = _pick(rng, [(60, 90, 150), (170, 170, 170), (40, 40, 40), (200, 200, 200)])
    pen.poly([(0.1, 0.45), (0.9, 0.45), (0.8, 1.0), (0.2, 1.0)], pot)
    for _ in range(int(rng.integers(6, 14))):
        pen.ellipse(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.08, 0.45)), 0.15, 0.1,
                    _c(40 + rng.integers(0, 40), 110 + rng.integers(0, 60), 40 + rng.integers(0, 30)))


def _bollard(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _pick(rng, [(60, 60, 60), (150, 150, 150), (30, 160, 230)])
    pen.rect(0.1, 0.06, 0.9, 1.0, col)
    pen.ellipse(0.5, 0.06, 0.4, 0.05, _shade(col, 1.2))
    pen.rect(0.1, 0.2, 0.9, 0.26, _c(230, 230, 230))


def _lamp_post(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    metal = _pick(rng, [(60, 60, 60), (40, 70, 40), (150, 150, 150), (30, 30, 30)], 8)
    left = rng.random() < 0.5
    x = 0.85 if left else 0.15
    pen.poly([(x - 0.08, 1.0), (x + 0.08, 1.0), (x + 0.04, 0.05), (x - 0.04, 0.05)], metal)
    pen.rect(x - 0.12, 0.9, x + 0.12, 1.0, _shade(metal, 0.8))
    end = 0.05 if left else 0.95
    pen.line((x, 0.06), (end, 0.02), metal, 0.008)
    pen.ellipse(end, 0.025, 0.12, 0.012, _c(210, 230, 240))
    if rng.random() < 0.4:  # a sign or banner on the pole
        pen.rect(x - 0.15, 0.3, x + 0.15, 0.42, _rand_color(rng))


def _tree(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    bark = _pick(rng, [(40, 60, 80), (50, 70, 90), (60, 60, 70)], 8)
    pen.poly([(0.45, 1.0), (0.55, 1.0), (0.53, 0.4), (0.47, 0.4)], bark)
    pen.rect(0.3, 0.97, 0.7, 1.0, _c(60, 70, 80))
    leaf = np.array([40, 110, 50], float) + rng.normal(0, 15, 3)
    for _ in range(int(rng.integers(18, 34))):
        cx, cy = float(rng.uniform(0.15, 0.85)), float(rng.uniform(0.05, 0.5))
        k = float(rng.uniform(0.7, 1.25))
        pen.ellipse(cx, cy, float(rng.uniform(0.1, 0.18)), float(rng.uniform(0.05, 0.09)),
                    _c(leaf[0] * k, leaf[1] * k, leaf[2] * k))


# ------------------------------------------------------------------- street things (next class list)
def _van_truck(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """A van or a box lorry seen from the side: tall box body, cab with a windscreen, two or three wheels."""
    body = _pick(rng, [(235, 235, 235), (200, 200, 200), (40, 40, 40), (160, 90, 30), (30, 110, 200),
                       (40, 140, 60), (30, 30, 180)], 10)
    flip = rng.random() < 0.5
    cab = 0.28 if rng.random() < 0.5 else 0.22
    x_cab0, x_cab1 = (0.0, cab) if flip else (1 - cab, 1.0)
    pen.rect(0.0 if not flip else cab - 0.01, 0.02, 1 - cab + 0.01 if not flip else 1.0, 0.8, body)  # cargo box
    pen.poly([(x_cab0, 0.8), (x_cab1, 0.8), (x_cab1, 0.3), (x_cab0 + (0.0 if flip else cab * 0.3), 0.22),
              (x_cab0 + (cab * 0.7 if flip else 0.0), 0.22)], _shade(body, 0.95) if rng.random() < 0.6 else _rand_color(rng))
    wx0, wx1 = (x_cab0 + 0.02, x_cab0 + cab * 0.6) if flip else (x_cab1 - cab * 0.6, x_cab1 - 0.02)
    pen.rect(wx0, 0.3, wx1, 0.48, _c(70, 55, 45))
    if rng.random() < 0.6:  # lettering or a red cross on the box
        if rng.random() < 0.2:
            cx = 0.5 - (cab / 2 if not flip else -cab / 2)
            pen.rect(cx - 0.05, 0.25, cx + 0.05, 0.55, _c(30, 30, 210))
            pen.rect(cx - 0.12, 0.35, cx + 0.12, 0.45, _c(30, 30, 210))
        else:
            pen.text(_word(rng, int(rng.integers(3, 7))), 0.08 if not flip else cab + 0.06, 0.45, 0.12,
                     _rand_color(rng), 0.02)
    pen.rect(0.0, 0.76, 1.0, 0.82, _shade(body, 0.6))
    axles = (0.15, 0.85) if rng.random() < 0.7 else (0.12, 0.27, 0.85)
    for x in axles:
        _wheel(pen, x if not flip else 1 - x, 0.84, 0.07, 0.15, rng, tyre=0.1, spokes=False)


def _bus(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    body = _pick(rng, [(40, 40, 200), (235, 235, 235), (40, 160, 60), (30, 170, 230), (160, 90, 30)], 10)
    pen.rect(0.0, 0.03, 1.0, 0.86, body)
    pen.rect(0.0, 0.03, 1.0, 0.07, _shade(body, 0.8))
    n = int(rng.integers(5, 9))
    glass = _c(80, 65, 55)
    for i in range(n):
        x0 = 0.03 + i * 0.94 / n
        pen.rect(x0 + 0.01, 0.14, x0 + 0.94 / n - 0.01, 0.46, glass)
    if rng.random() < 0.5:  # double-decker: a second row of windows
        for i in range(n):
            x0 = 0.03 + i * 0.94 / n
            pen.rect(x0 + 0.01, 0.5, x0 + 0.94 / n - 0.01, 0.62, glass)
    door = float(rng.uniform(0.15, 0.7))
    pen.rect(door, 0.16, door + 0.08, 0.84, _shade(glass, 1.2))
    pen.rect(0.05, 0.66, 0.5, 0.76, _rand_color(rng))  # advert band
    for x in (0.15, 0.82):
        _wheel(pen, x, 0.86, 0.05, 0.13, rng, tyre=0.09, spokes=False)


def _pushchair(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """Pushchair / pram: a hooded seat or carrycot on a light frame, four small wheels, a push handle."""
    fabric = _pick(rng, [(40, 40, 40), (120, 60, 30), (60, 60, 150), (150, 150, 150), (40, 90, 40), (170, 120, 200)], 12)
    frame = _pick(rng, [(30, 30, 30), (190, 190, 190)])
    flip = rng.random() < 0.5
    def fx(x: float) -> float:
        return 1 - x if flip else x
    pen.line((fx(0.95), 0.02), (fx(0.6), 0.55), frame, 0.025)  # handle bar down to the seat
    pen.line((fx(0.88), 0.02), (fx(1.0), 0.02), frame, 0.035)
    pen.line((fx(0.6), 0.55), (fx(0.2), 0.88), frame, 0.02)
    pen.line((fx(0.6), 0.55), (fx(0.78), 0.88), frame, 0.02)
    if rng.random() < 0.5:  # pram: carrycot
        pen.poly([(fx(0.05), 0.3), (fx(0.7), 0.3), (fx(0.62), 0.62), (fx(0.12), 0.62)], fabric)
        pen.ellipse(fx(0.2), 0.3, 0.17, 0.2, _shade(fabric, 0.8), a0=180, a1=360)
    else:  # buggy: seat with a hood
        pen.poly([(fx(0.15), 0.25), (fx(0.55), 0.3), (fx(0.6), 0.62), (fx(0.25), 0.6)], fabric)
        pen.ellipse(fx(0.3), 0.28, 0.2, 0.18, _shade(fabric, 0.75), a0=180, a1=360)
    if rng.random() < 0.4:  # shopping basket underneath
        pen.rect(fx(0.3) - 0.12, 0.66, fx(0.3) + 0.14, 0.78, _shade(fabric, 0.5))
    for x in (0.2, 0.78):
        _wheel(pen, fx(x), 0.9, 0.09, 0.09, rng, tyre=0.04, spokes=False)


def _wheelchair(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    frame = _pick(rng, [(160, 160, 160), (30, 30, 30), (150, 60, 30), (40, 40, 160)])
    seat = _pick(rng, [(30, 30, 30), (60, 40, 30), (90, 50, 40)])
    flip = rng.random() < 0.5
    def fx(x: float) -> float:
        return 1 - x if flip else x
    _wheel(pen, fx(0.4), 0.6, 0.36, 0.38, rng, tyre=0.035)  # big rear wheel with a push rim
    pen.ellipse(fx(0.4), 0.6, 0.3, 0.32, frame, thick=0.012)
    _wheel(pen, fx(0.88), 0.93, 0.07, 0.06, rng, tyre=0.03, spokes=False)
    pen.line((fx(0.2), 0.05), (fx(0.28), 0.55), frame, 0.03)  # back post and push handle
    pen.line((fx(0.1), 0.05), (fx(0.2), 0.05), frame, 0.03)
    pen.poly([(fx(0.22), 0.1), (fx(0.3), 0.1), (fx(0.34), 0.5), (fx(0.26), 0.5)], seat)
    pen.rect(min(fx(0.28), fx(0.75)), 0.48, max(fx(0.28), fx(0.75)), 0.54, seat)
    pen.line((fx(0.72), 0.52), (fx(0.86), 0.88), frame, 0.025)
    pen.line((fx(0.8), 0.86), (fx(0.95), 0.86), frame, 0.03)


def _dog(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    fur = _pick(rng, [(40, 70, 120), (30, 30, 30), (200, 210, 220), (60, 110, 170), (120, 140, 160)], 14)
    flip = rng.random() < 0.5
    def fx(x: float) -> float:
        return 1 - x if flip else x
    pen.ellipse(fx(0.45), 0.45, 0.32, 0.17, fur)  # body
    for x in (0.2, 0.3, 0.6, 0.7):
        pen.line((fx(x), 0.5), (fx(x + float(rng.uniform(-0.03, 0.03))), 0.97), _shade(fur, 0.85), 0.07)
    pen.line((fx(0.14), 0.4), (fx(0.02), 0.18 + float(rng.uniform(0, 0.2))), fur, 0.05)  # tail
    pen.line((fx(0.72), 0.4), (fx(0.8), 0.2), fur, 0.12)  # neck
    pen.ellipse(fx(0.84), 0.17, 0.11, 0.12, fur)
    pen.ellipse(fx(0.94), 0.22, 0.06, 0.05, _shade(fur, 0.8))  # muzzle
    pen.ellipse(fx(0.8), 0.08, 0.04, 0.08, _shade(fur, 0.7))  # ear
    if rng.random() < 0.5:  # lead going up out of the picture
        pen.line((fx(0.78), 0.3), (fx(0.99), 0.0), _c(40, 40, 160), 0.012)


def _handbag(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _rand_color(rng, sat=(0.2, 0.9), val=(0.2, 0.85))
    if rng.random() < 0.5:  # handbag: trapezoid with a strap loop
        pen.ellipse(0.5, 0.32, 0.28, 0.3, _shade(col, 0.7), thick=0.05, a0=180, a1=360)
        pen.poly([(0.12, 0.35), (0.88, 0.35), (1.0, 1.0), (0.0, 1.0)], col)
        pen.rect(0.42, 0.42, 0.58, 0.5, _c(150, 190, 210))
    else:  # paper or plastic shopping bag with two handles
        pen.rect(0.05, 0.3, 0.95, 1.0, col)
        for x in (0.3, 0.7):
            pen.ellipse(x, 0.3, 0.12, 0.22, _shade(col, 0.6), thick=0.03, a0=180, a1=360)
        if rng.random() < 0.6:
            pen.text(_word(rng, 3), 0.15, 0.7, 0.15, _c(255, 255, 255) if sum(col[:3]) < 400 else _c(20, 20, 20), 0.03)


def _backpack(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _rand_color(rng, sat=(0.2, 0.9), val=(0.15, 0.8))
    pen.ellipse(0.5, 0.1, 0.2, 0.08, _shade(col, 0.6), thick=0.04, a0=180, a1=360)  # grab loop
    pen.poly([(0.12, 0.12), (0.88, 0.12), (1.0, 0.95), (0.0, 0.95)], col)
    pen.ellipse(0.5, 0.14, 0.38, 0.08, col)
    pen.rect(0.18, 0.55, 0.82, 0.92, _shade(col, 0.8))  # front pocket
    pen.line((0.2, 0.55), (0.8, 0.55), _c(30, 30, 30), 0.015)


def _suitcase(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    col = _pick(rng, [(30, 30, 30), (60, 60, 170), (150, 150, 150), (160, 90, 30), (40, 120, 200), (200, 200, 200)], 14)
    extended = rng.random() < 0.7  # being wheeled: the handle pulled out
    top = 0.38 if extended else 0.1
    if extended:
        for x in (0.38, 0.62):
            pen.line((x, 0.02), (x, top), _c(150, 150, 150), 0.02)
        pen.line((0.34, 0.02), (0.66, 0.02), _c(30, 30, 30), 0.04)
    else:
        pen.ellipse(0.5, top, 0.14, 0.07, _c(30, 30, 30), thick=0.03, a0=180, a1=360)
    pen.rect(0.05, top, 0.95, 0.94, col)
    for x in (0.3, 0.5, 0.7):
        pen.line((x, top + 0.03), (x, 0.9), _shade(col, 0.8), 0.012)
    for x in (0.15, 0.85):
        pen.ellipse(x, 0.96, 0.06, 0.035, _c(25, 25, 25))


def _kiosk(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """A news kiosk, a phone booth or a ticket / parking machine (the aspect decides which reads best)."""
    col = _pick(rng, [(40, 90, 40), (40, 40, 180), (200, 200, 200), (60, 60, 60), (30, 140, 210), (140, 80, 30)], 12)
    wide = pen.w / pen.h
    if wide > 0.9:  # news kiosk: roof, open counter full of magazines, a sign
        pen.rect(0.0, 0.0, 1.0, 0.12, _shade(col, 0.8))
        pen.text(_word(rng, 5), 0.1, 0.1, 0.08, _c(255, 255, 255), 0.015)
        pen.rect(0.03, 0.12, 0.97, 1.0, col)
        pen.rect(0.1, 0.2, 0.9, 0.55, _c(80, 70, 60))
        for _ in range(int(rng.integers(10, 24))):
            x, y = float(rng.uniform(0.12, 0.85)), float(rng.uniform(0.22, 0.5))
            pen.rect(x, y, x + 0.05, y + 0.07, _rand_color(rng))
        pen.rect(0.05, 0.55, 0.95, 0.6, _shade(col, 0.6))
    elif wide > 0.55:  # phone booth: glass box on a frame
        pen.rect(0.0, 0.0, 1.0, 1.0, col)
        pen.rect(0.1, 0.12, 0.9, 0.95, _c(150, 140, 120))
        pen.line((0.5, 0.12), (0.5, 0.95), col, 0.02)
        for y in (0.35, 0.6):
            pen.line((0.1, y), (0.9, y), col, 0.015)
        pen.rect(0.05, 0.02, 0.95, 0.09, _c(230, 230, 230))
        pen.rect(0.35, 0.4, 0.6, 0.55, _c(60, 60, 60))  # the phone through the glass
    else:  # ticket or parking machine: a post with a screen and keypad
        pen.rect(0.15, 0.0, 0.85, 0.65, col)
        pen.rect(0.25, 0.08, 0.75, 0.25, _c(120, 90, 40))
        for r in range(3):
            for cc in range(3):
                pen.rect(0.28 + cc * 0.15, 0.3 + r * 0.08, 0.38 + cc * 0.15, 0.36 + r * 0.08, _c(200, 200, 200))
        pen.rect(0.4, 0.65, 0.6, 1.0, _shade(col, 0.6))


def _bike_rack(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """Sheffield stands in a row (inverted U hoops) or a wheel rack, empty."""
    metal = _pick(rng, [(160, 160, 160), (40, 40, 40), (40, 90, 40), (30, 140, 210)])
    n = int(rng.integers(2, 6))
    if rng.random() < 0.6:
        for i in range(n):
            x0 = 0.02 + i * 0.96 / n
            x1 = x0 + 0.96 / n * 0.7
            pen.line((x0, 0.3), (x0, 1.0), metal, 0.06)
            pen.line((x1, 0.3), (x1, 1.0), metal, 0.06)
            pen.ellipse((x0 + x1) / 2, 0.3, (x1 - x0) / 2, 0.28, metal, thick=0.06, a0=180, a1=360)
    else:
        pen.rect(0.0, 0.9, 1.0, 0.97, metal)
        for i in range(n * 2):
            x = 0.04 + i * 0.92 / (n * 2 - 1)
            pen.ellipse(x, 0.62, 0.02, 0.34, metal, thick=0.025)


def _poster(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """A free-standing billboard, an advertising column face or a hoarding panel: big printed picture + text."""
    frame = _pick(rng, [(40, 40, 40), (200, 200, 200), (40, 90, 40)])
    legs = rng.random() < 0.5
    bottom = 0.8 if legs else 1.0
    pen.rect(0.0, 0.0, 1.0, bottom, frame)
    pen.rect(0.03, 0.03, 0.97, bottom - 0.03, _rand_color(rng, val=(0.5, 1.0)))
    for _ in range(int(rng.integers(2, 6))):  # picture: blobs and bands of colour (products, faces, bags...)
        pen.blob(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.15, bottom - 0.2)), float(rng.uniform(0.1, 0.3)),
                 float(rng.uniform(0.06, 0.2)), _rand_color(rng), rng, 0.2)
    for k in range(int(rng.integers(1, 4))):
        pen.text(_word(rng, int(rng.integers(3, 8))), 0.08, 0.15 + k * 0.12, 0.07, _rand_color(rng, val=(0.0, 0.3)), 0.015)
    if legs:
        for x in (0.15, 0.85):
            pen.rect(x - 0.03, bottom, x + 0.03, 1.0, _shade(frame, 0.7))


def _window_display(pen: _Pen, rng: Rng, prm: dict[str, float]) -> None:
    """Goods seen through a shop window: a dark glass pane with a frame, shelves and goods behind it, glare."""
    frame = _pick(rng, [(40, 40, 40), (200, 200, 200), (60, 90, 130)])
    pen.rect(0.0, 0.0, 1.0, 1.0, frame)
    inner = _c(*(int(v) for v in rng.integers(40, 90, 3)))
    pen.rect(0.04, 0.04, 0.96, 0.86, inner)
    shelves = int(rng.integers(2, 4))
    for i in range(shelves):
        y = 0.84 - i * 0.78 / shelves
        pen.rect(0.05, y - 0.02, 0.95, y, _c(150, 150, 150))
        x = 0.07
        while x < 0.9:
            w = float(rng.uniform(0.05, 0.14))
            h = float(rng.uniform(0.3, 0.8)) * 0.78 / shelves
            pen.rect(x, y - 0.02 - h, min(x + w, 0.93), y - 0.02, _shade(_rand_color(rng), 0.7))  # seen through glass
            x += w + float(rng.uniform(0.01, 0.05))
    if rng.random() < 0.5:  # mannequin
        mx = float(rng.uniform(0.2, 0.8))
        pen.ellipse(mx, 0.15, 0.04, 0.05, _c(180, 190, 200))
        pen.poly([(mx - 0.08, 0.2), (mx + 0.08, 0.2), (mx + 0.06, 0.7), (mx - 0.06, 0.7)], _rand_color(rng))
    for _ in range(2):  # glare streaks on the glass
        x = float(rng.uniform(0.1, 0.8))
        pen.poly([(x, 0.04), (x + 0.08, 0.04), (x - 0.1, 0.86), (x - 0.18, 0.86)], _shade(inner, 1.6))
    pen.rect(0.0, 0.86, 1.0, 1.0, _shade(frame, 0.8))  # sill


DRAWERS: dict[str, Callable[[_Pen, Rng, dict[str, float]], None]] = {
    "person": _person, "bicycle": _bicycle, "e_bike": _e_bike, "goods_display": _goods_display,
    "table": _table, "chair": _chair, "parasol": _parasol, "a_frame_sign": _a_frame_sign,
    "stall_cart": _stall_cart, "stacked_materials": _stacked_materials, "trash_bag": _trash_bag,
    "litter_pile": _litter_pile, "bench": _bench, "bin": _bin,
    "car": _car, "planter": _planter, "bollard": _bollard, "lamp_post": _lamp_post, "tree": _tree,
    "van_truck": _van_truck, "bus": _bus, "pushchair": _pushchair, "wheelchair": _wheelchair, "dog": _dog,
    "handbag": _handbag, "backpack": _backpack, "suitcase": _suitcase, "kiosk": _kiosk, "bike_rack": _bike_rack,
    "poster": _poster, "window_display": _window_display,
}


def _check_drawers() -> None:
    missing = [n for n in class_names() if n not in DRAWERS]
    if missing:
        raise RuntimeError(f"models/frontage-n.classes.yaml lists classes the synth cannot draw: {missing}")


def _shading(img: np.ndarray, rng: Rng) -> None:
    """Side light and a darker base: a cheap cue of volume for flat-drawn shapes."""
    h, w = img.shape[:2]
    side = float(rng.uniform(-0.25, 0.25))
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)
    ys = np.linspace(0, 1, h, dtype=np.float32)
    m = (1 + side * xs)[None, :] * (1.05 - 0.15 * ys)[:, None]
    noise = cv2.resize(rng.normal(1, 0.06, (max(2, h // 12), max(2, w // 12))).astype(np.float32), (w, h))
    m = m * noise
    img[:, :, :3] = np.clip(img[:, :, :3].astype(np.float32) * m[:, :, None], 0, 255).astype(np.uint8)


@lru_cache(maxsize=512)
def _draw_cached(spec: ObjectSpec, phase_key: int) -> np.ndarray:
    rng = np.random.default_rng(spec.seed)
    h = _WORK_HEIGHT
    w = max(4, round(h * spec.aspect))
    img = np.zeros((h, w, 4), np.uint8)
    params = dict(spec.params)
    if phase_key >= 0:
        params["phase"] = phase_key / 16 * 2 * math.pi
    DRAWERS[spec.class_name](_Pen(img), rng, params)
    _shading(img, rng)
    return _tight(img)


def _tight(img: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(img[:, :, 3] > 8)
    if not len(ys):
        return img
    return img[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def draw_spec(spec: ObjectSpec, height_px: int, phase: float | None = None) -> np.ndarray:
    """Draw ``spec`` as a tight BGRA sprite ``height_px`` tall (width follows the object's real aspect).

    ``phase`` (radians) animates walkers; it is quantised to 16 steps so clips can reuse drawings.
    """
    _check_drawers()
    key = -1 if phase is None else round((phase % (2 * math.pi)) / (2 * math.pi) * 16) % 16
    base = _draw_cached(spec, key)
    bh, bw = base.shape[:2]
    h = max(2, int(height_px))
    w = max(1, round(bw * h / bh))
    interp = cv2.INTER_AREA if h < bh else cv2.INTER_LINEAR
    out = cv2.resize(base, (w, h), interpolation=interp)
    # premultiplied-free resize can leave dark fringes; keep colour where alpha is tiny harmless
    return out


def render_object(class_name: str, rng: np.random.Generator, height_px: int) -> np.ndarray:
    """One randomly drawn object of ``class_name`` on a transparent background.

    Returns an (H, W, 4) uint8 BGRA array, H == ``height_px``, tight to the object (alpha > 0 on every
    edge row/column); paste it with its alpha channel. The look is drawn from ``rng`` (same state, same
    object), with the same drawing code the scenes and clips use.

    >>> import numpy as np
    >>> a = render_object("bicycle", np.random.default_rng(7), 120)
    >>> b = render_object("bicycle", np.random.default_rng(7), 120)
    >>> a.shape[0] == 120 and a.shape[2] == 4 and bool((a == b).all()) and int(a[..., 3].max()) == 255
    True
    """
    if class_name not in class_names() and class_name not in STREET_THINGS:
        raise ValueError(f"unknown class {class_name!r}; classes of the model: {', '.join(class_names())}; "
                         f"street things: {', '.join(STREET_THINGS)}")
    if int(height_px) < 2:
        raise ValueError(f"height_px must be at least 2, got {height_px}")
    spec = make_spec(class_name, rng)
    return draw_spec(spec, int(height_px), phase=float(rng.uniform(0, 2 * math.pi)) if class_name == "person" else None)
