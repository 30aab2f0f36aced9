"""Known objects (issue 16 item 3, edge side): an object an operator said is "not a violation here" is
remembered in the zones file (box, class, colour signature); ``frontage analyze`` and the edge drop it before
the rules, so the same thing in the same place opens no episode while a new object there still does.

Real parts: ``sample_videos/market-street-day.mp4`` through the real CLI and the shipped model; the
signature is computed from the clip's own decoded frame.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from detector.events import EventType
from detector.zones.known import KnownObject, known_mask, signature
from detector.zones.schema import ZonesFileError, parse_zones

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "sample_videos" / "market-street-day.mp4"


def scene(colour: tuple[int, int, int]) -> np.ndarray:
    img = np.full((200, 400, 3), 90, np.uint8)
    img[100:160, 40:100] = colour  # the object (BGR)
    return img


BOX_PX = np.array([[40, 100, 100, 160]], np.float32)
RED_BOOTH = KnownObject(id="k-1", category="out_of_store_trading", class_name="goods_display",
                        box=(0.1, 0.5, 0.25, 0.8), signature=signature(scene((0, 0, 220)), tuple(BOX_PX[0])))


@pytest.mark.parametrize(("image", "box", "category", "name", "expected"), [
    (scene((0, 0, 220)), BOX_PX, "out_of_store_trading", "goods_display", True),  # the same thing, same place
    (scene((0, 0, 200)), BOX_PX + 4, "out_of_store_trading", "goods_display", True),  # a little darker and off
    (scene((220, 60, 0)), BOX_PX, "out_of_store_trading", "goods_display", False),  # a new (blue) object there
    (scene((0, 0, 220)), BOX_PX + np.array([[70, 0, 70, 0]], np.float32), "out_of_store_trading", "goods_display", False),  # elsewhere
    (scene((0, 0, 220)), BOX_PX, "exposed_garbage", "goods_display", False),  # another category
    (scene((0, 0, 220)), BOX_PX, "out_of_store_trading", "stall_cart", False),  # another class
])
def test_known_object_matching(image, box, category, name, expected) -> None:  # type: ignore[no-untyped-def]
    mask = known_mask(box, np.array([category], dtype=object), np.array([name], dtype=object), [RED_BOOTH],
                      (400, 200), image)
    assert bool(mask[0]) is expected


def test_bad_known_objects_name_the_zone() -> None:
    zone = {"id": "z-a", "kind": "storefront", "polygon": [[0, 0.5], [0.5, 0.5], [0.5, 1]], "forbid": []}
    for known, fault in (({"id": "k", "category": "exposed_garbage", "box": [0.5, 0.5, 0.4, 0.6]}, "x1 < x2"),
                         ({"id": "k", "category": "exposed_garbage", "box": [0, 0, 1.2, 1]}, "normalised"),
                         ({"id": "k", "category": "exposed_garbage", "box": [0, 0, 1, 1], "signature": [1.0]},
                          "64 non-negative"),
                         ({"id": "k", "category": "teapot", "box": [0, 0, 1, 1]}, "category")):
        with pytest.raises(ZonesFileError) as err:
            parse_zones({"camera": "c", "zones": [zone | {"known_objects": [known]}]}, "zones/c.yaml")
        assert "zone 'z-a'" in str(err.value) and fault in str(err.value)


def analyze(zones: dict, tmp_path: Path, name: str) -> list[dict]:
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(zones))
    out = tmp_path / f"{name}.json"
    env = os.environ | {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False"}
    proc = subprocess.run([sys.executable, "-m", "detector", "analyze", str(CLIP), "--zones",
                           str(tmp_path / f"{name}.yaml"), "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())["episodes"]


def rejected_case_objects(zones_path: Path) -> tuple[float, list[dict]]:
    """The first z-m-0548 trading episode as the service gets it (its STARTED event's boxes) and the frame it
    was sent with: what "remember this object" stores, box, class and colour signature of each box."""
    from detector.pipeline.build import build_pipeline
    from detector.pipeline.offline import analysis_config

    frame_seen: dict[str, np.ndarray] = {}
    found: list[tuple[float, list[dict]]] = []

    class Sink:
        def emit(self, feed, emitted) -> None:  # type: ignore[no-untyped-def]
            ev = emitted.event
            if ev.type == EventType.STARTED and ev.zone == "z-m-0548" and not found:
                image = frame_seen["image"]
                h, w = image.shape[:2]
                found.append((emitted.episode.started_t, [
                    {"id": f"k-{i}", "category": str(d.category), "class_name": d.class_name, "box": d.box,
                     "signature": signature(image, tuple(v * s for v, s in zip(d.box, (w, h, w, h), strict=True)))}
                    for i, d in enumerate(ev.detections)]))

    pipeline = build_pipeline(analysis_config(CLIP, zones_path), Sink(), file_attempts=1)
    pipeline.on_frame = lambda feed, frame, detections: frame_seen.update(image=frame.image)
    try:
        pipeline.run()
    finally:
        pipeline.close()
    return found[0]


def test_analyze_honours_known_objects_from_the_zones_file(tmp_path: Path) -> None:
    zones_path = ROOT / "sample_videos" / "market-street-day.zones.yaml"
    zones = yaml.safe_load(zones_path.read_text())
    start_s, known = rejected_case_objects(zones_path)
    before = analyze(zones, tmp_path, "plain")
    assert any(e["zone"] == "z-m-0548" and abs(e["start_s"] - start_s) < 1 for e in before)
    zone = next(z for z in zones["zones"] if z["id"] == "z-m-0548")

    zone["known_objects"] = known  # "not a violation here: remember this object"
    remembered = analyze(zones, tmp_path, "remembered")
    assert not any(e["zone"] == "z-m-0548" and e["category"] == "out_of_store_trading"
                   and abs(e["start_s"] - start_s) < 5 for e in remembered), remembered
    assert any(e["zone"] == "z-m-0549" for e in remembered)  # the other zones' episodes are untouched

    # the same place, but remembered as something of other colours: what stands there now is a new object
    other = np.zeros((64, 64, 3), np.uint8)
    other[..., 0] = 255  # pure blue
    zone["known_objects"] = [k | {"signature": signature(other, (0, 0, 64, 64))} for k in known]
    new_object = analyze(zones, tmp_path, "new-object")
    assert any(e["zone"] == "z-m-0548" and e["category"] == "out_of_store_trading"
               and abs(e["start_s"] - start_s) < 5 for e in new_object), new_object
