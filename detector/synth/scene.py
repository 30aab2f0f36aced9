"""A street seen from a fixed elevated camera: layout, look (light, weather), background and compositing.

World coordinates (metres): X to the right, Y up, Z along the street away from the camera. The road is
on the camera's side, the kerb at ``X = kerb_x``, the pavement runs to the shopfronts at ``X = facade_x``.
Objects are upright sprites standing on the ground; they are drawn far to near (painter's order), so
nearer objects occlude farther ones, and each leaves a shadow that follows the sun of the `Look`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from detector.synth.camera import Camera
from detector.synth.objects import ObjectSpec, _c, _Pen, _rand_color, _word, draw_spec

Rng = np.random.Generator


# ----------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Shop:
    z0: float
    z1: float
    merchant: str | None  # None: a stretch of wall with no shop (the sidewalk zone)
    seed: int


@dataclass(frozen=True)
class Street:
    """Layout and palette of one street (everything static)."""

    kerb_x: float
    facade_x: float
    opposite_x: float  # the far kerb of the road (negative: left of the camera)
    shops: tuple[Shop, ...]
    seed: int
    tile_m: float
    pave_bgr: tuple[int, int, int]
    road_bgr: tuple[int, int, int]

    @property
    def pavement_width(self) -> float:
        return self.facade_x - self.kerb_x


@dataclass(frozen=True)
class Look:
    """Light and weather; applied to the whole frame after compositing."""

    name: str  # day | overcast | dusk | rain
    brightness: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # BGR gains
    contrast: float = 1.0
    shadow_strength: float = 0.45
    sun_shear: float = 0.6  # horizontal shadow lean per unit of object height
    sun_flatten: float = 0.35  # shadow length relative to object height
    noise_sigma: float = 1.5
    blur_sigma: float = 0.0
    rain: float = 0.0  # 0..1 streak density
    wet: float = 0.0  # 0..1 darker, glossier ground
    haze: float = 0.0
    lit_windows: bool = False


def random_camera(rng: Rng, size: tuple[int, int]) -> Camera:
    w, h = size
    # from a low view down the street to the steeper CCTV view of the clips
    # a third of the cameras zoomed in (narrow field of view): fewer, larger objects
    hfov = float(rng.uniform(52, 72)) if rng.random() < 0.67 else float(rng.uniform(32, 52))
    return Camera(width=w, height=h, height_m=float(rng.uniform(3.5, 8.5)), pitch_deg=float(rng.uniform(14, 34)),
                  yaw_deg=float(rng.uniform(18, 38)), hfov_deg=hfov)


def random_street(rng: Rng, n_shops: int | None = None, z_start: float = 1.0, merchant_base: int | None = None) -> Street:
    kerb = float(rng.uniform(1.5, 4.5))
    pave = float(rng.uniform(3.5, 6.5))
    lanes = int(rng.integers(1, 4))
    shops = []
    z = z_start
    base = int(rng.integers(1, 9000)) if merchant_base is None else merchant_base
    count = n_shops if n_shops is not None else 40
    for i in range(count):
        w = float(rng.uniform(4.5, 8.5))
        merchant = f"m-{base + i:04d}" if rng.random() > 0.1 else None
        shops.append(Shop(z, z + w, merchant, int(rng.integers(0, 2**31 - 1))))
        z += w
        if n_shops is None and z > 150:
            break
    grey = float(rng.uniform(120, 200))
    pave_bgr = tuple(int(np.clip(grey + d, 0, 255)) for d in rng.normal(0, 12, 3))
    road = float(rng.uniform(55, 95))
    return Street(kerb_x=kerb, facade_x=kerb + pave, opposite_x=kerb - lanes * 3.3 - 0.5, shops=tuple(shops),
                  seed=int(rng.integers(0, 2**31 - 1)), tile_m=float(rng.choice([0.3, 0.4, 0.5, 0.6])),
                  pave_bgr=pave_bgr, road_bgr=(int(road), int(road), int(road + rng.uniform(-5, 5))))  # type: ignore[arg-type]


def random_look(rng: Rng, name: str | None = None, clip: bool = False) -> Look:
    """Sample a look; ``clip=True`` keeps noise mild (sensor noise ruins H.264 compression)."""
    name = name or str(rng.choice(["day", "day", "overcast", "dusk", "rain", "night"]))
    noise = float(rng.uniform(0.5, 1.5)) if clip else float(rng.uniform(0, 7))
    blur = 0.0 if clip else float(rng.choice([0.0, 0.0, rng.uniform(0.4, 1.4)]))
    shear = float(rng.uniform(-1.1, 1.1))
    if name == "day":
        return Look(name, brightness=float(rng.uniform(0.95, 1.15)), tint=(float(rng.uniform(0.95, 1.05)), 1.0, float(rng.uniform(0.97, 1.06))),
                    shadow_strength=float(rng.uniform(0.35, 0.55)), sun_shear=shear, sun_flatten=float(rng.uniform(0.25, 0.7)),
                    noise_sigma=noise, blur_sigma=blur, haze=float(rng.uniform(0, 0.1)))
    if name == "overcast":
        return Look(name, brightness=float(rng.uniform(0.75, 0.95)), contrast=float(rng.uniform(0.75, 0.9)),
                    tint=(1.03, 1.0, 0.97), shadow_strength=0.18, sun_shear=0.0, sun_flatten=0.08,
                    noise_sigma=noise, blur_sigma=blur, haze=float(rng.uniform(0.05, 0.2)))
    if name == "dusk":
        return Look(name, brightness=float(rng.uniform(0.42, 0.6)), tint=(float(rng.uniform(1.05, 1.25)), 0.95, float(rng.uniform(0.85, 1.1))),
                    contrast=0.9, shadow_strength=0.15, sun_shear=0.0, sun_flatten=0.08, noise_sigma=noise * 1.3,
                    blur_sigma=blur, lit_windows=True, haze=0.05)
    if name == "rain":
        return Look(name, brightness=float(rng.uniform(0.6, 0.8)), contrast=0.8, tint=(1.06, 1.0, 0.94), shadow_strength=0.15,
                    sun_shear=0.0, sun_flatten=0.08, noise_sigma=noise, blur_sigma=blur, rain=float(rng.uniform(0.4, 1.0)),
                    wet=float(rng.uniform(0.4, 0.9)), haze=float(rng.uniform(0.1, 0.25)), lit_windows=bool(rng.random() < 0.5))
    if name == "night":  # sodium street light, lit shops, a noisy sensor
        return Look(name, brightness=float(rng.uniform(0.22, 0.36)), tint=(0.8, 0.95, float(rng.uniform(1.1, 1.3))),
                    shadow_strength=0.12, sun_shear=0.0, sun_flatten=0.08, noise_sigma=noise + (0.0 if clip else 2.0),
                    blur_sigma=blur, lit_windows=True)
    raise ValueError(f"unknown look {name!r}; known: day, overcast, dusk, rain, night")


# ----------------------------------------------------------------------------------------------- background
@dataclass
class Background:
    image: np.ndarray  # H x W x 3 uint8
    emissive: np.ndarray  # H x W float32 0..1: lit signs and windows (stay bright at dusk)


def _fill(img: np.ndarray, cam: Camera, pts: list[tuple[float, float, float]], color: tuple[int, ...]) -> None:
    poly = cam.project_polygon(np.array(pts, dtype=np.float64))
    if poly is None:
        return
    cv2.fillPoly(img, [np.round(poly * 16).astype(np.int32)], color, cv2.LINE_AA, shift=4)


def _line(img: np.ndarray, cam: Camera, a: tuple[float, float, float], b: tuple[float, float, float],
          color: tuple[int, ...], thick: int = 1) -> None:
    c = cam.to_camera(np.array([a, b]))
    if c[0, 2] < 0.3 and c[1, 2] < 0.3:
        return
    if c[0, 2] < 0.3 or c[1, 2] < 0.3:  # clip to the near plane
        t = (0.3 - c[0, 2]) / (c[1, 2] - c[0, 2])
        p = c[0] + t * (c[1] - c[0])
        c = np.array([p, c[1]]) if c[0, 2] < 0.3 else np.array([c[0], p])
    uv = cam.cam_to_pixels(c)
    cv2.line(img, tuple(np.round(uv[0] * 16).astype(int)), tuple(np.round(uv[1] * 16).astype(int)), color, thick, cv2.LINE_AA, shift=4)


def _warp_quad(dst: np.ndarray, tex: np.ndarray, cam: Camera, corners: list[tuple[float, float, float]]) -> np.ndarray | None:
    """Paint a flat texture onto a world quad (corners: top-left, top-right, bottom-right, bottom-left)."""
    c = cam.to_camera(np.array(corners))
    if (c[:, 2] < 0.3).any():
        return None
    uv = cam.cam_to_pixels(c).astype(np.float32)
    h, w = tex.shape[:2]
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    m = cv2.getPerspectiveTransform(src, uv)
    cv2.warpPerspective(tex, m, (dst.shape[1], dst.shape[0]), dst=dst, flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_TRANSPARENT)
    return m


def _shop_texture(shop: Shop, height_m: float, ppm: float, street_rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """Flat facade picture of one shop (BGR) and its emissive mask."""
    rng = np.random.default_rng(shop.seed)
    w_m = shop.z1 - shop.z0
    W, H = max(8, int(w_m * ppm)), max(8, int(height_m * ppm))
    tex = np.zeros((H, W, 4), np.uint8)
    emis = np.zeros((H, W, 4), np.uint8)
    pen, glow = _Pen(tex), _Pen(emis)
    wall = _rand_color(rng, sat=(0.05, 0.35), val=(0.45, 0.9))
    pen.rect(0, 0, 1, 1, wall)
    if shop.merchant is None:  # a blank wall or fence: no shop, no sign
        brick = _rand_color(rng, sat=(0.2, 0.5), val=(0.35, 0.7))
        rows = int(height_m * 4)
        for r in range(rows):
            y0 = r / rows
            pen.rect(0, y0, 1, y0 + 0.004, _c(*(v * 0.8 for v in brick[:3])))
        pen.rect(0, 1 - 2.6 / height_m, 1, 1, brick)
        for i in range(int(w_m * 2)):
            x = i / (w_m * 2)
            pen.rect(x, 1 - 2.6 / height_m, x + 0.01, 1, _c(*(v * 0.7 for v in brick[:3])))
        if rng.random() < 0.7:  # a gate
            gx = float(rng.uniform(0.2, 0.6))
            pen.rect(gx, 1 - 2.2 / height_m, gx + min(0.35, 2.0 / w_m), 1, _c(*rng.uniform(40, 90, 3)))
        return tex[:, :, :3].copy(), emis[:, :, 3].astype(np.float32) / 255
    gf = 4.2 / height_m  # ground floor height as a fraction (from the bottom)
    y_gf = 1 - gf
    # upper storeys: rows of windows, some with AC units
    storey = 3.1 / height_m
    frame = _rand_color(rng, sat=(0, 0.2), val=(0.6, 1.0))
    n_win = max(1, int(w_m / 2.2))
    y = y_gf - storey
    while y > -storey:
        for i in range(n_win):
            x0 = (i + 0.25) / n_win
            x1 = (i + 0.75) / n_win
            pen.rect(x0 - 0.01, y + storey * 0.22, x1 + 0.01, y + storey * 0.82, frame)
            glass = _c(*(float(v) for v in rng.uniform(60, 120, 3)))
            pen.rect(x0, y + storey * 0.25, x1, y + storey * 0.78, glass)
            if rng.random() < 0.3:
                glow.rect(x0, y + storey * 0.25, x1, y + storey * 0.78, _c(120, 200, 240, 180))
            if rng.random() < 0.2:
                pen.rect(x1 - 0.08, y + storey * 0.7, x1 + 0.02, y + storey * 0.9, _c(225, 225, 225))
        y -= storey
    # ground floor: pillars, sign band, shop window, door
    pen.rect(0, y_gf, 1, 1, _c(*(v * 0.85 for v in wall[:3])))
    sign_top, sign_bot = y_gf + gf * 0.02, y_gf + gf * 0.22
    sign = _rand_color(rng, sat=(0.5, 1.0), val=(0.4, 0.95))
    pen.rect(0.03, sign_top, 0.97, sign_bot, sign)
    ink = _c(255, 255, 255) if sum(sign[:3]) < 420 else _c(20, 20, 20)
    pen.text(_word(rng, int(rng.integers(4, 9))), 0.08, sign_bot - gf * 0.05, gf * 0.12, ink, gf * 0.02)
    glow.rect(0.03, sign_top, 0.97, sign_bot, _c(200, 220, 255, 160))
    door_w = min(0.3, 1.4 / w_m)
    door_x = float(rng.uniform(0.08, 0.92 - door_w))
    win_top = sign_bot + gf * 0.05
    glass = _c(*rng.uniform(50, 110, 3))
    pen.rect(0.05, win_top, 0.95, 0.96, glass)
    for _ in range(int(rng.integers(4, 14))):  # things inside the shop window
        gx, gy = float(rng.uniform(0.08, 0.92)), float(rng.uniform(win_top + 0.03, 0.93))
        pen.rect(gx - 0.03, gy - 0.03, gx + 0.03, gy + 0.03, _rand_color(rng, val=(0.3, 0.8)))
    pen.poly([(0.1, win_top), (0.25, win_top), (0.12, 0.9), (0.05, 0.9)], _c(*(min(255, v + 45) for v in glass[:3])))
    glow.rect(0.05, win_top, 0.95, 0.96, _c(150, 220, 255, 120))
    if rng.random() < 0.3:  # roller shutter half down
        pen.rect(0.05, win_top, 0.95, win_top + gf * float(rng.uniform(0.1, 0.4)), _c(170, 170, 165))
    pen.rect(door_x, win_top - 0.005, door_x + door_w, 1.0, _c(*rng.uniform(30, 90, 3)))
    pen.rect(door_x + 0.01, win_top + 0.01, door_x + door_w - 0.01, 0.99, _c(*rng.uniform(70, 130, 3)))
    pen.rect(0, y_gf, 0.03, 1, frame)
    pen.rect(0.97, y_gf, 1, 1, frame)
    noise = cv2.resize(street_rng.normal(1, 0.05, (max(2, H // 16), max(2, W // 16))).astype(np.float32), (W, H))
    rgb = np.clip(tex[:, :, :3] * noise[:, :, None], 0, 255).astype(np.uint8)
    return rgb, emis[:, :, 3].astype(np.float32) / 255


def _awning_texture(rng: Rng) -> np.ndarray:
    a, b = _rand_color(rng, val=(0.4, 0.95)), (_c(235, 235, 235) if rng.random() < 0.6 else _rand_color(rng))
    n = int(rng.integers(6, 16))
    tex = np.zeros((40, n * 20, 4), np.uint8)
    pen = _Pen(tex)
    for i in range(n):
        pen.rect(i / n, 0, (i + 1) / n, 1, a if i % 2 == 0 else b)
    return tex[:, :, :3].copy()


def render_background(cam: Camera, street: Street, look: Look, rng: Rng) -> Background:
    W, H = cam.width, cam.height
    img = np.zeros((H, W, 3), np.uint8)
    emis = np.zeros((H, W), np.float32)
    # sky: vertical gradient, greyer when overcast or raining
    hz = int(np.clip(cam.horizon_y(), 0, H))
    sky = {"day": ([200, 150, 90], [235, 215, 190]), "dusk": ([120, 90, 80], [120, 150, 210]),
           "night": ([40, 25, 20], [70, 80, 110])}.get(look.name, ([170, 160, 150], [200, 200, 200]))
    top, bottom = np.array(sky[0], np.float32), np.array(sky[1], np.float32)
    # the sky gradient fills the whole picture first: whatever no surface covers reads as distant haze
    rows = max(hz, 1)
    t = np.clip(np.arange(H, dtype=np.float32) / rows, 0, 1)[:, None]
    img[:] = (top * (1 - t) + bottom * t).astype(np.uint8)[:, None, :]
    far = 400.0
    # opposite side: pavement and a plain block of buildings
    opp_fac = street.opposite_x - 4.0
    _fill(img, cam, [(opp_fac - 60, 0, 0.5), (street.opposite_x, 0, 0.5), (street.opposite_x, 0, far), (opp_fac - 60, 0, far)],
          tuple(int(v * 0.9) for v in street.pave_bgr))
    bcol = tuple(int(v) for v in rng.uniform(90, 170, 3))
    _fill(img, cam, [(opp_fac, 0, 0.5), (opp_fac, 0, far), (opp_fac, 18, far), (opp_fac, 18, 0.5)], bcol)
    # road with lane marks
    road = street.road_bgr
    _fill(img, cam, [(street.opposite_x, 0, 0.5), (street.kerb_x, 0, 0.5), (street.kerb_x, 0, far), (street.opposite_x, 0, far)], road)
    lanes = max(1, round((street.kerb_x - street.opposite_x) / 3.3))
    for k in range(1, lanes):
        x = street.opposite_x + k * (street.kerb_x - street.opposite_x) / lanes
        for z in np.arange(1.0, 120, 9.0):
            _fill(img, cam, [(x - 0.07, 0, z), (x + 0.07, 0, z), (x + 0.07, 0, z + 3), (x - 0.07, 0, z + 3)], (215, 215, 215))
    # pavement tiles: one fill and per-tile shade variation near the camera, joints as lines
    pb = street.pave_bgr
    _fill(img, cam, [(street.kerb_x, 0, 0.5), (street.facade_x, 0, 0.5), (street.facade_x, 0, far), (street.kerb_x, 0, far)], pb)
    t = street.tile_m
    xs = np.arange(street.kerb_x + 0.25, street.facade_x, t)
    zs = np.arange(0.5, 45, t)
    for z in zs:
        for x in xs:
            if rng.random() < 0.35:
                k = float(rng.uniform(0.9, 1.08))
                _fill(img, cam, [(x, 0, z), (min(x + t, street.facade_x), 0, z), (min(x + t, street.facade_x), 0, z + t), (x, 0, z + t)],
                      tuple(min(255, int(v * k)) for v in pb))
    joint = tuple(int(v * 0.72) for v in pb)
    for x in xs:
        _line(img, cam, (x, 0, 0.5), (x, 0, 60), joint)
    for z in zs:
        _line(img, cam, (street.kerb_x + 0.25, 0, z), (street.facade_x, 0, z), joint)
    # kerb stones and gutter line
    _fill(img, cam, [(street.kerb_x, 0, 0.5), (street.kerb_x + 0.25, 0, 0.5), (street.kerb_x + 0.25, 0, far), (street.kerb_x, 0, far)],
          tuple(int(min(255, v * 1.12)) for v in pb))
    _line(img, cam, (street.kerb_x, 0, 0.5), (street.kerb_x, 0, far), (40, 40, 40), 2)
    # large-scale stains on the ground (below the horizon)
    stain = cv2.resize(rng.normal(1, 0.07, (12, 20)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    rows = np.arange(H)[:, None] > hz
    img[:] = np.where(rows[:, :, None], np.clip(img * stain[:, :, None], 0, 255), img).astype(np.uint8)
    # shopfronts, farthest first (they never overlap but the awnings of near shops lean over far ones)
    fx = street.facade_x
    f = cam.focal_px
    for shop in sorted(street.shops, key=lambda s: -s.z0):
        depth = float(cam.depth(np.array([[fx, 2.0, max(shop.z0, 0.5)]]))[0])
        if depth <= 0.5:
            continue
        height_m = 22.0 if depth < 60 else 12.0
        span = cam.project(np.array([[fx, 0.0, shop.z0], [fx, 0.0, shop.z1]]))
        if depth > 8 and abs(span[0, 0] - span[1, 0]) < 14:  # a few pixels wide: plain wall and sign colours
            srng = np.random.default_rng(shop.seed)
            wall = tuple(float(v) for v in srng.uniform(90, 200, 3))
            _fill(img, cam, [(fx, height_m, shop.z1), (fx, height_m, shop.z0), (fx, 0, shop.z0), (fx, 0, shop.z1)], wall)
            _fill(img, cam, [(fx, 4.0, shop.z1), (fx, 4.0, shop.z0), (fx, 3.3, shop.z0), (fx, 3.3, shop.z1)],
                  tuple(float(v) for v in srng.uniform(30, 230, 3)))
            continue
        # near the camera the top of a tall facade is behind it: lower the facade until it is all in front
        while height_m > 4.5 and (cam.depth(np.array([[fx, height_m, shop.z0], [fx, height_m, shop.z1]])) < 0.35).any():
            height_m -= 1.5
        ppm = float(np.clip(f / max(depth, 1.0) * 0.7, 10, 110))
        tex, glow = _shop_texture(shop, height_m, ppm, rng)
        # seen from the road the far end (z1) is on the left of the picture: the texture's left edge goes there
        corners = [(fx, height_m, shop.z1), (fx, height_m, shop.z0), (fx, 0, shop.z0), (fx, 0, shop.z1)]
        if _warp_quad(img, tex, cam, corners) is not None and look.lit_windows:
            _warp_quad(emis, glow, cam, corners)
        srng = np.random.default_rng(shop.seed + 1)
        if shop.merchant is not None and srng.random() < 0.65:  # awning
            depth_m = float(srng.uniform(0.8, 1.6))
            top_y, low_y = 3.35, float(srng.uniform(2.5, 2.8))
            awning = [(fx, top_y, shop.z1 - 0.3), (fx, top_y, shop.z0 + 0.3), (fx - depth_m, low_y, shop.z0 + 0.3),
                      (fx - depth_m, low_y, shop.z1 - 0.3)]
            tex_a = _awning_texture(srng)
            _warp_quad(img, tex_a, cam, awning)
            if look.lit_windows:  # the awning hides the lit window behind it
                _warp_quad(emis, np.zeros(tex_a.shape[:2], np.float32), cam, awning)
    if look.wet > 0:  # wet ground: darker, with a faint mirror of the facades
        ground = np.zeros((H, W), np.float32)
        ground[hz:] = 1
        refl = cv2.flip(img, 0)
        refl = cv2.GaussianBlur(refl, (0, 0), 6)
        k = look.wet
        base = img.astype(np.float32) * (1 - 0.35 * k)
        img = np.where(ground[:, :, None] > 0, np.clip(base * (1 - 0.15 * k) + refl * 0.15 * k, 0, 255), img).astype(np.uint8)
    return Background(img, emis)


# ----------------------------------------------------------------------------------------------- objects
@dataclass
class Placed:
    """One object standing at a ground point (world X, Z) in one frame."""

    spec: ObjectSpec
    x: float
    z: float
    label: str | None  # model class to label, or None for distractors
    phase: float | None = None  # walking phase (people)
    lift_m: float = 0.0  # drawn this high above the ground (a rider on a bike)
    shadow: bool = True
    key: str = ""  # stable id (clips)
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Drawn:
    placed: Placed
    full_px: int  # opaque pixels of the whole sprite, in or out of the frame
    box_full: tuple[float, float, float, float]
    ground_uv: tuple[float, float]
    index: int


def project_placed(cam: Camera, p: Placed) -> tuple[float, float, float, float] | None:
    """Pixel bottom-centre (u, v), height and depth of a placed object (None when behind the camera)."""
    pts = np.array([[p.x, p.lift_m, p.z], [p.x, p.lift_m + p.spec.height_m, p.z]])
    c = cam.to_camera(pts)
    if (c[:, 2] < 0.5).any():
        return None
    uv = cam.cam_to_pixels(c)
    return float(uv[0, 0]), float(uv[0, 1]), float(uv[0, 1] - uv[1, 1]), float(c[0, 2])


def _shadow(frame: np.ndarray, alpha: np.ndarray, x0: int, y0: int, look: Look) -> None:
    """Darken the ground under a sprite with its own silhouette, leaned and flattened by the sun."""
    h, w = alpha.shape
    yb = y0 + h
    k, s = look.sun_flatten, look.sun_shear
    m = np.array([[1.0, -s, x0 + s * h], [0.0, k, yb - k * h]], np.float32)  # sprite (x, y) -> frame
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float32) @ m.T
    pad = 4
    bx0 = int(max(0, np.floor(corners[:, 0].min()) - pad))
    by0 = int(max(0, np.floor(corners[:, 1].min()) - pad))
    bx1 = int(min(frame.shape[1], np.ceil(corners[:, 0].max()) + pad))
    by1 = int(min(frame.shape[0], np.ceil(corners[:, 1].max()) + pad + 2))
    if bx1 <= bx0 or by1 <= by0:
        return
    m2 = m.copy()
    m2[0, 2] -= bx0
    m2[1, 2] -= by0
    sh = cv2.warpAffine(alpha, m2, (bx1 - bx0, by1 - by0), flags=cv2.INTER_LINEAR)
    sh = cv2.GaussianBlur(sh, (0, 0), 1.0 + 0.01 * h)
    roi = frame[by0:by1, bx0:bx1]
    roi[:] = (roi * (1 - look.shadow_strength * sh[:, :, None])).astype(np.uint8)


def composite(frame: np.ndarray, ids: np.ndarray | None, cam: Camera, placed: list[Placed], look: Look,
              start_index: int = 0) -> list[Drawn]:
    """Draw objects far to near onto ``frame`` (in place); ``ids`` records which object owns each pixel."""
    H, W = frame.shape[:2]
    order = []
    for p in placed:
        pr = project_placed(cam, p)
        if pr is not None and pr[2] >= 3:
            order.append((pr[3], p, pr))
    order.sort(key=lambda t: -t[0])
    drawn: list[Drawn] = []
    for n, (_, p, (u, v, hpx, _)) in enumerate(order):
        sprite = draw_spec(p.spec, round(hpx), p.phase)
        sh, sw = sprite.shape[:2]
        x0 = round(u - sw / 2)
        y0 = round(v - sh)
        alpha = sprite[:, :, 3].astype(np.float32) / 255
        if p.shadow and p.lift_m == 0 and look.shadow_strength > 0:
            _shadow(frame, alpha, x0, y0, look)
        fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(W, x0 + sw), min(H, y0 + sh)
        idx = start_index + n
        full = int((alpha > 0.5).sum())
        drawn.append(Drawn(p, full, (x0, y0, x0 + sw, y0 + sh), (u, v), idx))
        if fx1 <= fx0 or fy1 <= fy0:
            continue
        a = alpha[fy0 - y0: fy1 - y0, fx0 - x0: fx1 - x0, None]
        src = sprite[fy0 - y0: fy1 - y0, fx0 - x0: fx1 - x0, :3].astype(np.float32)
        roi = frame[fy0:fy1, fx0:fx1]
        roi[:] = (src * a + roi * (1 - a)).astype(np.uint8)
        if ids is not None:
            ids[fy0:fy1, fx0:fx1][a[:, :, 0] > 0.5] = idx
    return drawn


# ----------------------------------------------------------------------------------------------- light and sensor
def apply_look(img: np.ndarray, look: Look, emissive: np.ndarray | None, rng: Rng, rain_phase: int = 0,
               noise: np.ndarray | None = None) -> np.ndarray:
    """Light, weather and sensor: brightness/tint/contrast, lit windows, rain, haze, blur, noise.

    ``noise`` (H x W float32) replaces freshly drawn sensor noise (clips cycle a small precomputed bank).
    """
    out = img.astype(np.float32)
    if look.contrast != 1.0:
        mean = out.mean()
        out = (out - mean) * look.contrast + mean
    gain = np.array(look.tint, np.float32) * look.brightness
    lit = out * gain
    if emissive is not None and look.lit_windows:
        e = emissive[:, :, None]
        lit = lit * (1 - e) + np.minimum(out * 1.15 + 20, 255) * e
    out = lit
    if look.haze > 0:
        out = out * (1 - look.haze) + 200 * look.haze
    if look.rain > 0:
        out = _rain(out, look.rain, rng, rain_phase)
    if look.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), look.blur_sigma)
    if noise is not None:
        out = out + noise[:, :, None]
    elif look.noise_sigma > 0:
        out = out + rng.normal(0, look.noise_sigma, out.shape[:2])[:, :, None].astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _rain(img: np.ndarray, density: float, rng: Rng, phase: int) -> np.ndarray:
    H, W = img.shape[:2]
    layer = np.zeros((H, W), np.float32)
    n = int(density * W * H / 2500)
    r = np.random.default_rng(phase) if phase else rng
    xs = r.integers(0, W, n)
    ys = r.integers(0, H, n)
    ln = r.integers(8, 28, n)
    for x, y, L in zip(xs, ys, ln, strict=True):
        cv2.line(layer, (int(x), int(y)), (int(x + L * 0.15), int(y + L)), 1.0, 1, cv2.LINE_AA)
    layer = cv2.GaussianBlur(layer, (3, 3), 0)
    return img * (1 - 0.25 * layer[:, :, None]) + 210 * 0.25 * layer[:, :, None]


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def h264_roundtrip(img: np.ndarray, crf: int) -> np.ndarray:
    """Encode one picture as an H.264 keyframe and decode it back: the artefacts a camera stream adds."""
    import io

    import av

    h, w = img.shape[:2]
    he, we = h - h % 2, w - w % 2
    buf = io.BytesIO()
    try:
        with av.open(buf, mode="w", format="h264") as container:
            stream = container.add_stream("libx264", rate=1)
            stream.width, stream.height, stream.pix_fmt = we, he, "yuv420p"
            stream.options = {"crf": str(int(crf)), "preset": "veryfast", "tune": "zerolatency"}
            stream.codec_context.thread_count = 1  # one small picture: threads cost more than they save
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:he, :we]), format="bgr24")
            for packet in [*stream.encode(frame), *stream.encode()]:
                container.mux(packet)
        buf.seek(0)
        with av.open(buf, mode="r", format="h264") as container:
            out = next(container.decode(video=0)).to_ndarray(format="bgr24")
    except (av.FFmpegError, StopIteration, ValueError):  # no libx264 in this PyAV build: leave it
        return img
    result = img.copy()
    result[:he, :we] = out
    return result


def ground_uv(cam: Camera, x: float, z: float) -> tuple[float, float]:
    u, v = cam.project(np.array([[x, 0.0, z]]))[0]
    return float(u), float(v)


def visible_depth_range(cam: Camera, x: float) -> tuple[float, float]:
    """Nearest and farthest Z at street X whose ground point is inside the picture (approximate)."""
    zs = np.linspace(0.6, 200, 800)
    pts = np.stack([np.full_like(zs, x), np.zeros_like(zs), zs], 1)
    c = cam.to_camera(pts)
    ok = c[:, 2] > 0.5
    uv = cam.cam_to_pixels(c)
    inside = ok & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
    if not inside.any():
        return (math.inf, -math.inf)
    return float(zs[inside].min()), float(zs[inside].max())
