"""A camera's inference region: the bounding rectangle of its zones plus a margin, so the model sees only the
part of the frame the rules can use (issue #18, "infer only the zones").

What the rules need decides the margin. A detection counts in a zone when its *bottom centre* (where it
touches the ground, ``ZoneDefaults.anchor``) lies in the polygon; boxes of other things that overlap it matter
too (a person in front of a bag suppresses it, a rider over a bike makes it traffic, the class vote takes the
box overlapping most). So every box whose feet are in a zone must be inside the region whole:

* above: things stand *up* out of the zone: a person whose feet are at the zone's top edge has their head a
  body height above it. The tallest in-zone boxes of the sample clips reach 0.11 of the frame height above
  the zones' rectangle and a standing person is up to 0.33 of the frame tall (a near one), hence 0.35;
* left and right: the anchor is the box's centre, so half the widest object's width sticks out sideways;
* below: people walking in front of an object in the zone (who suppress it) stand lower.

The rectangle is then *snapped to the model's grid*: the model input is a window of the very canvas the
whole frame would be letterboxed into (same gain, so the same pixels per object; same grey border where the
window leaves the frame), whose edges lie on multiples of the model's stride in that canvas. The alignment is
what makes the crop find what the whole frame finds: YOLO is not shift-invariant below its stride, and on the
sample clips an unaligned crop agreed with the whole frame on 14-70 % of the boxes in its zone (a 4, 8, 12 or
16 px shift), an aligned one on 99.5-100 %. When the window is most of the canvas (``max_share``) the whole
frame is used: no gain, and no risk.

>>> from detector.zones.schema import Zone, ZonesFile
>>> zone = Zone(id="z1", kind="storefront", forbid=["exposed_garbage"],
...             polygon=[(0.3, 0.6), (0.7, 0.6), (0.7, 0.9), (0.3, 0.9)])
>>> r = inference_region(ZonesFile(camera="c", zones=[zone]), (1280, 720), ZoneCropConfig(), imgsz=640, stride=32)
>>> r.window, (r.x1, r.y1, r.x2, r.y2), round(r.share, 2)  # window in the 640x360 resized frame (canvas 640x384)
((128, 84, 384, 288), (256, 168, 1024, 720), 0.45)
>>> inference_region(ZonesFile(camera="c", zones=[zone.model_copy(update={"polygon": [(0.1, 0.5), (0.9, 0.5),
...     (0.9, 1.0), (0.1, 1.0)]})]), (1280, 720), ZoneCropConfig(), imgsz=640, stride=32) is None  # most of it
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detector.detections import Detections
from detector.inference.yolo import PAD_VALUE, frame_gain
from detector.zones.schema import ZonesFile

log = logging.getLogger("frontage.pipeline")


class ZoneCropConfig(BaseModel):
    """``batch.zone_crop`` in edge.yaml: infer only the rectangle of each camera's zones (detector/zones/region.py)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True, title="Enabled",
        description="Crop each frame to the bounding rectangle of its camera's zones (plus the margins) before "
        "the motion gate and the model; boxes go back to full-frame pixels before tracking and the rules. "
        "The sample clips' own zones need most of the frame (whole frame: episodes unchanged); one zone per "
        "camera (16 cameras): in-zone boxes agree 0.87-1.00 both ways, episodes the same on 13, and on 3 of "
        "rainy-lane's the gate and adaptive interval pick other frames (with both off they are the same too); a "
        "near zone's camera (market-street-day z-m-0548, 0.58 of the pixels) costs 37 % less CPU per frame. "
        "False: the whole frame, always")
    margin_above: float = Field(
        0.35, ge=0, le=1, title="Margin above",
        description="Fraction of the frame height added above the zones' rectangle: things whose feet are in a "
        "zone stand up out of it (a standing person is up to 0.33 of the frame tall in the sample clips)")
    margin_side: float = Field(
        0.10, ge=0, le=1, title="Margin left and right",
        description="Fraction of the frame width added left and right: the anchor is the box's bottom centre, "
        "so half an object's width sticks out sideways")
    margin_below: float = Field(
        0.10, ge=0, le=1, title="Margin below",
        description="Fraction of the frame height added below: people in front of an object in a zone (they "
        "suppress it) stand lower")
    max_share: float = Field(
        0.8, gt=0, le=1, title="Largest share",
        description="A region whose model input is at least this share of the whole frame's is not worth a "
        "crop: the whole frame is inferred")


@dataclass(frozen=True)
class Region:
    """Where the model looks in frames of one size.

    ``window`` (x, y, width, height): the model input in pixels of the frame resized by ``gain`` to ``resized``
    (w, h); x and y may be negative and the window may pass the resized frame's far edge (the letterbox's grey
    border is there, as in the whole frame's canvas); width and height are stride multiples. ``x1, y1, x2, y2``:
    the frame pixels it covers (the motion gate looks at those). ``share``: window pixels over the whole frame's
    canvas pixels."""

    x1: int
    y1: int
    x2: int
    y2: int
    gain: float
    resized: tuple[int, int]
    window: tuple[int, int, int, int]
    share: float

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The frame pixels of the region (a view: nothing copied)."""
        return image[self.y1:self.y2, self.x1:self.x2]

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """The window of the whole frame's letterboxed canvas: resized as the backend would resize the whole
        frame (cv2 INTER_LINEAR), cut out, grey where it leaves the frame."""
        nw, nh = self.resized
        resized = image if image.shape[1] == nw and image.shape[0] == nh else cv2.resize(
            image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        x, y, w, h = self.window
        if x >= 0 and y >= 0 and x + w <= nw and y + h <= nh:
            return resized[y:y + h, x:x + w]
        out = np.full((h, w, *resized.shape[2:]), PAD_VALUE, np.uint8)
        sx, sy = max(x, 0), max(y, 0)
        ex, ey = min(x + w, nw), min(y + h, nh)
        out[sy - y:ey - y, sx - x:ex - x] = resized[sy:ey, sx:ex]
        return out

    def to_frame(self, detections: Detections, frame_wh: tuple[int, int]) -> Detections:
        """Boxes found on :meth:`model_input` -> pixels of the full frame (the `Detections` convention), scaled
        and clipped as the backend does it for a whole frame."""
        if not len(detections):
            return detections
        x, y = self.window[:2]
        xyxy = (detections.xyxy + np.array([x, y, x, y], np.float32)) / self.gain
        w, h = frame_wh
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        return replace(detections, xyxy=xyxy.astype(np.float32))


def zones_rectangle(zones: ZonesFile) -> tuple[float, float, float, float] | None:
    """Normalised (x1, y1, x2, y2) around the polygons of the zones that forbid something (a zone that forbids
    nothing never opens an episode); None when there is none."""
    points = [p for z in zones.zones if z.forbid for p in z.polygon]
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _ceil(v: float, stride: int) -> int:
    return math.ceil(v / stride - 1e-9) * stride


def _span(lo: float, hi: float, full_px: int, gain: float, stride: int) -> tuple[int, int, int, int, int]:
    """One axis: margined [lo, hi) in frame pixels -> (window start, window size, canvas size, first frame
    pixel, end frame pixel). The whole frame's canvas is the resized frame rounded up to the stride, centred
    (as `detector.inference.yolo` letterboxes); the window's edges are stride multiples in that canvas."""
    resized = max(1, round(full_px * gain))
    canvas = _ceil(resized, stride)
    pad = round((canvas - resized) / 2 - 0.1)
    c0 = max(0, math.floor((lo * gain + pad) / stride + 1e-9) * stride)
    c1 = min(canvas, _ceil(hi * gain + pad, stride))
    start, end = c0 - pad, c1 - pad  # in resized-frame pixels (the border may be in the window)
    first = max(0, math.floor(start / gain))
    last = min(full_px, math.ceil(end / gain))
    return start, c1 - c0, canvas, first, last


def inference_region(zones: ZonesFile, frame_wh: tuple[int, int], config: ZoneCropConfig, *, imgsz: int,
                     stride: int = 32) -> Region | None:
    """The region to infer on frames of ``frame_wh`` under a model of input size ``imgsz`` (long side) and
    ``stride``; None: infer the whole frame (crop off, no zones, or the region is most of the frame)."""
    rect = zones_rectangle(zones) if config.enabled else None
    if rect is None:
        return None
    w, h = frame_wh
    gain = frame_gain(h, w, imgsz, upscale=False)  # what the model does to the whole frame
    wx, ww, cw, x1, x2 = _span(max(0.0, rect[0] - config.margin_side) * w,
                               min(1.0, rect[2] + config.margin_side) * w, w, gain, stride)
    wy, wh, ch, y1, y2 = _span(max(0.0, rect[1] - config.margin_above) * h,
                               min(1.0, rect[3] + config.margin_below) * h, h, gain, stride)
    share = ww * wh / (cw * ch)
    if share >= config.max_share:
        return None
    return Region(x1, y1, x2, y2, gain, (max(1, round(w * gain)), max(1, round(h * gain))), (wx, wy, ww, wh), share)


class ZoneRegions:
    """One camera's region, following its zones: ``zones`` is called for the zones in use now (the analyser's,
    which the edge replaces when the zones file changes); the region is recomputed when that object changes
    and cached per frame size and model geometry."""

    def __init__(self, zones: Callable[[], ZonesFile], config: ZoneCropConfig) -> None:
        self.zones = zones
        self.config = config
        self._for: ZonesFile | None = None
        self._cache: dict[tuple[int, int, int, int], Region | None] = {}

    def region(self, frame_wh: tuple[int, int], *, imgsz: int, stride: int = 32) -> Region | None:
        zones = self.zones()
        if zones is not self._for:  # new zones (a reloaded file, the service's): every size again
            self._for, self._cache = zones, {}
        key = (frame_wh[0], frame_wh[1], imgsz, stride)
        if key not in self._cache:
            region = self._cache[key] = inference_region(zones, frame_wh, self.config, imgsz=imgsz, stride=stride)
            if region is not None:
                log.info("camera %s: the model sees x %d-%d, y %d-%d of its %dx%d frames (%.0f %% of the whole "
                         "frame's input)", zones.camera, region.x1, region.x2, region.y1, region.y2, *frame_wh,
                         100 * region.share)
        return self._cache[key]
