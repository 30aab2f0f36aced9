"""Zone geometry (anchor, fixtures) and the zones file's error messages (file, zone, fault)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.detections import Detections
from detector.zones.polygon import PolygonZone
from detector.zones.schema import Zone, ZonesFileError, load_zones

GOOD = """\
camera: cam-01
zones:
  - id: z-a
    merchant: m-1
    kind: storefront
    polygon: [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]
    forbid: [out_of_store_trading]
    fixtures:
      - [[0.2, 0.6], [0.3, 0.6], [0.3, 0.8], [0.2, 0.8]]
"""


def _boxes(*xyxy: tuple[float, float, float, float]) -> Detections:
    n = len(xyxy)
    return Detections(xyxy=np.array(xyxy, np.float32).reshape(-1, 4), confidence=np.ones(n, np.float32),
                      class_id=np.zeros(n, np.int64), class_names=("chair",))


def test_anchor_fixtures_and_overlap(tmp_path: Path) -> None:
    f = tmp_path / "z.yaml"
    f.write_text(GOOD)
    zone = load_zones(f).zones[0]
    pz = PolygonZone(zone, (200, 100))  # zone: x 0-100, y 50-100; fixture: x 40-60, y 60-80
    d = _boxes(
        (10, 40, 30, 70),    # bottom-centre (20, 70) inside
        (10, 10, 30, 45),    # above the zone
        (45, 65, 55, 75),    # anchor on the fixture
        (38, 58, 62, 84),    # anchor (50, 84) below the fixture, box mostly over it
        (120, 60, 140, 90),  # right of the zone
        (70, 60, 90, 99),    # inside, clear of the fixture
    )
    assert pz.trigger(d).tolist() == [True, False, False, False, False, True]
    assert pz.current_count == 2
    centre = PolygonZone(zone, (200, 100), anchor="center")
    assert centre.trigger(_boxes((10, 40, 30, 70)))[0]  # centre (20, 55) inside too
    assert not centre.trigger(_boxes((10, 20, 30, 70)))[0]  # centre (20, 45) outside
    assert pz.trigger(Detections.empty()).shape == (0,)


def test_boxes_outside_the_frame_do_not_crash() -> None:
    zone = Zone(id="z", kind="sidewalk", forbid=["exposed_garbage"], polygon=[(0, 0), (1, 0), (1, 1), (0, 1)])
    pz = PolygonZone(zone, (64, 48))
    assert pz.trigger(_boxes((-50, -50, -10, -10), (60, 40, 500, 900))).tolist() == [True, True]


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "cam.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (("forbid: [out_of_store_trading]", "forbid: [loitering]"), "forbid"),
        (("[0.5, 1.0], [0.0, 1.0]]", "[0.0, 1.0], [0.5, 1.0]]"), "self-intersecting"),
        (("[0.5, 0.5], [0.5, 1.0]", "[1.5, 0.5], [0.5, 1.0]"), "out of range"),
        (("[0.3, 0.8], [0.2, 0.8]]", "[0.2, 0.8], [0.3, 0.8]]"), "fixture 0 is self-intersecting"),
    ],
)
def test_bad_zone_messages_name_file_zone_and_fault(tmp_path: Path, change: tuple[str, str], fault: str) -> None:
    assert change[0] in GOOD
    f = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ZonesFileError) as err:
        load_zones(f)
    msg = str(err.value)
    assert str(f) in msg and "zone 'z-a'" in msg and fault in msg and "\n" not in msg


def test_duplicate_ids(tmp_path: Path) -> None:
    zone = GOOD.split("zones:\n", 1)[1]
    f = _write(tmp_path, GOOD + zone)
    with pytest.raises(ZonesFileError, match=r"cam\.yaml: .*duplicate zone id 'z-a'"):
        load_zones(f)


@pytest.mark.parametrize("text", ["camera: [\nzones: :", "- a\n- b\n", "camera: c\n"])
def test_malformed_yaml(tmp_path: Path, text: str) -> None:
    f = _write(tmp_path, text)
    with pytest.raises(ZonesFileError, match=str(f)):
        load_zones(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ZonesFileError, match="not found"):
        load_zones(tmp_path / "none.yaml")
