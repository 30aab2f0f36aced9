"""Gating: skip the model while a camera's picture stays the same (``mode: motion``) or while only passers-by
change it (``mode: static``).

Motion mode: each frame is shrunk to a small grey picture and compared with the last frame that went through the model;
if few enough pixels changed, the previous detections still hold. A re-check is forced every
``max_skip_s`` of media time anyway, so slow changes (a bag put down during a lighting drift) are caught.
A gate's ``phase`` (a fraction of ``max_skip_s``) brings its first forced re-check forward: cameras that start
together then do not all re-check in the same second (on a quiet street that burst was the only load, and
it made every camera late at once); each re-check still comes at most ``max_skip_s`` after the last run.

Static mode (`detector.gating.static`): on a busy street every frame has motion, so the motion test skips
nothing. There the model runs when more than ``changed_fraction`` of the picture is *static* (new against a
long-term background and unchanged for ``static.hold_s``) now or at the last run and looks different from that
run's picture: something new stood still, something that stood still left, or a thing someone stood in front
of at the last run is in view again. People walking past count for nothing. The forced re-check, the first
frame, a new picture size and media time going backwards run the model as in motion mode.

Static mode is the default. A skipped frame hands the rules the last run's detections, so on a busy street
one run with a passer-by in front of a small stack would count as its absence until the next run. Two things
in the rules and the pipeline make that safe (`detector.rules.episodes`, `Batcher.verify`): a held frame is no
observation (no vote, no pixel check, its absence neither clears an episode nor expires a reference), and a run
that loses something the rules follow (an open episode's object, a thing that stood in a zone) makes the
camera's next frames go through the model until it is back or its episode cleared. Sample clips (4 clips, 14
episodes, max_skip_s 10; model runs of all analysed frames): static 31% at 0.5 analyses/s and 33% at 1/s, all
14 episodes, none false; motion 88% and 83%. Without those two, static with max_skip_s 10 opened
corner-shops-dusk's parked bike ~50 s late and split rainy-lane's stack (max_skip_s 3 was needed: 50% / 34%).

>>> import numpy as np
>>> from datetime import UTC, datetime
>>> from detector.frames import Frame
>>> still = np.full((360, 640, 3), 90, np.uint8)
>>> moved = still.copy(); moved[100:200, 100:250] = 250
>>> gate = MotionGate(mode="motion", max_skip_s=10)
>>> f = lambda img, t: Frame("cam-01", img, t, datetime.now(UTC))
>>> gate.should_infer(f(still, 0.0)); gate.mark_inferred(f(still, 0.0))
True
>>> gate.should_infer(f(still, 1.0)), gate.should_infer(f(moved, 2.0)), gate.should_infer(f(still, 10.0))
(False, True, True)
"""

from __future__ import annotations

import weakref
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detector.frames import Frame
from detector.gating.static import StaticChangeConfig, StaticChangeMap


class MotionGateConfig(BaseModel):
    """The ``gating:`` section of edge.yaml (and of ``frontage analyze``): when a frame needs the model."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, title="Enabled", description="False: every frame goes to the model")
    mode: Literal["motion", "static"] = Field(
        "static", title="Mode",
        description="static: the model runs only when what stays in the picture changed (something new stood "
        "still, or left), so passers-by do not wake it (detector.gating.static; on the busy sample clips a third "
        "of the frames instead of 83-88%, all 14 episodes kept); motion: whenever the picture changed since its "
        "last run. Either way a run that loses something the rules follow is checked on the next frames",
    )
    width: int = Field(160, ge=16, le=1920, title="Compare width", description="Width of the grey comparison picture")
    pixel_threshold: int = Field(
        20, ge=1, le=255, title="Pixel threshold", description="Grey-level difference that counts a pixel as changed"
    )
    changed_fraction: float = Field(
        0.001, ge=0, le=1, title="Changed fraction",
        description="Share of changed pixels that triggers inference (0.001 of 160x90 = 14 pixels: a 40x40 px "
        "object in a 1280x720 frame). On the sample clips at 0.5 and 1 analyses/s, 0.001 and 0.003 both keep "
        "all 14 episodes (0.001 skips the model on 12-18% of frames, 0.003 on 26-33%), but at 0.003 an object "
        "smaller than ~70x70 px waits for the forced re-check (max_skip_s), so its episode starts that late",
    )
    max_skip_s: float = Field(
        10.0, gt=0, title="Max skip", description="Media seconds after which the model runs regardless"
    )
    static: StaticChangeConfig = Field(
        default_factory=StaticChangeConfig, title="Static-change map",
        description="Background and settle times of mode static (pixel_threshold and changed_fraction apply to "
        "its map: a pixel is new when it differs from the background by pixel_threshold)",
    )


class MotionGate:
    """Gate of one camera: ``should_infer(frame)`` then, if the model ran, ``mark_inferred(frame)``.

    In static mode every frame must reach the gate through one of the two (the batcher calls
    ``mark_inferred`` alone for a camera's first frame): each feeds the static map once per frame."""

    def __init__(self, config: MotionGateConfig | None = None, *, phase: float = 0.0, **overrides: object) -> None:
        if not 0.0 <= phase < 1.0:
            raise ValueError(f"gate phase must be in [0, 1), got {phase}")
        self.config = (config or MotionGateConfig()).model_copy(update=overrides)
        self.phase = phase
        self._ref: np.ndarray | None = None
        self._ref_pts = 0.0
        # (the frame's image, its small grey picture): a weak reference, not id(), which a later frame's image
        # may reuse once this one is freed
        self._cache: tuple[weakref.ref[np.ndarray], np.ndarray] | None = None
        self.static = (StaticChangeMap(self.config.static, self.config.pixel_threshold)
                       if self.config.mode == "static" else None)
        self._fed: tuple[weakref.ref[np.ndarray], float] | None = None  # (image, pts) last fed to the static map
        self.last_changed_fraction = 1.0

    def _small(self, frame: Frame) -> np.ndarray:
        image = frame.image
        if self._cache is not None and self._cache[0]() is image:
            return self._cache[1]
        h, w = image.shape[:2]
        width = min(self.config.width, w)
        height = max(1, round(h * width / w))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        small = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (3, 3), 0)  # sensor noise and compression shimmer are not motion
        self._cache = (weakref.ref(image), small)
        return small

    def _feed(self, frame: Frame) -> None:
        """Static mode: update the static map with this frame, once."""
        if self.static is None or (self._fed is not None and self._fed[0]() is frame.image
                                   and self._fed[1] == frame.pts_s):
            return
        self.static.update(self._small(frame), frame.pts_s)
        self._fed = (weakref.ref(frame.image), frame.pts_s)

    def should_infer(self, frame: Frame) -> bool:
        cfg = self.config
        if not cfg.enabled:
            return True
        self._feed(frame)
        if self._ref is None:
            return True
        if frame.pts_s - self._ref_pts >= cfg.max_skip_s or frame.pts_s < self._ref_pts:
            return True
        small = self._small(frame)
        if small.shape != self._ref.shape:
            return True
        if self.static is not None:
            self.last_changed_fraction = self.static.changed_fraction()
        else:
            diff = cv2.absdiff(small, self._ref)
            self.last_changed_fraction = float(np.count_nonzero(diff > cfg.pixel_threshold)) / diff.size
        return self.last_changed_fraction > cfg.changed_fraction

    def mark_inferred(self, frame: Frame) -> None:
        first = self._ref is None
        self._feed(frame)
        if self.static is not None:
            self.static.mark()
        self._ref = self._small(frame)
        # the first forced re-check comes `phase` early; later ones keep that offset while the scene is still
        self._ref_pts = frame.pts_s - (self.phase * self.config.max_skip_s if first else 0.0)
