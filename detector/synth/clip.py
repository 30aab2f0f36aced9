"""Scripted clips: a `Scenario` -> camera, street, zones file, ground-truth episodes and an H.264 MP4.

The plan (`build_plan`) is pure geometry and bookkeeping; rendering (`render_clip`) draws each frame with
the same renderer as the training stills and encodes it with PyAV. Everything follows from the seed.

Ground truth follows the rules the edge applies: an object counts for the zone its bottom-centre stands
in; one (zone, category) with objects present at overlapping times (or with gaps shorter than the zone's
``clear_s``) is one episode, from the first placement to the last removal; it is an episode only if one of
its objects stays at least ``dwell_s``. Objects are never scripted near a zone edge or on a fixture: such a
position is nudged towards the middle of its segment, or the plan fails with a clear message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import yaml
from shapely.geometry import Point, Polygon, box

from detector.synth.camera import Camera
from detector.synth.classes import category_of
from detector.synth.objects import ObjectSpec, draw_spec, make_spec
from detector.synth.scenarios import Scenario
from detector.synth.scene import (
    Drawn,
    Look,
    Placed,
    Shop,
    Street,
    apply_look,
    composite,
    project_placed,
    random_look,
    render_background,
    visible_depth_range,
)
from detector.synth.stills import LabeledFrame, labels_from

Rng = np.random.Generator

STOREFRONT_FORBID = ["out_of_store_trading", "exposed_garbage", "disorderly_parking", "stacked_materials"]
SIDEWALK_FORBID = ["out_of_store_trading", "exposed_garbage", "disorderly_parking", "stacked_materials", "street_vending"]
EDGE_MARGIN_PX_720P = 14.0  # scripted bottom-centres stay this far (at 1280 px width) from any zone edge


class ScenarioError(ValueError):
    """A scenario that cannot be laid out on this street (one clear line)."""


@dataclass
class Segment:
    name: str  # shop1.. / sidewalk
    shop: Shop
    zone_id: str
    merchant: str | None
    polygon_norm: list[tuple[float, float]]
    polygon_px: Polygon
    dwell_s: float
    clear_s: float
    fixtures_norm: list[list[tuple[float, float]]] = field(default_factory=list)
    fixtures_px: list[Polygon] = field(default_factory=list)


@dataclass
class Timed:
    """An object visible from ``t0`` to ``t1`` (seconds), standing still or moving along Z."""

    placed: Placed
    t0: float
    t1: float | None
    speed_z: float = 0.0  # m/s along the street (walkers, riders)
    walker: bool = False

    def at(self, t: float) -> Placed | None:
        if t < self.t0 or (self.t1 is not None and t >= self.t1):
            return None
        if self.speed_z == 0.0:
            return self.placed
        dz = self.speed_z * (t - self.t0)
        p = self.placed
        phase = (abs(dz) / 0.75) * math.pi if self.walker else p.phase
        return Placed(p.spec, p.x, p.z + dz, p.label, phase=phase, lift_m=p.lift_m, shadow=p.shadow, key=p.key)


@dataclass
class ClipPlan:
    name: str
    scenario: Scenario
    seed: int
    fps: float
    duration_s: float
    size: tuple[int, int]
    camera: Camera
    street: Street
    look: Look
    segments: list[Segment]
    objects: list[Timed]
    episodes: list[dict[str, object]]

    @property
    def frame_count(self) -> int:
        return round(self.duration_s * self.fps)

    def zones_document(self) -> dict[str, object]:
        zones = []
        for s in self.segments:
            z: dict[str, object] = {"id": s.zone_id}
            if s.merchant:
                z["merchant"] = s.merchant
            z["kind"] = "storefront" if s.merchant else "sidewalk"
            z["polygon"] = [[x, y] for x, y in s.polygon_norm]
            z["forbid"] = list(STOREFRONT_FORBID if s.merchant else SIDEWALK_FORBID)
            z["dwell_s"] = s.dwell_s
            z["clear_s"] = s.clear_s
            if s.fixtures_norm:
                z["fixtures"] = [[[x, y] for x, y in f] for f in s.fixtures_norm]
            zones.append(z)
        return {"camera": self.name, "zones": zones}

    def truth_document(self) -> dict[str, object]:
        return {"video": f"{self.name}.mp4", "model": "ground-truth", "episodes": self.episodes,
                "fps": self.fps, "duration_s": self.duration_s, "seed": self.seed}

    def objects_at(self, t: float) -> list[Placed]:
        """Everything standing or moving in the picture at ``t`` seconds (labelled or not)."""
        out = []
        for o in self.objects:
            p = o.at(t)
            if p is not None:
                out.append(p)
        return out

    def oracle_boxes(self, t: float) -> tuple[np.ndarray, list[str]]:
        """Whole-sprite boxes (N, 4) float32 and class names of the labelled objects at ``t`` (no rendering).

        What a perfect detector would report ignoring occlusion; boxes may reach past the frame edge.
        """
        boxes, names = [], []
        for p in self.objects_at(t):
            if p.label is None:
                continue
            sb = sprite_box(self.camera, p.spec, p.x, p.z) if p.lift_m == 0 else None
            if p.lift_m != 0:  # a rider: drawn lifted onto the bike
                pr = project_placed(self.camera, p)
                if pr is not None:
                    w = draw_spec(p.spec, round(pr[2]), p.phase).shape[1]
                    sb = (pr[0] - w / 2, pr[1] - pr[2], pr[0] + w / 2, pr[1], pr[0], pr[1])
            if sb is not None:
                boxes.append(sb[:4])
                names.append(p.label)
        return np.array(boxes, np.float32).reshape(-1, 4), names


# ----------------------------------------------------------------------------------------------- layout
def _clip_camera(rng: Rng, size: tuple[int, int]) -> Camera:
    w, h = size
    return Camera(width=w, height=h, height_m=float(rng.uniform(5.0, 6.5)), pitch_deg=float(rng.uniform(24, 31)),
                  yaw_deg=float(rng.uniform(26, 33)), hfov_deg=float(rng.uniform(56, 64)))


def _project_quad(cam: Camera, quad: list[tuple[float, float, float]]) -> Polygon | None:
    poly = cam.project_polygon(np.array(quad, dtype=np.float64))
    if poly is None:
        return None
    p = Polygon(poly)
    return p if p.is_valid else p.buffer(0)


def _normalise(poly: Polygon, w: int, h: int) -> list[tuple[float, float]]:
    poly = poly.simplify(0.5)
    coords = list(poly.exterior.coords)[:-1]
    return [(round(min(max(x / w, 0.0), 1.0), 4), round(min(max(y / h, 0.0), 1.0), 4)) for x, y in coords]


def _pixels(points: list[tuple[float, float]], w: int, h: int) -> Polygon:
    return Polygon([(x * w, y * h) for x, y in points])


def sprite_box(cam: Camera, spec: ObjectSpec, x: float, z: float) -> tuple[float, float, float, float, float, float] | None:
    """Whole-sprite box (x0, y0, x1, y1) and ground point (u, v) in pixels of an object standing at (x, z).

    The box ignores occlusion and the frame edges (see `FrameRenderer.labelled_frame` for visible boxes).
    """
    placed = _sprite_at(cam, Placed(spec, x, z, None))
    if placed is None:
        return None
    sprite, x0, y0, (u, v, _, _) = placed
    sh, sw = sprite.shape[:2]
    return x0, y0, x0 + sw, y0 + sh, u, v


def _sprite_at(cam: Camera, p: Placed) -> tuple[np.ndarray, int, int, tuple[float, float, float, float]] | None:
    """The drawn BGRA sprite of a standing object, its top-left pixel and its projection (u, v, height, depth).

    The drawn sprite's own width counts (tight cropping can change the aspect), placed as `composite` draws it.
    """
    pr = project_placed(cam, p)
    if pr is None:
        return None
    sprite = draw_spec(p.spec, round(pr[2]))
    sh, sw = sprite.shape[:2]
    return sprite, round(pr[0] - sw / 2), round(pr[1] - sh), pr


_sprite_box = sprite_box  # the name other tests used before it was public

#: A scripted object may have at most this share of its sprite behind nearer standing things (lamp posts,
#: fixtures): a violation the camera cannot clearly see is no ground truth (the same 25 % as for fixtures).
MAX_HIDDEN_SHARE = 0.25


def hidden_share(cam: Camera, p: Placed, occluders: list[Placed]) -> float:
    """Share (0-1) of the sprite of ``p`` covered by the sprites of those ``occluders`` nearer the camera."""
    placed = _sprite_at(cam, p)
    if placed is None:
        return 1.0
    sprite, x0, y0, (_, _, _, depth) = placed
    alpha = sprite[:, :, 3] > 127
    sh, sw = alpha.shape
    covered = np.zeros_like(alpha)
    for o in occluders:
        front = _sprite_at(cam, o)
        if front is None or front[3][3] >= depth or front[3][2] < 3:  # behind it, or too small to be drawn
            continue
        other, ox0, oy0, _ = front
        oh, ow = other.shape[:2]
        ix0, iy0, ix1, iy1 = max(x0, ox0), max(y0, oy0), min(x0 + sw, ox0 + ow), min(y0 + sh, oy0 + oh)
        if ix1 > ix0 and iy1 > iy0:
            covered[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] |= other[iy0 - oy0:iy1 - oy0, ix0 - ox0:ix1 - ox0, 3] > 127
    return float((alpha & covered).sum() / max(1, int(alpha.sum())))


def build_plan(scenario: Scenario, seed: int | None = None, duration_s: float | None = None, fps: float = 10.0,
               size: tuple[int, int] = (1280, 720), name: str | None = None) -> ClipPlan:
    """Lay the scenario out on a street drawn from ``seed`` (default: the scenario's own seed)."""
    seed = scenario.seed if seed is None else int(seed)
    duration = float(scenario.duration_s if duration_s is None else duration_s)
    if duration <= 0 or fps <= 0:
        raise ScenarioError(f"duration and fps must be positive (got {duration}, {fps})")
    name = name or scenario.name
    W, H = size
    rng = np.random.default_rng([seed, 7])
    # the street: a camera that sees every scripted segment well enough, else draw another
    frame = box(0, 0, W, H)

    def strip(cam: Camera, kerb: float, fx: float, z0: float, z1: float) -> Polygon | None:
        quad = [(kerb + 0.3, 0.0, z0 + 0.12), (fx - 0.05, 0.0, z0 + 0.12), (fx - 0.05, 0.0, z1 - 0.12), (kerb + 0.3, 0.0, z1 - 0.12)]
        return _project_quad(cam, quad)

    for _attempt in range(200):
        cam = _clip_camera(rng, size)
        kerb = float(rng.uniform(2.0, 4.0))
        pave = float(rng.uniform(4.2, 6.0))
        fx = kerb + pave
        z_near = max(visible_depth_range(cam, kerb + 0.3)[0], visible_depth_range(cam, fx)[0])
        if not math.isfinite(z_near):
            continue
        lengths = rng.uniform(4.5, 6.0, scenario.shops + 1)
        z_far = z_near - 0.3 + float(lengths.sum())
        # far end of the last zone: a 1 m object there must still be ~30 px tall at 720p
        probe = make_spec("bin", rng)
        pr = project_placed(cam, Placed(probe, (kerb + fx) / 2, z_far, None))
        if pr is None or pr[2] / probe.height_m * (720 / H) < 30:
            continue
        # objects up to ~1.6 m tall at the far end of the last zone must fit under the top of the picture
        tops = cam.to_camera(np.array([[kerb + 0.3, 1.6, z_far], [fx, 1.6, z_far]]))
        if (tops[:, 2] < 0.5).any() or (cam.cam_to_pixels(tops)[:, 1] < 4).any():
            continue
        edges = np.cumsum(np.concatenate([[z_near - 0.3], lengths]))
        ok = True
        for i in range(len(lengths)):
            poly = strip(cam, kerb, fx, float(edges[i]), float(edges[i + 1]))
            inside = 0.0 if poly is None else poly.intersection(frame).area
            need = 0.6 if i == 0 else 0.92
            if poly is None or inside < need * poly.area or inside < 0.004 * W * H:
                ok = False
                break
        if ok:
            break
    else:
        raise ScenarioError(f"scenario {scenario.name!r}: no camera sees all {scenario.shops + 1} segments with seed {seed}")
    base = int(rng.integers(10, 900))
    shops: list[Shop] = []
    seg_names: list[str] = []
    z = z_near - 0.3
    shop_no = 0
    for i, length in enumerate(lengths):
        if i == scenario.sidewalk_after:
            shops.append(Shop(z, z + float(length), None, int(rng.integers(0, 2**31 - 1))))
            seg_names.append("sidewalk")
        else:
            shop_no += 1
            shops.append(Shop(z, z + float(length), f"m-{base + shop_no:04d}", int(rng.integers(0, 2**31 - 1))))
            seg_names.append(f"shop{shop_no}")
        z += float(length)
    scenery: list[Shop] = []  # unzoned shops further along and behind the camera, for the look of the street
    zz = shops[0].z0
    while zz > 0.5:
        ln = float(rng.uniform(4.5, 8.5))
        scenery.append(Shop(zz - ln, zz, f"m-{base + 50 + len(scenery):04d}", int(rng.integers(0, 2**31 - 1))))
        zz -= ln
    zz = z
    while zz < 160:
        ln = float(rng.uniform(4.5, 8.5))
        scenery.append(Shop(zz, zz + ln, f"m-{base + 100 + len(scenery):04d}", int(rng.integers(0, 2**31 - 1))))
        zz += ln
    grey = float(rng.uniform(130, 190))
    street = Street(kerb_x=kerb, facade_x=fx, opposite_x=kerb - 2 * 3.3 - 0.5, shops=tuple(shops + scenery),
                    seed=int(rng.integers(0, 2**31 - 1)), tile_m=float(rng.choice([0.4, 0.5, 0.6])),
                    pave_bgr=tuple(int(np.clip(grey + d, 0, 255)) for d in rng.normal(0, 10, 3)),  # type: ignore[arg-type]
                    road_bgr=(70, 70, 72))
    look = random_look(rng, scenario.look, clip=True)
    if look.rain > 0:
        look = replace(look, rain=0.25)  # light rain: streaks change every frame and cost bitrate
    margin = EDGE_MARGIN_PX_720P * W / 1280

    segments: list[Segment] = []
    for shop, seg_name in zip(shops, seg_names, strict=True):
        poly = strip(cam, kerb, fx, shop.z0, shop.z1)
        if poly is None or poly.intersection(frame).area < 0.002 * W * H:
            raise ScenarioError(f"scenario {scenario.name!r}: segment {seg_name} is not visible with seed {seed}")
        norm = _normalise(poly.intersection(frame), W, H)
        zid = f"z-{shop.merchant}" if shop.merchant else "z-sidewalk"
        segments.append(Segment(seg_name, shop, zid, shop.merchant, norm, _pixels(norm, W, H),
                                dwell_s=float(rng.choice([20, 25, 30])), clear_s=float(rng.choice([10, 12, 15]))))
    by_name = {s.name: s for s in segments}

    def seg_of(name_: str) -> Segment:
        if name_ not in by_name:
            raise ScenarioError(f"scenario {scenario.name!r}: unknown segment {name_!r} (have {', '.join(by_name)})")
        return by_name[name_]

    def world(seg: Segment, along: float, across: float) -> tuple[float, float]:
        m = 0.45
        z0, z1 = seg.shop.z0 + m, seg.shop.z1 - m
        x0, x1 = kerb + 0.3 + m, fx - m
        return x0 + across * (x1 - x0), z0 + along * (z1 - z0)

    objects: list[Timed] = []
    # fixtures first: later placements keep clear of them
    for fi, fix in enumerate(scenario.fixtures):
        seg = seg_of(fix.segment)
        spec = make_spec(fix.cls, rng)
        x, zf = world(seg, fix.along, fix.across)
        sb = sprite_box(cam, spec, x, zf)
        if sb is None:
            raise ScenarioError(f"scenario {scenario.name!r}: fixture {fi} is behind the camera")
        x0, y0, x1, y1, _, _ = sb
        pad = 4 * W / 1280
        fpoly = box(x0 - pad, y0 - pad, x1 + pad, y1 + pad).intersection(frame)
        fnorm = _normalise(fpoly, W, H)
        seg.fixtures_norm.append(fnorm)
        seg.fixtures_px.append(_pixels(fnorm, W, H))
        objects.append(Timed(Placed(spec, x, zf, fix.cls, key=f"fixture-{fi}"), 0.0, None))

    all_fixtures = [f for s in segments for f in s.fixtures_px]
    # lamp posts (their own random stream: adding furniture moves nothing else), laid out before the scripted
    # objects so that none of those stands hidden behind one
    furniture_rng = np.random.default_rng([seed, 17])
    posts = [Placed(make_spec("lamp_post", furniture_rng), kerb + 0.15, shop.z0, None, key=f"lamp-{bi}")
             for bi, shop in enumerate(shops[1:], start=1) if bi % 2 == 1]  # every other shop boundary, on the kerb
    standing = posts + [o.placed for o in objects]  # posts and fixtures

    def position_problem(spec: ObjectSpec, seg: Segment, x: float, zq: float) -> str | None:
        sb = sprite_box(cam, spec, x, zq)
        if sb is None:
            return "behind the camera"
        x0, y0, x1, y1, u, v = sb
        if x0 < 1 or y0 < 1 or x1 > W - 1 or y1 > H - 1:
            return "not wholly in the picture"
        pt = Point(u, v)
        if not seg.polygon_px.contains(pt) or seg.polygon_px.exterior.distance(pt) < margin:
            return "too close to the zone edge"
        b = box(x0, y0, x1, y1)
        for f in all_fixtures:
            if f.distance(pt) < margin or f.intersection(b).area > 0.25 * b.area:
                return "on or over a fixture"
        if hidden_share(cam, Placed(spec, x, zq, None), standing) > MAX_HIDDEN_SHARE:
            return "hidden behind a lamp post or fixture"
        return None

    intervals: dict[tuple[str, str], list[tuple[float, float | None, bool]]] = {}
    for pi, pl in enumerate(scenario.placements):
        if pl.at_s >= duration:
            continue
        seg = seg_of(pl.segment)
        until = None if pl.until_s is None or pl.until_s >= duration else float(pl.until_s)
        if until is not None and until <= pl.at_s:
            raise ScenarioError(f"scenario {scenario.name!r}: placement {pi} is removed before it is placed")
        cx, cz = world(seg, pl.along, pl.across)
        for k in range(pl.count):
            spec = make_spec(pl.cls, rng)
            offset = (k - (pl.count - 1) / 2) * pl.spread_m
            problem: str | None = None
            # the scripted spot first, then the nearest spots of a grid over the segment
            want_x, want_z = cx, cz + offset
            grid = [world(seg, a, b) for a in np.linspace(0.0, 1.0, 11) for b in np.linspace(0.0, 1.0, 9)]
            grid.sort(key=lambda p: (p[0] - want_x) ** 2 + (p[1] - want_z) ** 2)
            for x, zq in [(want_x, want_z), *grid]:
                problem = position_problem(spec, seg, x, zq)
                if problem is None:
                    break
            if problem is not None:
                raise ScenarioError(f"scenario {scenario.name!r}: placement {pi} ({pl.cls} in {pl.segment}) has no "
                                    f"unambiguous position with seed {seed}: {problem}")
            objects.append(Timed(Placed(spec, x, zq, pl.cls, key=f"placement-{pi}-{k}"), float(pl.at_s), until))
        category = category_of(pl.cls, seg.merchant is not None)
        forbidden = STOREFRONT_FORBID if seg.merchant else SIDEWALK_FORBID
        if category in forbidden:
            stays = (until if until is not None else duration) - pl.at_s >= seg.dwell_s
            intervals.setdefault((seg.name, category), []).append((float(pl.at_s), until, stays))
        if pl.attendant_s > 0:
            att = make_spec("person", rng, stride=0.05)
            objects.append(Timed(Placed(att, min(cx + 0.5, fx - 0.3), cz - 0.7, "person", phase=0.0, key=f"attendant-{pi}"),
                                 float(pl.at_s), min(duration, pl.at_s + pl.attendant_s)))

    episodes: list[dict[str, object]] = []
    for (seg_name, category), items in intervals.items():
        seg = by_name[seg_name]
        items.sort(key=lambda t: t[0])
        runs: list[list[object]] = []
        for start, end, stays in items:
            end_v = math.inf if end is None else end
            if runs and start <= float(runs[-1][1]) + seg.clear_s:  # type: ignore[arg-type]
                runs[-1][1] = max(float(runs[-1][1]), end_v)  # type: ignore[arg-type]
                runs[-1][2] = bool(runs[-1][2]) or stays
            else:
                runs.append([start, end_v, stays])
        for start, end_v, stays in runs:
            if not stays:
                continue
            episodes.append({"camera": name, "zone": seg.zone_id, "merchant": seg.merchant, "category": category,
                             "start_s": round(float(start), 3),  # type: ignore[arg-type]
                             "end_s": None if end_v == math.inf else round(float(end_v), 3),  # type: ignore[arg-type]
                             "evidence": None})
    episodes.sort(key=lambda e: (float(e["start_s"]), str(e["zone"])))  # type: ignore[arg-type]

    # people and riders: never violations, but they are what a detector must not confuse
    z_lo, z_hi = z_near - 3.0, 75.0
    umbrella = 1.0 if look.rain > 0 else 0.0
    for li, lg in enumerate(scenario.lingers):
        seg = seg_of(lg.segment)
        x, zl = world(seg, lg.along, lg.across)
        objects.append(Timed(Placed(make_spec("person", rng, stride=0.05, umbrella=umbrella), x, zl, "person", phase=0.0,
                                    key=f"linger-{li}"), lg.at_s, min(lg.until_s, duration)))
    objects.extend(Timed(post, 0.0, None) for post in posts)
    crowd_rng = np.random.default_rng([seed, 11])
    for li in range(scenario.crowd.lingerers):
        seg = segments[int(crowd_rng.integers(len(segments)))]
        x, zl = world(seg, float(crowd_rng.uniform(0.1, 0.9)), float(crowd_rng.uniform(0.2, 0.9)))
        t0 = float(crowd_rng.uniform(0, max(1.0, duration - 20)))
        objects.append(Timed(Placed(make_spec("person", crowd_rng, stride=0.05, umbrella=umbrella), x, zl, "person",
                                    phase=0.0, key=f"crowd-linger-{li}"), t0, min(duration, t0 + float(crowd_rng.uniform(15, 60)))))
    rate = scenario.crowd.walkers_per_min / 60.0
    t = -45.0
    wi = 0
    while rate > 0:
        t += float(crowd_rng.exponential(1 / rate))
        if t >= duration:
            break
        speed = float(crowd_rng.uniform(1.0, 1.6))
        away = bool(crowd_rng.random() < 0.5)
        x = float(crowd_rng.uniform(kerb + 0.5, fx - 0.5))
        spec = make_spec("person", crowd_rng, umbrella=umbrella)
        z_start = z_lo if away else z_hi
        life = (z_hi - z_lo) / speed
        objects.append(Timed(Placed(spec, x, z_start, "person", phase=0.0, key=f"walker-{wi}"), t, min(duration, t + life),
                             speed_z=speed if away else -speed, walker=True))
        wi += 1
    for ri, rd in enumerate(scenario.rides):
        if rd.at_s >= duration:
            continue
        x = kerb - 1.1 if rd.lane == "road" else (kerb + fx) / 2
        bike = make_spec(rd.cls, rng)
        rider = make_spec("person", rng, stride=0.15)
        z_start = z_hi if rd.toward_camera else z_lo
        v = -rd.speed_mps if rd.toward_camera else rd.speed_mps
        t1 = min(duration, rd.at_s + (z_hi - z_lo) / rd.speed_mps)
        objects.append(Timed(Placed(bike, x, z_start, rd.cls, key=f"ride-{ri}"), rd.at_s, t1, speed_z=v))
        objects.append(Timed(Placed(rider, x, z_start - 0.05, "person", phase=1.0, lift_m=bike.height_m * 0.3, shadow=False,
                                    key=f"rider-{ri}"), rd.at_s, t1, speed_z=v))
    return ClipPlan(name=name, scenario=scenario, seed=seed, fps=fps, duration_s=duration, size=(W, H), camera=cam,
                    street=street, look=look, segments=segments, objects=objects, episodes=episodes)


# ----------------------------------------------------------------------------------------------- rendering
class FrameRenderer:
    """Draws the frames of a plan (background drawn once; objects and light per frame)."""

    def __init__(self, plan: ClipPlan):
        self.plan = plan
        rng = np.random.default_rng([plan.seed, 13])
        self.bg = render_background(plan.camera, plan.street, plan.look, rng)
        h, w = self.bg.image.shape[:2]
        sigma = plan.look.noise_sigma
        # a small bank of noise fields, cycled: mild temporal noise that H.264 can still compress
        self.noise = [rng.normal(0, sigma, (h, w)).astype(np.float32) for _ in range(6)] if sigma > 0 else None
        self.rng = rng

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (BGR uint8), exactly as written to the clip."""
        return self._render(index, None)[0]

    def labelled_frame(self, index: int) -> LabeledFrame:
        """Frame ``index`` with the visible boxes of its labelled objects (as `random_labeled_frames` gives)."""
        W, H = self.plan.size
        ids = np.full((H, W), -1, np.int32)
        img, drawn = self._render(index, ids)
        xyxy, names, hidden = labels_from(ids, drawn)
        return LabeledFrame(image=img, xyxy=xyxy, class_names=names,
                            meta={"clip": self.plan.name, "index": index, "t": index / self.plan.fps, "hidden_dropped": hidden})

    def _render(self, index: int, ids: np.ndarray | None) -> tuple[np.ndarray, list[Drawn]]:
        t = index / self.plan.fps
        img = self.bg.image.copy()
        drawn = composite(img, ids, self.plan.camera, self.plan.objects_at(t), self.plan.look)
        noise = self.noise[index % len(self.noise)] if self.noise else None
        # a fixed generator per frame: any frame renders the same alone or in sequence
        rng = np.random.default_rng([self.plan.seed, 19, index])
        return apply_look(img, self.plan.look, self.bg.emissive, rng, rain_phase=1 + index % 10, noise=noise), drawn


def h264_encoder() -> str:
    """The H.264 encoder PyAV offers here: libx264 when present, else another H.264 encoder."""
    import av

    available = av.codecs_available
    for codec in ("libx264", "libopenh264", "h264_v4l2m2m", "h264_nvenc", "h264_qsv", "h264_vaapi"):
        if codec in available:
            return codec
    raise RuntimeError("this PyAV build has no H.264 encoder (libx264 or libopenh264 expected)")


def encode(frames: Callable[[int], np.ndarray], count: int, path: Path, fps: float, size: tuple[int, int],
           crf: int = 28, gop_s: float = 2.0, on_frame: Callable[[int], None] | None = None) -> str:
    """Write ``count`` BGR frames to an H.264 MP4 (constant frame rate, a keyframe every ``gop_s``)."""
    import av

    codec = h264_encoder()
    W, H = size
    rate = Fraction(fps).limit_denominator(1000)
    gop = max(1, round(fps * gop_s))
    tmp = path.with_name(f".{path.name}.partial")  # hidden until complete: readers never see half a clip
    with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "medium", "keyint_min": str(gop), "sc_threshold": "0",
                              "tune": "film"}
        else:
            stream.bit_rate = 1_500_000
        for i in range(count):
            vf = av.VideoFrame.from_ndarray(frames(i), format="bgr24")
            vf.pts = i
            for packet in stream.encode(vf):
                container.mux(packet)
            if on_frame:
                on_frame(i)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return codec


def write_clip(plan: ClipPlan, out_dir: Path, crf: int = 28, on_frame: Callable[[int], None] | None = None) -> dict[str, object]:
    """Write NAME.mp4, NAME.zones.yaml and NAME.truth.json into ``out_dir``; returns a summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = FrameRenderer(plan)
    video = out_dir / f"{plan.name}.mp4"
    codec = encode(renderer.frame, plan.frame_count, video, plan.fps, plan.size, crf=crf, on_frame=on_frame)
    zones = out_dir / f"{plan.name}.zones.yaml"
    header = (f"# Zones of the synthetic camera {plan.name!r}: generated by `frontage synth --scenario {plan.scenario.name} "
              f"--seed {plan.seed}`.\n")
    zones.write_text(header + yaml.safe_dump(plan.zones_document(), sort_keys=False, default_flow_style=None), encoding="utf-8")
    truth = out_dir / f"{plan.name}.truth.json"
    truth.write_text(json.dumps(plan.truth_document(), indent=2) + "\n", encoding="utf-8")
    return {"video": str(video), "zones": str(zones), "truth": str(truth), "codec": codec, "frames": plan.frame_count,
            "bytes": video.stat().st_size, "episodes": len(plan.episodes)}


def preview(plan: ClipPlan, t: float) -> np.ndarray:
    """One frame at time ``t`` with zones and fixtures drawn (for eyeballing a layout)."""
    img = FrameRenderer(plan).frame(int(t * plan.fps))
    W, H = plan.size
    for s in plan.segments:
        pts = np.array([[x * W, y * H] for x, y in s.polygon_norm], np.int32)
        cv2.polylines(img, [pts], True, (0, 255, 255) if s.merchant else (255, 0, 255), 2)
        cv2.putText(img, s.zone_id, tuple(pts[0] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1)
        for f in s.fixtures_norm:
            cv2.polylines(img, [np.array([[x * W, y * H] for x, y in f], np.int32)], True, (255, 255, 0), 1)
    return img
