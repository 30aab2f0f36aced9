"""What the rules accept as "a thing that stays": the policy knobs and the small pixel check behind them.

Street footage is full of things that are *in the zone* for longer than the dwell without being a
violation: a pushchair pushed to and fro, a car creeping in the kerb lane, a poster that the model reads
as a bag in one frame and as goods in the next. Box overlap alone (the reference box of
:mod:`detector.rules.episodes`) lets them through, so an object must also

* **look the same** at its reference box: a 16×16 grey crop of the frame there, mean removed (so a cloud
  or an auto-exposure step is not a change), compared with an anchor crop; an object that moves inside its
  own width changes the crop in most frames (`crop_change`);
* **win the class vote** over its dwell: in each frame the detection that overlaps the reference box most
  (of any class, ``ignore`` classes included) is that frame's reading of the object; a bag in 3 frames and a
  car in 20 is not a bag;
* **score at least** its class's ``min_score`` (calibrated on real negative footage; a property of the model, so
  it lives in the model's classes file and `detector.classmap.ClassMap.apply` applies it);
* **not be another thing**: a box of an ``ignore`` class (person, bench, bin; car and more as the model
  learns them) that overlaps a violation box and scores at least as high suppresses it.

`RulePolicy.legacy()` is the 3.1 rules (box overlap only; with a classes file without ``min_score``), kept so
benchmarks can compare like with like.

>>> grey = np.zeros((100, 100), np.uint8); grey[20:40, 20:40] = 200
>>> a = box_crop(grey, np.array([10, 10, 50, 50]))
>>> crop_change(a, box_crop(grey, np.array([10, 10, 50, 50])))
0.0
>>> moved = np.roll(grey, 15, axis=1)  # the same object 15 px to the right, inside its reference box
>>> crop_change(a, box_crop(moved, np.array([10, 10, 50, 50]))) > RulePolicy().max_crop_change
True
"""

from __future__ import annotations

from typing import Annotated

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

CROP_PX = 16  # side of the grey crop compared per reference box: 256 bytes per tracked object


def box_crop(image: np.ndarray, box: np.ndarray, size: int = CROP_PX) -> np.ndarray | None:
    """``size``×``size`` float32 grey crop of the frame (BGR or grey) at ``box`` (xyxy pixels), mean removed;
    None off-frame. Only the box is resized and turned grey: the cost is per tracked object, not per frame."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = grey_of(cv2.resize(image[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)).astype(np.float32)
    return crop - crop.mean()


def crop_change(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Mean absolute difference of two mean-removed crops, in grey levels (0 = the same picture)."""
    if a is None or b is None:
        return 0.0
    return float(np.abs(a - b).mean())


def grey_of(image: np.ndarray) -> np.ndarray:
    """Grey copy of a BGR (or already grey) frame."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class RulePolicy(BaseModel):
    """How strict the rules are about what counts as a thing that stays (defaults: the 3.2 rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pixel_check: Annotated[bool, Field(
        title="Pixel check",
        description="Compare a small grey crop at each reference box across the dwell (needs the frame)")] = True
    max_crop_change: Annotated[float, Field(
        ge=0, title="Largest still change",
        description="Mean absolute grey-level difference of the mean-removed 16x16 crops that still counts as "
                    "'looks the same'")] = 12.0
    min_still_share: Annotated[float, Field(
        ge=0, le=1, title="Still share",
        description="Share of a reference's observations that must look like its anchor before it may open an "
                    "episode (passers-by in front of a bag cost a few; an object moved to and fro fails most)")] = 0.6
    hidden_share: Annotated[float, Field(
        gt=0, le=1, title="Hidden share",
        description="A reference not detected this frame whose box lies this much inside an ignore-class box "
                    "(someone standing in front of it) gets no pixel verdict for the frame")] = 0.6
    vote_iou: Annotated[float, Field(
        gt=0, le=1, title="Vote overlap",
        description="IoU with the reference box from which a detection is that frame's reading of the object")] = 0.5
    min_vote_share: Annotated[float, Field(
        ge=0, le=1, title="Class vote",
        description="Share of the readings over the dwell that must be the episode's category")] = 0.6
    suppress_iou: Annotated[float | None, Field(
        gt=0, le=1, title="Ignore-class suppression",
        description="A violation box overlapping an ignore-class box of at least its score by this IoU is "
                    "dropped; null turns it off")] = 0.5

    @classmethod
    def legacy(cls) -> RulePolicy:
        """The rules of frontage-n 3.1 as shipped: box overlap only (no pixels, no vote, no score floor)."""
        return cls(pixel_check=False, min_still_share=0.0, min_vote_share=0.0, suppress_iou=None)
