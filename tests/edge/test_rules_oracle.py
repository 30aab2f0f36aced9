"""Rules + zones + class map against the sample clips' ground truth, with *oracle* detections.

The synthetic scene generator knows every labelled object's box in every frame; fed to the rules at one
frame a second (what ``frontage analyze`` does with a model), they must reproduce every ground-truth
episode of every scenario, with nothing extra: shopkeepers standing by goods, bikes ridden past, a bike
parked for 12 s and crowds stopping to chat must not start an episode. This isolates the edge logic from
model quality (which `test_ground_truth.py` covers with the shipped model).

Uses `detector.synth.clip._sprite_box` (the generator's own box of a drawn object; no public equivalent).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from detector.classmap import ClassMap
from detector.detections import Detections
from detector.events import EventType
from detector.pipeline.evaluate import score
from detector.rules import RuleEngine
from detector.zones.schema import parse_zones

synth_clip = pytest.importorskip("detector.synth.clip")
from detector.synth.classes import CLASSES_FILE, class_names  # noqa: E402
from detector.synth.scenarios import SCENARIOS  # noqa: E402

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["market-street-day", "corner-shops-dusk", "busy-pavement-overcast", "rainy-lane"])
def test_oracle_detections_reproduce_ground_truth(name: str) -> None:
    plan = synth_clip.build_plan(SCENARIOS[name], size=(960, 540))
    zones = parse_zones(plan.zones_document(), name)
    engine = RuleEngine(zones)
    cmap = ClassMap.load(CLASSES_FILE)
    names = tuple(class_names())
    boxes_of: dict[tuple[int, float, float], tuple | None] = {}
    episodes: dict[tuple, dict] = {}
    for s in range(int(plan.duration_s) + 1):
        boxes, ids = [], []
        for p in plan.objects_at(float(s)):
            if p.label is None:
                continue
            key = (id(p.spec), round(p.x, 3), round(p.z, 3))
            if key not in boxes_of:
                boxes_of[key] = synth_clip._sprite_box(plan.camera, p.spec, p.x, p.z)
            if boxes_of[key] is not None:
                boxes.append(boxes_of[key][:4])
                ids.append(names.index(p.label))
        d = Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4), confidence=np.full(len(ids), 0.9, np.float32),
                       class_id=np.array(ids, np.int64), class_names=names)
        for e in engine.update(cmap.apply(d), float(s), T0 + timedelta(seconds=s), plan.size):
            key = (e.zone, e.category, e.started_t)
            if e.type == EventType.STARTED:
                episodes[key] = {"zone": e.zone, "category": e.category, "start_s": e.started_t, "end_s": None}
            elif e.type == EventType.CLEARED:
                episodes[key]["end_s"] = e.ended_t
    predicted = list(episodes.values())
    result = score(predicted, plan.episodes, zones)
    assert (result.precision, result.recall) == (1.0, 1.0), (predicted, plan.episodes)
    for p in predicted:  # starts are the first sighting, ends the last (within one analysis interval)
        t = min((t for t in plan.episodes if (t["zone"], t["category"]) == (p["zone"], p["category"])),
                key=lambda t: abs(t["start_s"] - p["start_s"]))
        assert abs(p["start_s"] - t["start_s"]) <= 1.0
        if p["end_s"] is not None:
            assert t["end_s"] is not None and abs(p["end_s"] - t["end_s"]) <= 1.0
