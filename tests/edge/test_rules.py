"""Episode rules on scripted detection sequences (media time only, no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from detector.classmap import ClassMap
from detector.detections import Detections
from detector.events import EventType
from detector.rules import RuleEngine
from detector.zones.schema import parse_zones

NAMES = ("person", "chair", "trash_bag", "bicycle", "stall_cart", "bench")
CMAP = ClassMap.from_dict({"classes": {
    "person": "ignore", "chair": "out_of_store_trading", "trash_bag": "exposed_garbage",
    "bicycle": "disorderly_parking", "stall_cart": "street_vending", "bench": "ignore"}})
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
WH = (1000, 1000)


def zones(**over: object) -> RuleEngine:
    z = {
        "camera": "cam-01",
        "defaults": {"dwell_s": 10, "clear_s": 6, "grace_s": 3},
        "zones": [
            {"id": "z-a", "merchant": "m-1", "kind": "storefront",
             "polygon": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]],
             "forbid": ["out_of_store_trading", "exposed_garbage"],
             "fixtures": [[[0.4, 0.9], [0.5, 0.9], [0.5, 1.0], [0.4, 1.0]]]},
            {"id": "z-b", "kind": "sidewalk", "polygon": [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]],
             "forbid": ["disorderly_parking", "street_vending", "exposed_garbage"], "dwell_s": 5},
        ],
    }
    z.update(over)
    return RuleEngine(parse_zones(z), **{"update_every_s": None})


def dets(*items: tuple[str, tuple[float, float, float, float]]) -> Detections:
    n = len(items)
    d = Detections(xyxy=np.array([b for _, b in items], np.float32).reshape(-1, 4),
                   confidence=np.full(n, 0.8, np.float32),
                   class_id=np.array([NAMES.index(c) for c, _ in items], np.int64), class_names=NAMES)
    return CMAP.apply(d)


CHAIR = ("chair", (100, 700, 200, 800))  # in z-a
BAG = ("trash_bag", (250, 850, 300, 900))  # in z-a
BIKE = ("bicycle", (600, 700, 700, 800))  # in z-b


def run(engine: RuleEngine, script: dict[int, Detections], until: int, step: int = 1) -> list:
    """Feed frames at t = 0, step, ... until; frames not in the script see nothing."""
    events = []
    for t in range(0, until + 1, step):
        d = script.get(t, dets())
        events += engine.update(d, float(t), T0 + timedelta(seconds=t), WH)
    return events


def test_dwell_then_clear_one_set_of_events() -> None:
    engine = zones()
    script = {t: dets(CHAIR) for t in range(3, 40)}
    events = run(engine, script, 60)
    assert [(e.type, e.zone, e.category) for e in events] == [
        (EventType.STARTED, "z-a", "out_of_store_trading"),
        (EventType.CLEARED, "z-a", "out_of_store_trading"),
    ]
    started, cleared = events
    assert started.observed_t == 13 and started.started_t == 3
    assert started.started_at == T0 + timedelta(seconds=3)
    assert cleared.ended_t == 39 and cleared.ended_at == T0 + timedelta(seconds=39)
    assert cleared.observed_t == 45 and cleared.seq == 1
    assert started.merchant == "m-1"


def test_short_presence_never_starts() -> None:
    assert run(zones(), {t: dets(CHAIR) for t in range(0, 9)}, 30) == []


def test_grace_tolerates_missed_detections_while_pending() -> None:
    seen = [t for t in range(0, 12) if t not in (4, 5, 6)]  # 3 s gap = grace_s
    events = run(zones(), {t: dets(CHAIR) for t in seen}, 14)
    assert [e.type for e in events] == [EventType.STARTED] and events[0].started_t == 0
    # a gap longer than grace restarts the dwell from the reappearance
    seen = [t for t in range(0, 20) if t not in (4, 5, 6, 7, 8)]
    events = run(zones(), {t: dets(CHAIR) for t in seen}, 20)
    assert [(e.type, e.started_t) for e in events] == [(EventType.STARTED, 9)]


def test_absence_shorter_than_clear_keeps_one_episode() -> None:
    seen = [t for t in range(0, 60) if not 20 <= t < 25]  # 5 s gap < clear_s 6
    events = run(zones(), {t: dets(CHAIR) for t in seen}, 80)
    assert [e.type for e in events] == [EventType.STARTED, EventType.CLEARED]


def test_long_episode_only_updates_at_the_configured_interval() -> None:
    engine = RuleEngine(zones().zones_file, update_every_s=600)
    events = run(engine, {t: dets(CHAIR) for t in range(0, 3000, 5)}, 3100, step=5)
    types = [e.type for e in events]
    assert types[0] == EventType.STARTED and types[-1] == EventType.CLEARED
    assert types.count(EventType.UPDATED) == 4  # t = 610, 1210, 1810, 2410 (+600 s each)
    assert [e.seq for e in events] == list(range(len(events)))
    assert len({e.started_at for e in events}) == 1


def test_fixture_is_never_a_violation() -> None:
    bench_like = ("chair", (410, 905, 490, 995))  # a chair standing on the fixture polygon
    assert run(zones(), {t: dets(bench_like) for t in range(0, 40)}, 40) == []


def test_transient_objects_never_start_an_episode() -> None:
    # a bicycle ridden across z-b: present in every frame for 30 s but 40 px further each second
    ride = {t: dets(("bicycle", (520 + 15 * t, 700, 600 + 15 * t, 780))) for t in range(0, 30)}
    assert run(zones(), ride, 40) == []
    # goods carried slowly through z-a (10 px/s): overlaps its last box but drifts away from its first
    carry = {t: dets(("chair", (10 + 10 * t, 700, 90 + 10 * t, 800))) for t in range(0, 30)}
    assert run(zones(), carry, 40) == []


def test_stationary_object_counts_while_other_traffic_passes() -> None:
    script = {t: dets(BIKE, ("bicycle", (520 + 30 * t, 600, 580 + 30 * t, 650))) for t in range(0, 15)}
    events = run(zones(), script, 15)
    assert [(e.type, e.started_t, e.observed_t) for e in events] == [(EventType.STARTED, 0, 5)]


def test_two_categories_in_one_zone() -> None:
    script = {t: dets(CHAIR, BAG) if t >= 5 else dets(CHAIR) for t in range(0, 30)}
    events = run(zones(), script, 50)
    got = sorted((e.type.value, e.category, e.started_t) for e in events)
    assert got == [
        ("violation_cleared", "exposed_garbage", 5), ("violation_cleared", "out_of_store_trading", 0),
        ("violation_started", "exposed_garbage", 5), ("violation_started", "out_of_store_trading", 0),
    ]


def test_two_zones_and_stall_cart_mapping() -> None:
    cart_a = ("stall_cart", (300, 600, 400, 700))  # z-a has a merchant: out_of_store_trading
    cart_b = ("stall_cart", (800, 600, 900, 700))  # z-b has none: street_vending
    script = {t: dets(cart_a, cart_b, BIKE) for t in range(0, 20)}
    events = run(zones(), script, 20)
    got = sorted((e.zone, e.category, e.observed_t) for e in events)
    assert got == [("z-a", "out_of_store_trading", 10), ("z-b", "disorderly_parking", 5),
                   ("z-b", "street_vending", 5)]


def test_category_not_forbidden_in_zone_is_ignored() -> None:
    assert run(zones(), {t: dets(("bicycle", (100, 700, 200, 800))) for t in range(30)}, 30) == []


def test_new_episode_after_clear_has_new_start() -> None:
    seen = list(range(0, 20)) + list(range(40, 60))
    events = run(zones(), {t: dets(CHAIR) for t in seen}, 80)
    starts = [e.started_t for e in events if e.type == EventType.STARTED]
    assert starts == [0, 40] and len(events) == 4


def raw(*items: tuple[str, tuple[float, float, float, float]]) -> Detections:
    n = len(items)
    return Detections(xyxy=np.array([b for _, b in items], np.float32).reshape(-1, 4),
                      confidence=np.full(n, 0.8, np.float32),
                      class_id=np.array([NAMES.index(c) for c, _ in items], np.int64), class_names=NAMES)


def test_a_bike_with_its_rider_is_traffic_not_parking() -> None:
    """A cyclist waiting in the zone for longer than dwell is never a parked bike; the same bike left there is."""
    from detector.rules import drop_ridden

    rider = ("person", (610, 560, 690, 740))  # centred over BIKE, head above it, feet on it
    bystander = ("person", (720, 600, 780, 800))  # standing beside the parked bike
    engine = zones()
    ridden = {t: CMAP.apply(drop_ridden(raw(BIKE, rider), {"bicycle"})) for t in range(0, 20)}
    assert run(engine, ridden, 30) == []
    parked = {t: CMAP.apply(drop_ridden(raw(BIKE, bystander), {"bicycle"})) for t in range(0, 20)}
    events = run(zones(), parked, 30)
    assert [e.type for e in events] == [EventType.STARTED, EventType.CLEARED]


# --- a thing that stays (issue 15 item 3): pixels, class vote, score floors, ignore-class suppression ---------
# The images are synthetic (a fixed noise texture, a textured object drawn at its box): the rules only look at
# grey crops at the reference boxes, so a drawn frame exercises exactly the code a camera frame does.

BACKGROUND = np.random.default_rng(7).integers(60, 120, size=(1000, 1000), dtype=np.uint8)
OBJECT = np.random.default_rng(8).integers(150, 255, size=(200, 200), dtype=np.uint8)
NOISE = [np.random.default_rng(k).integers(-4, 5, size=(1000, 1000)).astype(np.int16) for k in range(5)]


def scene(*boxes: tuple[float, float, float, float], noise: int = 0) -> np.ndarray:
    """The background with a textured object drawn at each box (later boxes in front, each its own texture)."""
    img = BACKGROUND.copy()
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        texture = OBJECT if k == 0 else 255 - np.roll(OBJECT, 37 * k, axis=0)
        img[int(y0):int(y1), int(x0):int(x1)] = texture[: int(y1) - int(y0), : int(x1) - int(x0)]
    if noise:  # sensor noise and compression shimmer
        img = np.clip(img + NOISE[int(noise) % len(NOISE)], 0, 255).astype(np.uint8)
    return img  # grey: the rules take BGR or grey frames alike (they only look at grey crops)


def seen(*items: tuple[str, tuple[float, float, float, float], float], track: int | None = None) -> Detections:
    """Detections with scores, ignore classes kept (as the analyzer passes them), optional tracker id."""
    d = Detections(xyxy=np.array([b for _, b, _ in items], np.float32).reshape(-1, 4),
                   confidence=np.array([s for _, _, s in items], np.float32),
                   class_id=np.array([NAMES.index(c) for c, _, _ in items], np.int64), class_names=NAMES)
    if track is not None:
        d = d.with_tracker_ids(np.full(len(d), track))
    return CMAP.apply(d, keep_ignored=True)


def feed(engine: RuleEngine, frames: dict[int, tuple[Detections, np.ndarray]], until: int) -> list:
    events = []
    for t in range(until + 1):
        d, img = frames.get(t, (seen(), scene()))
        events += engine.update(d, float(t), T0 + timedelta(seconds=t), WH, image=img)
    return events


def legacy_engine() -> RuleEngine:
    from detector.rules import RulePolicy

    return RuleEngine(zones().zones_file, policy=RulePolicy.legacy())


def swaying_bag(t: int) -> tuple[float, float, float, float]:
    """BAG pushed to and fro within its own width (50 px box, +-25 px, period 7.3 s)."""
    dx = round(25 * np.sin(2 * np.pi * t / 7.3))
    x0, y0, x1, y1 = BAG[1]
    return (x0 + dx, y0, x1 + dx, y1)


def test_object_moved_to_and_fro_within_its_width_for_five_minutes_opens_no_episode() -> None:
    frames = {t: (seen(("trash_bag", swaying_bag(t), 0.8), track=3), scene(swaying_bag(t), noise=t + 1))
              for t in range(300)}
    assert feed(zones(), frames, 320) == []
    # the 3.1 rules (box overlap only) took it for a bag left there: every position overlaps the first box
    assert [e.type for e in feed(legacy_engine(), frames, 320)] == [EventType.STARTED, EventType.CLEARED]


def test_object_whose_class_flips_to_an_ignore_class_opens_no_episode() -> None:
    # the same still thing read as a bag one frame in three and as a person (ignore) in the others
    frames = {t: (seen(("trash_bag" if t % 3 == 0 else "person", BAG[1], 0.7)), scene(BAG[1], noise=t + 1))
              for t in range(300)}
    assert feed(zones(), frames, 320) == []
    assert [e.type for e in feed(legacy_engine(), frames, 320)][:1] == [EventType.STARTED]


def test_still_object_scored_steadily_opens_one_episode_despite_passers_by() -> None:
    walker = ("person", (240, 780, 310, 905), 0.9)  # someone stops right in front of it: bag hidden, person seen
    frames = {}
    for t in range(120):
        if t % 9 in (4, 5):  # a passer-by every 9 s for 2 s
            frames[t] = (seen(walker), scene(BAG[1], walker[1], noise=t + 1))
        else:
            frames[t] = (seen(("trash_bag", BAG[1], 0.6)), scene(BAG[1], noise=t + 1))
    events = feed(zones(), frames, 160)
    assert [(e.type, e.category) for e in events] == [(EventType.STARTED, "exposed_garbage"),
                                                      (EventType.CLEARED, "exposed_garbage")]
    started = events[0]
    assert started.started_t == 0 and started.observed_t == 10
    assert started.detections.names[0] == "trash_bag" and started.frame_wh == WH


def test_ignore_class_box_suppresses_a_lower_scoring_violation_box() -> None:
    # a person (0.9) also read, lower, as a bag at nearly the same box: the person wins, no garbage episode
    person_box = (245, 840, 300, 900)
    frames = {t: (seen(("person", person_box, 0.9), ("trash_bag", BAG[1], 0.5)), scene(BAG[1], noise=t + 1))
              for t in range(60)}
    assert feed(zones(), frames, 60) == []
    # a bag that outscores the overlapping person box stays a bag
    frames = {t: (seen(("person", person_box, 0.4), ("trash_bag", BAG[1], 0.8)), scene(BAG[1], noise=t + 1))
              for t in range(60)}
    assert [e.type for e in feed(zones(), frames, 60)] == [EventType.STARTED]


def test_class_score_floor_of_the_classes_file() -> None:
    floored = ClassMap.from_dict({"classes": {**CMAP.classes}, "min_score": {"trash_bag": 0.5}})

    def bag(score: float) -> Detections:
        return floored.apply(Detections(xyxy=np.array([BAG[1]], np.float32), confidence=np.array([score], np.float32),
                                        class_id=np.array([NAMES.index("trash_bag")]), class_names=NAMES),
                             keep_ignored=True)

    weak = {t: (bag(0.45), scene(BAG[1], noise=t + 1)) for t in range(60)}
    assert feed(zones(), weak, 60) == []
    strong = {t: (bag(0.55), scene(BAG[1], noise=t + 1)) for t in range(60)}
    assert [e.type for e in feed(zones(), strong, 60)] == [EventType.STARTED]


def test_lighting_change_is_not_movement() -> None:
    # a cloud: the whole frame 40 grey levels darker half-way through the dwell; the mean-removed crop is the same
    frames = {t: (seen(("trash_bag", BAG[1], 0.7)),
                  np.dstack([np.clip(scene(BAG[1], noise=t + 1).astype(np.int16) - (40 if t >= 5 else 0), 0, 255)
                             .astype(np.uint8)] * 3))  # BGR, as a camera gives it
              for t in range(30)}
    assert [e.type for e in feed(zones(), frames, 30)] == [EventType.STARTED]


def test_a_tracked_object_that_moves_on_does_not_keep_its_reference() -> None:
    # a bicycle ridden slowly through z-b with one track id: the id never stretches the first box's dwell
    ride = {t: (seen(("bicycle", (520 + 12 * t, 700, 600 + 12 * t, 780), 0.8), track=5),
                scene((520 + 12 * t, 700, 600 + 12 * t, 780), noise=t + 1)) for t in range(0, 30)}
    assert feed(legacy_engine(), ride, 40) == []
    # a half-hidden bag (every 4th box a fifth of its area) is still the same tracked bag: one episode from t = 0
    hidden = {t: (seen(("trash_bag", BAG[1] if t % 4 else (250, 885, 280, 900), 0.7), track=9),
                  scene(BAG[1], noise=t + 1)) for t in range(30)}
    events = feed(zones(), hidden, 30)
    assert [(e.type, e.started_t) for e in events] == [(EventType.STARTED, 0)]


def test_busy_pavement_in_front_of_a_still_bag_does_not_hide_it_from_the_rules() -> None:
    # people stand in front of the bag 3 frames in 5 (the bag unseen then, the person seen): those frames give no
    # pixel verdict, so the bag still opens its episode; the first frame is not hidden, so it starts at t = 0
    crowd = ("person", (240, 780, 310, 905), 0.9)
    frames = {t: ((seen(crowd), scene(BAG[1], crowd[1], noise=t + 1)) if t % 5 in (1, 2, 3)
                  else (seen(("trash_bag", BAG[1], 0.6)), scene(BAG[1], noise=t + 1))) for t in range(60)}
    events = feed(zones(), frames, 60)
    assert [(e.type, e.started_t) for e in events][:1] == [(EventType.STARTED, 0)]
