"""The analysis interval of one camera, stretched while its picture stays unchanged.

A quiet street costs decode, not inference (issue #18): the motion gate already skips the model, but every
analysis frame is still decoded. When the camera's picture has been unchanged for ``quiet_s`` of media time —
the gate skipped the model, or the model ran (a forced re-check) and found the same objects — the camera is
analysed ``stretch`` times less often, capped at ``share_of_dwell`` of the shortest dwell / clear / grace of its
zones (so an object put down still opens its episode on time). The first analysed frame whose model run finds
something else brings the normal interval back at once.

One :class:`AnalysisCadence` per camera is shared by its source (which reads :attr:`~AnalysisCadence.interval_s`
before each analysis pick; with keyframe-only decode the keyframes it cannot pick are not even decoded,
`detector.sources.video`) and the pipeline (which calls :meth:`~AnalysisCadence.observe` with each analysed
frame, `detector.pipeline.build`). Everything is in media time, so ``frontage analyze`` (files read as fast as
possible) stretches at the same frames as the edge.

>>> from detector.detections import Detections
>>> import numpy as np
>>> bag = Detections(xyxy=np.array([[10., 10., 50., 50.]]), confidence=np.array([0.8]), class_id=np.array([0]),
...                  class_names=("bag",))
>>> c = AnalysisCadence(1.0, AdaptiveIntervalConfig(enabled=True, quiet_s=3))
>>> for t in range(5):
...     c.observe(float(t), inferred=t == 0, detections=bag)
>>> c.interval_s                                   # 3 s without a change: every 2 s
2.0
>>> c.observe(5.0, inferred=True, detections=Detections.empty(("bag",)))   # the bag left
>>> c.interval_s
1.0
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from detector.detections import Detections
from detector.zones.schema import ZonesFile

SAME_BOX_IOU = 0.9  # a re-run of the model that finds every box again at this IoU saw the same scene


class AdaptiveIntervalConfig(BaseModel):
    """``cameras[].adaptive_interval`` of edge.yaml: analyse a camera less often while nothing changes."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True, title="Enabled",
        description="Stretch the analysis interval of a camera whose picture is unchanged. The sample clips keep "
        "all their episodes (precision and recall 1.0 at 0.5 and 1 analysis/s; at 1/s two starts 1 s later); "
        "a quiet 1 s-GOP street decodes about half its keyframes")
    quiet_s: float = Field(
        5.0, gt=0, le=3600, title="Quiet time",
        description="Media seconds the picture must stay unchanged (motion gate skipping the model, or the "
        "model finding the same objects) before the interval is stretched")
    stretch: float = Field(
        2.0, ge=1, le=10, title="Stretch",
        description="Factor on the camera's interval (1 / analysis_fps) while it is quiet")
    share_of_dwell: float = Field(
        0.25, gt=0, le=1, title="Share of dwell",
        description="The stretched interval is at most this share of the shortest dwell_s, clear_s or grace_s of "
        "the camera's zones (defaults 30 / 20 / 10 s: at most 2.5 s); never below the normal interval")


def same_objects(a: Detections, b: Detections) -> bool:
    """Every box of each has a same-class box in the other at IoU >= 0.9 (scores may differ).

    >>> import numpy as np
    >>> d = Detections(xyxy=np.array([[0., 0., 10., 10.]]), confidence=np.array([0.5]), class_id=np.array([1]),
    ...                class_names=("a", "b"))
    >>> same_objects(d, d), same_objects(d, Detections.empty(("a", "b")))
    (True, False)
    """
    from detector.inference.agreement import matched

    if len(a) != len(b):
        return False
    return matched(a, b, score_tol=1.0) == len(a) and matched(b, a, score_tol=1.0) == len(b)


class AnalysisCadence:
    """The current analysis interval of one camera (read by its source thread, set by the analysis loop).

    ``zones``: the camera's zones as the analyser holds them now (a callable: zones reloaded at run time move
    the cap with them); None caps at ``share_of_dwell`` of the zones-file defaults.
    """

    def __init__(self, analysis_fps: float, config: AdaptiveIntervalConfig | None = None,
                 zones: Callable[[], ZonesFile | None] | None = None) -> None:
        if analysis_fps <= 0:
            raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
        self.base_s = 1.0 / analysis_fps
        self.config = config or AdaptiveIntervalConfig(enabled=False)
        self._zones = zones
        self._cap: tuple[int, float] | None = None  # (id of the zones object, its stretched interval)
        self.interval_s = self.base_s  # a float read by another thread: one assignment, no lock needed
        self._quiet_since: float | None = None
        self._last: Detections | None = None

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def stretched_interval_s(self) -> float:
        """The interval while quiet: ``stretch`` x normal, capped by the zones' shortest dwell / clear / grace."""
        zones = self._zones() if self._zones is not None else None
        key = id(zones)
        if self._cap is None or self._cap[0] != key:
            zf = zones or ZonesFile(camera="-", zones=[])
            times = [zf.defaults.grace_s] if zf.defaults.grace_s > 0 else []
            times += [t for z in zf.zones for t in (zf.dwell_s(z), zf.clear_s(z))]
            shortest = min(times) if times else min(zf.defaults.dwell_s, zf.defaults.clear_s)
            wanted = min(self.base_s * self.config.stretch, self.config.share_of_dwell * shortest)
            self._cap = (key, max(self.base_s, wanted))
        return self._cap[1]

    def observe(self, pts_s: float, inferred: bool, detections: Detections) -> None:
        """One analysed frame: ``inferred`` False means the gate skipped the model (the picture is unchanged)."""
        if not self.config.enabled:
            return
        if inferred:
            changed = self._last is None or not same_objects(detections, self._last)
            self._last = detections
            if changed:  # something came, went or moved: back to the normal interval at once
                self._quiet_since = pts_s
                self.interval_s = self.base_s
                return
        if self._quiet_since is None or pts_s < self._quiet_since:  # no model run yet, or a file looped back
            self._quiet_since = pts_s
        if pts_s - self._quiet_since >= self.config.quiet_s:
            self.interval_s = self.stretched_interval_s()
