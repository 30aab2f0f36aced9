"""Issue 15: every street thing is in the class map and reaches the rules as ``ignore``.

Street things (cars, vans, buses, pushchairs, posters, kiosks...) are never a violation by themselves. The
tests feed scripted detections of each through the shipped model's class names (its ONNX) and its class map
(``models/frontage-n.classes.yaml``, bound as the edge binds it): a street thing standing still in a zone for
five minutes opens no episode, and a weaker violation box on the same thing (the van read as a bag too) is
suppressed; the control, the same bag box alone, opens one.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from detector.categories import IGNORE
from detector.classmap import ClassMap, classes_file_for
from detector.detections import Detections
from detector.events import EventType
from detector.rules import RuleEngine
from detector.synth.objects import STREET_THINGS
from detector.zones.schema import parse_zones

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "frontage-n.onnx"
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
WH = (1000, 1000)
THING = (300, 600, 700, 950)  # a large thing standing in the zone (a parked van, a kiosk)
MISREAD = (310, 620, 690, 940)  # the same thing read as a trash bag too, weaker (IoU ~0.87 with THING)
BAG = (420, 800, 520, 900)  # the control: a bag on its own


@functools.cache
def shipped_class_names() -> tuple[str, ...]:
    from detector.inference import ModelConfig, load_backend

    return tuple(load_backend(ModelConfig(path=str(MODEL), backend="onnxruntime")).class_names)


@pytest.fixture(scope="module")
def shipped() -> tuple[ClassMap, tuple[str, ...]]:
    """The class map and class names the rules get from the shipped model."""
    names = shipped_class_names()
    cmap = ClassMap.load(classes_file_for(MODEL))
    cmap.bind(names)  # what the edge does at start: every model class mapped, or it refuses to run
    return cmap, names


def test_shipped_model_knows_every_street_thing() -> None:
    names = shipped_class_names()
    assert [c for c in STREET_THINGS if c not in names] == []
    cmap = ClassMap.load(classes_file_for(MODEL))
    assert {c: cmap.category_of(c) for c in STREET_THINGS} == dict.fromkeys(STREET_THINGS, IGNORE)


def test_every_street_thing_is_ignore_in_the_class_map(shipped: tuple[ClassMap, tuple[str, ...]]) -> None:
    cmap, names = shipped
    assert set(STREET_THINGS) <= set(names)
    assert {c: cmap.category_of(c) for c in STREET_THINGS} == dict.fromkeys(STREET_THINGS, IGNORE)


def _engine() -> RuleEngine:
    return RuleEngine(parse_zones({
        "camera": "cam-01", "defaults": {"dwell_s": 10, "clear_s": 6, "grace_s": 3},
        "zones": [{"id": "z-a", "kind": "sidewalk", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]],
                   "forbid": ["out_of_store_trading", "exposed_garbage", "disorderly_parking",
                              "street_vending", "stacked_materials"]}],
    }), update_every_s=None)


def _still_scene(*boxes: tuple[int, int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((1000, 1000), 110, np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        img[y0:y1, x0:x1] = rng.integers(0, 255, (y1 - y0, x1 - x0), dtype=np.uint8) // (k + 1)
    return img


def _run(cmap: ClassMap, names: tuple[str, ...], items: list[tuple[str, tuple, float]], seconds: int) -> list:
    engine = _engine()
    image = _still_scene(*[b for _, b, _ in items])
    d = Detections(xyxy=np.array([b for _, b, _ in items], np.float32).reshape(-1, 4),
                   confidence=np.array([s for _, _, s in items], np.float32),
                   class_id=np.array([names.index(c) for c, _, _ in items], np.int64), class_names=names)
    d = d.with_tracker_ids(np.arange(1, len(d) + 1))
    categorised = cmap.apply(d, keep_ignored=True)  # as CameraAnalyzer passes them to the rules
    events = []
    for t in range(seconds + 1):
        events += engine.update(categorised, float(t), T0 + timedelta(seconds=t), WH, image=image)
    return events


@pytest.mark.parametrize("thing", STREET_THINGS)
def test_a_street_thing_standing_still_reaches_the_rules_as_ignore_and_opens_nothing(
        thing: str, shipped: tuple[ClassMap, tuple[str, ...]]) -> None:
    cmap, names = shipped
    d = Detections(xyxy=np.array([THING], np.float32), confidence=np.array([0.8], np.float32),
                   class_id=np.array([names.index(thing)]), class_names=names)
    assert cmap.apply(d, keep_ignored=True).data["category"].tolist() == [IGNORE]
    assert _run(cmap, names, [(thing, THING, 0.8)], 300) == []
    # the same thing also read, weaker, as a bag (a van read as a bag): the ignore class wins, still nothing
    assert _run(cmap, names, [(thing, THING, 0.8), ("trash_bag", MISREAD, 0.6)], 300) == []


def test_control_the_same_bag_alone_opens_one_episode(shipped: tuple[ClassMap, tuple[str, ...]]) -> None:
    cmap, names = shipped
    events = _run(cmap, names, [("trash_bag", BAG, 0.6)], 60)
    assert [(e.type, e.category) for e in events] == [(EventType.STARTED, "exposed_garbage")]
