"""Static-change map: what is new in a camera's picture *and stays*, so that passers-by do not wake the model.

Works on the gate's small grey picture (`detector.gating.motion`), per camera, in media time (``frame.pts_s``),
so it behaves the same at 0.5 and at 2 analyses/s:

* **settled pixels** (the short-term "what is here now"): a pixel is settled once it has stayed within half
  ``pixel_threshold`` of its value when it last changed for ``hold_s``. A passer-by never settles a pixel; a
  bag put down does, ``hold_s`` after it stopped moving.
* **long-term background**: learnt from settled pixels only (a passer-by does not smear into it), each pixel
  starting from its first settled value (someone in the first frame leaves no ghost), then an exponential
  average over ``background_s``: slow lighting drift is followed, and a thing that stays becomes background
  after about twice that.
* **static map**: each settled pixel is *static* while it differs from the background by more than
  ``pixel_threshold`` (and stops being so below half of it); a pixel that is not settled keeps what was last
  known of it. A global brightness offset (a cloud, an auto-exposure step: the median difference) is taken off
  first, and while less than a quarter of the picture is settled the map does not change.

The gate's question (:meth:`StaticChangeMap.changed_fraction`): how many settled pixels are static now or were
at the last model run, and look different from that run's picture? That is something new that stood still,
something that stood still and left, or a thing someone stood in front of at the last run, in view again.
People walking past count for nothing. A view that is mostly new at once (the camera was moved) is learnt
again from scratch, and the model runs.

>>> import numpy as np
>>> cfg = StaticChangeConfig(hold_s=2)
>>> still = np.full((90, 160), 100, np.uint8)
>>> walker, bag = still.copy(), still.copy()
>>> bag[60:70, 40:50] = 30
>>> m = StaticChangeMap(cfg, pixel_threshold=20)
>>> for t in range(5): m.update(still, float(t))
>>> m.mark()
>>> for t in range(5, 10):  # someone walks across: the picture moves, nothing settles
...     walker = still.copy(); walker[20:50, 10 * t:10 * t + 10] = 220; m.update(walker, float(t))
>>> m.changed_fraction()
0.0
>>> for t in range(10, 14): m.update(bag, float(t))  # a bag put down at 10 s: settled from 12 s on
>>> round(m.changed_fraction(), 4)  # 100 of 14,400 pixels
0.0069
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# A pixel that counts as new stops counting only when it is within half the threshold of the background
# again: one near the threshold (a fading ghost, a soft shadow) would otherwise flip on every frame.
HYSTERESIS = 0.5
# A pixel is settled while it stays within half the threshold of its value when it last changed. With the
# whole threshold, the crowd on the sample clip market-street-day (at 1 analysis/s) left pixels that drift
# into "new" without ever "changing" (with an earlier trigger: the model ran on 46% of the frames, not 19%).
SETTLE_TOL = 0.5
MIN_SETTLED = 0.25  # share of the picture that must be settled for the static map to change


class StaticChangeConfig(BaseModel):
    """``gating.static:`` the static-change map used when ``gating.mode`` is ``static``."""

    model_config = ConfigDict(extra="forbid")

    background_s: float = Field(
        120.0, gt=0, title="Background time constant",
        description="Media seconds over which the long-term background follows the settled picture: slow "
        "lighting drift is followed, and a thing that stays becomes background after about twice this",
    )
    hold_s: float = Field(
        3.0, gt=0, title="Settle time",
        description="Media seconds a pixel must stay the same before it counts as settled (a passer-by never is; "
        "something put down counts this long after it stops moving)",
    )
    relearn_fraction: float = Field(
        0.5, gt=0, le=1, title="Re-learn share",
        description="Share of the settled pixels (once at least half the picture is settled) that are new, above "
        "which the view is taken as changed (camera moved, lights switched): the background is learnt again from "
        "the current picture and the model runs",
    )


class StaticChangeMap:
    """The static map of one camera's small grey pictures: ``update(small, t)`` for every frame,
    ``changed_fraction()`` against the reference, ``mark()`` when the model ran."""

    def __init__(self, config: StaticChangeConfig, pixel_threshold: int) -> None:
        self.config = config
        self.threshold = float(pixel_threshold)
        self.background: np.ndarray | None = None  # float32, the long-term background
        self._learnt: np.ndarray | None = None  # float32, per pixel how many settled pictures it has learnt
        self._anchor: np.ndarray | None = None  # per pixel, its value when it last changed
        self._small: np.ndarray | None = None  # the last picture
        self._ref_small: np.ndarray | None = None  # the picture of the last model run
        self._changed_at: np.ndarray | None = None  # float64, media time each pixel last changed
        self.static: np.ndarray | None = None  # bool, settled and new (last known for unsettled pixels)
        self._settled: np.ndarray | None = None  # bool, the pixels settled in the last picture
        self._ref: np.ndarray | None = None  # `static` at the last model run
        self._t = 0.0
        self.relearned = False  # the background was learnt again since the last mark()

    def reset(self, small: np.ndarray, t: float) -> None:
        """Start again from ``small`` (first frame, a new picture size, media time going backwards)."""
        self.background = small.astype(np.float32)
        self._learnt = np.zeros(small.shape, np.float32)
        self._anchor = small.copy()
        self._small, self._ref_small = small, None
        self._changed_at = np.full(small.shape, t, np.float64)  # nothing is settled before hold_s has passed
        self.static = np.zeros(small.shape, bool)
        self._settled = np.zeros(small.shape, bool)
        self._ref = None
        self._t = t
        self.relearned = False

    def update(self, small: np.ndarray, t: float) -> None:
        """Feed the next small grey picture (uint8) taken at media time ``t``."""
        if self.background is None or small.shape != self.background.shape or t < self._t:
            self.reset(small, t)
            return
        bg, learnt, static = self.background, self._learnt, self.static
        anchor = self._anchor
        assert learnt is not None and anchor is not None and self._changed_at is not None and static is not None
        cfg = self.config
        # against the value the pixel had when it last changed, not the previous picture: a crowd of small,
        # blurred people changes a pixel a little per frame, never much at once
        moving = cv2.absdiff(small, anchor) > self.threshold * SETTLE_TOL
        np.copyto(anchor, small, where=moving)
        np.putmask(self._changed_at, moving, t)
        settled = self._settled = (t - self._changed_at) >= cfg.hold_s
        now = small.astype(np.float32)
        # a pixel's background starts as its first settled value: someone in the first frame leaves no ghost
        first = settled & (learnt == 0)
        np.copyto(bg, now, where=first)
        diff = now - bg
        known = (settled & ~first)[::4, ::4]  # every 16th pixel: the same offset at a tenth of the cost
        n_settled = np.count_nonzero(settled)
        relearn = False
        # With most of the picture in flux (an exposure step or the view changing just now) the few settled
        # pixels tell nothing reliable: the static map keeps what it knew until a quarter has settled again.
        if np.count_nonzero(known) >= MIN_SETTLED * known.size:
            diff -= float(np.median(diff[::4, ::4][known]))  # a global brightness step is not a new object
            diff = np.abs(diff)
            static |= settled & (diff > self.threshold)
            static &= ~(settled & (diff < self.threshold * HYSTERESIS))
            relearn = (n_settled > static.size / 2
                       and np.count_nonzero(static & settled) > cfg.relearn_fraction * n_settled)
        if relearn:
            # the view jumped: what is here now is the new background, each pixel learnt when it settles
            bg[:] = now
            learnt[:] = 0
            static[:] = False
            self.relearned = True
        else:
            # the mean of a pixel's first settled values, then an exponential average over background_s
            learnt += settled
            rate = 1.0 / np.maximum(learnt, 1.0)
            np.maximum(rate, np.float32(1.0 - np.exp(-(t - self._t) / cfg.background_s)), out=rate)
            rate *= settled
            bg += rate * (now - bg)
        self._small = small
        self._t = t

    def changed_fraction(self) -> float:
        """Share of pixels that are settled, static now or at the last model run, and look different from the
        picture of that run (1.0: no reference, or re-learnt).

        Only what the model has not seen counts: a bag that settles piece by piece while people keep walking
        past it was seen whole at the run that found it; one that someone stood in front of at the last run
        counts once it is in view again (that run's detections, held until the next, may lack it). A thing
        smaller than ``changed_fraction`` (rainy-lane's far stack: ~13 pixels of 14,400) waits for the forced
        re-check either way."""
        if self._ref is None or self._ref_small is None or self._small is None or self._settled is None:
            return 1.0
        if self.relearned or self._small.shape != self._ref_small.shape:
            return 1.0
        assert self.static is not None
        differs = cv2.absdiff(self._small, self._ref_small) > self.threshold
        changed = self._settled & (self.static | self._ref) & differs
        return float(np.count_nonzero(changed)) / changed.size

    def mark(self) -> None:
        """The model ran on the last picture: it and its static map are the new reference."""
        if self.static is not None:
            self._ref = self.static.copy()
            self._ref_small = self._small
        self.relearned = False
