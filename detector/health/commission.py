"""Commissioning: during a camera's first hour (and again after its zones change) the edge lists the objects
that stand still inside its zones as *proposed* known objects, sent with the health reports; the zone editor
shows them on the camera's picture for one-click acceptance. Nothing is suppressed until an operator accepts
one (it then becomes a known object of the zone, `detector.zones.known`).

A proposal: the same category at the same place (IoU >= `SAME_PLACE_IOU` with where it was first seen) for at
least ``min_static_s``, seen in most analysed frames since.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point, Polygon

from detector.categories import IGNORE
from detector.detections import Detections
from detector.zones.known import signature
from detector.zones.schema import ZonesFile

SAME_PLACE_IOU = 0.7
MIN_SEEN_SHARE = 0.8
MAX_CANDIDATES = 200


@dataclass
class _Candidate:
    zone: str
    category: str
    class_name: str
    box: np.ndarray  # normalised xyxy where first seen
    first_t: float
    last_t: float
    first_frame: int  # index of the analysed frame it was first seen in
    last_frame: int
    frames: int  # analysed frames it was seen in
    signature: list[float]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Commissioner:
    """Static objects in one camera's zones during its commissioning window."""

    def __init__(self, zones: ZonesFile, *, window_s: float = 3600.0, min_static_s: float = 300.0) -> None:
        self.window_s = window_s
        self.min_static_s = min_static_s
        self.restart(zones)

    def restart(self, zones: ZonesFile) -> None:
        """A new camera or changed zones: look again from the next frame on."""
        self.zones = [(z.id, Polygon(z.polygon), {str(c) for c in z.forbid}) for z in zones.zones]
        self.start_t: float | None = None
        self.candidates: list[_Candidate] = []
        self.analysed = 0

    def watching(self, t: float) -> bool:
        """Still in the commissioning window at media time ``t``."""
        return self.start_t is None or t - self.start_t < self.window_s

    def observe(self, t: float, categorised: Detections, frame_wh: tuple[int, int], image: np.ndarray) -> None:
        """One analysed frame (detections with ``data["category"]``; media seconds ``t``)."""
        if self.start_t is None:
            self.start_t = t
        if t - self.start_t >= self.window_s:
            return
        self.analysed += 1
        if not len(categorised):
            return
        w, h = frame_wh
        boxes = categorised.xyxy / np.array([w, h, w, h], np.float32)
        for box_px, box, cat, name in zip(categorised.xyxy, boxes, categorised.data["category"], categorised.names,
                                          strict=True):
            cat = str(cat)
            if cat == IGNORE:
                continue
            anchor = Point(float((box[0] + box[2]) / 2), float(box[3]))
            zone = next((zid for zid, poly, forbid in self.zones if cat in forbid and poly.covers(anchor)), None)
            if zone is None:
                continue
            same = next((c for c in self.candidates if c.zone == zone and c.category == cat
                         and _iou(c.box, box) >= SAME_PLACE_IOU), None)
            if same is not None:
                if same.last_frame != self.analysed:  # two boxes of one object in a frame count once
                    same.last_t, same.last_frame, same.frames = t, self.analysed, same.frames + 1
            elif len(self.candidates) < MAX_CANDIDATES:
                self.candidates.append(_Candidate(zone, cat, str(name), box.astype(np.float64), t, t,
                                                  self.analysed, self.analysed, 1,
                                                  signature(image, tuple(float(v) for v in box_px))))

    def proposals(self) -> list[dict]:
        """The candidates that stood still long enough, as the health report carries them."""
        out = []
        for c in self.candidates:
            span = c.last_t - c.first_t
            share = c.frames / (c.last_frame - c.first_frame + 1)
            if span < self.min_static_s or share < MIN_SEEN_SHARE:
                continue
            out.append({"id": f"p-{c.zone}-{round(c.first_t)}-{c.category[:8]}", "zone": c.zone,
                        "category": c.category, "class_name": c.class_name,
                        "box": [round(float(v), 4) for v in np.clip(c.box, 0, 1)], "signature": c.signature,
                        "static_s": round(span, 1)})
        return out[:50]
