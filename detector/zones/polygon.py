"""Zone geometry: which detections stand inside a responsibility zone (supervision-style `PolygonZone`).

The zone polygon and its fixtures are rasterised once per frame size into boolean masks (cv2.fillPoly),
so testing N detections is one vectorised mask lookup at their anchor points. A detection is excluded
when its anchor lies in a fixture, or when most of its box (``fixture_overlap``, default 50 %) covers a
fixture: the box-over-fixture area comes from an integral image, O(1) per box.

>>> import numpy as np
>>> from detector.detections import Detections
>>> from detector.zones.schema import Zone
>>> zone = Zone(id="z1", kind="storefront", forbid=["exposed_garbage"],
...             polygon=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)])
>>> pz = PolygonZone(zone, (100, 100))
>>> d = Detections(xyxy=np.array([[10, 60, 20, 80], [60, 60, 70, 80]], np.float32),
...                confidence=np.ones(2, np.float32), class_id=np.zeros(2, np.int64), class_names=("x",))
>>> pz.trigger(d).tolist()
[True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detector.detections import Anchor, Detections
from detector.zones.schema import Point, Zone


def polygon_pixels(points: Sequence[Point], frame_wh: tuple[int, int]) -> np.ndarray:
    """Normalised [x, y] vertices -> (K, 2) int32 pixel vertices for OpenCV."""
    w, h = frame_wh
    pts = np.asarray(points, dtype=np.float64) * np.array([w, h], dtype=np.float64)
    return np.round(pts).astype(np.int32)


def _mask(polygons: Sequence[Sequence[Point]], frame_wh: tuple[int, int]) -> np.ndarray:
    w, h = frame_wh
    mask = np.zeros((h, w), np.uint8)
    if polygons:
        cv2.fillPoly(mask, [polygon_pixels(p, frame_wh) for p in polygons], 1)
    return mask


class PolygonZone:
    """One zone on frames of one size; `trigger` says which detections stand in it."""

    def __init__(self, zone: Zone, frame_wh: tuple[int, int], anchor: Anchor = "bottom_center",
                 fixture_overlap: float = 0.5) -> None:
        self.zone = zone
        self.frame_wh = (int(frame_wh[0]), int(frame_wh[1]))
        self.anchor: Anchor = anchor
        self.fixture_overlap = fixture_overlap
        self.polygon_px = polygon_pixels(zone.polygon, self.frame_wh)
        self.mask = _mask([zone.polygon], self.frame_wh).astype(bool)
        fixtures = _mask(zone.fixtures, self.frame_wh)
        self.fixture_mask = fixtures.astype(bool)
        # integral image (h+1, w+1): area of fixture pixels inside any box in four lookups
        self._fixture_integral = cv2.integral(fixtures) if zone.fixtures else None
        self.current_count = 0

    def _lookup(self, mask: np.ndarray, points: np.ndarray) -> np.ndarray:
        w, h = self.frame_wh
        x = np.clip(np.floor(points[:, 0]).astype(np.int64), 0, w - 1)
        y = np.clip(np.floor(points[:, 1]).astype(np.int64), 0, h - 1)
        return mask[y, x]

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean (N,): which (x, y) pixel points lie inside the zone polygon."""
        return self._lookup(self.mask, np.asarray(points, np.float32).reshape(-1, 2))

    def fixture_fraction(self, xyxy: np.ndarray) -> np.ndarray:
        """Fraction of each box's area that covers a fixture (0 where the zone has no fixtures)."""
        if self._fixture_integral is None or not len(xyxy):
            return np.zeros(len(xyxy), np.float32)
        w, h = self.frame_wh
        box = np.round(xyxy).astype(np.int64)
        x1, x2 = np.clip(box[:, 0], 0, w), np.clip(box[:, 2], 0, w)
        y1, y2 = np.clip(box[:, 1], 0, h), np.clip(box[:, 3], 0, h)
        ii = self._fixture_integral
        covered = ii[y2, x2] - ii[y1, x2] - ii[y2, x1] + ii[y1, x1]
        area = np.maximum((x2 - x1) * (y2 - y1), 1)
        return (covered / area).astype(np.float32)

    def trigger(self, detections: Detections) -> np.ndarray:
        """Boolean (N,): anchor inside the zone and not on/over a fixture."""
        if not len(detections):
            self.current_count = 0
            return np.zeros(0, dtype=bool)
        anchors = detections.anchors(self.anchor)
        inside = self._lookup(self.mask, anchors)
        if self._fixture_integral is not None:
            on_fixture = self._lookup(self.fixture_mask, anchors)
            inside &= ~on_fixture & (self.fixture_fraction(detections.xyxy) < self.fixture_overlap)
        self.current_count = int(inside.sum())
        return inside
