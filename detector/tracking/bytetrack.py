"""Per-camera object tracking (ByteTrack), so that tracks of different cameras never mix.

Each camera's tracker counts its lost-track budget in that camera's own analysis steps: ``frame_rates`` maps
camera id -> ``analysis_fps`` (`detector.pipeline.build` passes every camera's), so ``lost_track_buffer_s``
means seconds on a 0.5 and on a 2 analyses/s camera alike.

ByteTrack comes from Roboflow's ``trackers`` package: supervision (0.26+) moved its tracker there, and
it is numpy-only (no torch), which the edge image needs.

>>> import numpy as np
>>> from detector.detections import Detections
>>> det = Detections(xyxy=np.array([[10, 10, 50, 90]], np.float32), confidence=np.array([0.9], np.float32),
...                  class_id=np.array([0]), class_names=("bicycle",))
>>> trackers = CameraTrackers(frame_rates={"cam-01": 1.0, "cam-02": 2.0})
>>> for t in (0.0, 1.0):  # a new track gets its id on its second sighting
...     a = trackers.update("cam-01", det, t); b = trackers.update("cam-02", det, t)
>>> a.tracker_id.tolist(), b.tracker_id.tolist(), trackers.cameras(), trackers.frame_rate("cam-02")
([0], [0], ['cam-01', 'cam-02'], 2.0)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field
from trackers import ByteTrackTracker

from detector.detections import Detections


class TrackingConfig(BaseModel):
    """The ``tracking:`` section of edge.yaml: ByteTrack settings, in seconds where ByteTrack counts frames (the
    analysis rate is low and differs per camera; each camera's comes from its ``analysis_fps``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, title="Enabled", description="False: detections reach the rules without track ids")
    lost_track_buffer_s: float = Field(
        10.0, gt=0, title="Lost track buffer", description="Seconds a lost track is kept for re-association"
    )
    track_activation_threshold: float = Field(
        0.25, ge=0, le=1, title="Activation threshold", description="Minimum score to start a new track"
    )
    high_conf_det_threshold: float = Field(
        0.4, ge=0, le=1, title="High confidence", description="ByteTrack's first-stage (high score) threshold"
    )
    minimum_iou_threshold: float = Field(
        0.1, ge=0, le=1, title="Minimum IoU", description="Least overlap to match a detection to a track"
    )
    minimum_consecutive_frames: int = Field(
        1, ge=1, title="Confirmation frames", description="Frames before a track gets an id (1: at once)"
    )
    reset_after_gap_s: float = Field(
        120.0, gt=0, title="Reset after gap",
        description="A camera silent for longer than this starts with fresh tracks (e.g. after an outage)",
    )


class CameraTrackers:
    """ByteTrack state per camera and model class, created on first sight, stepping at that camera's analysis
    rate (``frame_rates[camera]``, else ``frame_rate``).

    Per class because ByteTrack itself matches boxes whatever their class: a person walking off where a bicycle
    stands handed the person's id to the bicycle, and the rules, which take a tracker id for one object, then
    counted the person's later readings as the bicycle's (its class vote failed and a parked bicycle on
    market-street-day never opened its episode). Ids are numbered per camera across classes and resets, so an
    id means one object of one class.
    """

    def __init__(self, config: TrackingConfig | None = None, *, frame_rates: Mapping[str, float] | None = None,
                 frame_rate: float = 1.0, **overrides: object) -> None:
        self.config = (config or TrackingConfig()).model_copy(update=overrides)
        self.frame_rates = dict(frame_rates or {})
        self.default_frame_rate = frame_rate
        if min([frame_rate, *self.frame_rates.values()]) <= 0:
            raise ValueError("tracker frame rates must be > 0")
        self._trackers: dict[str, dict[int, ByteTrackTracker]] = {}  # camera -> class id -> tracker
        self._last_pts: dict[str, float] = {}
        # camera -> (class id, ByteTrack's own id) -> the camera's id. A fresh ByteTrack numbers from 0 again;
        # a camera-wide counter keeps ids unique across classes and resets, so a new object after an outage is
        # never taken for the old one.
        self._ids: dict[str, dict[tuple[int, int], int]] = {}
        self._next_id: dict[str, int] = {}

    def frame_rate(self, camera_id: str) -> float:
        """Analysis frames per second of ``camera_id`` (what its lost-track budget is counted in)."""
        return self.frame_rates.get(camera_id, self.default_frame_rate)

    def _new_tracker(self, camera_id: str) -> ByteTrackTracker:
        c = self.config
        # Fixed-step mode, one step per analysed frame: the package's timestamp mode assumes 30 fps for its
        # lost-track budget (lost_track_buffer / 30 s), which would drop every track at 1 fps. frame_rate=30
        # makes its frame budget equal `lost_track_buffer` analysis steps.
        return ByteTrackTracker(
            lost_track_buffer=max(1, round(c.lost_track_buffer_s * self.frame_rate(camera_id))),
            frame_rate=30.0,
            track_activation_threshold=c.track_activation_threshold,
            minimum_consecutive_frames=c.minimum_consecutive_frames,
            minimum_iou_threshold=c.minimum_iou_threshold,
            high_conf_det_threshold=c.high_conf_det_threshold,
        )

    def cameras(self) -> list[str]:
        return sorted(self._trackers)

    def reset(self, camera_id: str | None = None) -> None:
        """Forget the tracks of one camera (or all); later ids still do not repeat earlier ones."""
        for cam in [camera_id] if camera_id else list(self._trackers):
            self._trackers.pop(cam, None)
            self._last_pts.pop(cam, None)
            self._ids.pop(cam, None)

    def update(self, camera_id: str, detections: Detections, pts_s: float) -> Detections:
        """Track ``detections`` of one camera at media time ``pts_s``; returns them in their input order with
        ``tracker_id`` filled: -1 for a detection seen for the first time (ByteTrack confirms a track on its
        second sighting) and for low-score detections that extend no track."""
        last = self._last_pts.get(camera_id)
        if last is not None and (pts_s < last or pts_s - last > self.config.reset_after_gap_s):
            self.reset(camera_id)  # time went backwards (new file) or a long outage: old tracks are stale
        trackers = self._trackers.setdefault(camera_id, {})
        ids_of = self._ids.setdefault(camera_id, {})
        self._last_pts[camera_id] = pts_s
        n = len(detections)
        class_ids = detections.class_id.astype(int)
        for cls in np.unique(class_ids):
            if int(cls) not in trackers:
                trackers[int(cls)] = self._new_tracker(camera_id)
        ids = np.full(n, -1, np.int64)
        xyxy = detections.xyxy.astype(np.float32).reshape(-1, 4)
        confidence = detections.confidence.astype(np.float32)
        for cls, tracker in trackers.items():  # every class steps every frame, so lost tracks age alike
            rows = np.flatnonzero(class_ids == cls)
            tracked = tracker.update(sv.Detections(xyxy=xyxy[rows], confidence=confidence[rows],
                                                   class_id=class_ids[rows], data={"_row": rows}))
            if not len(tracked) or tracked.tracker_id is None or "_row" not in tracked.data:
                continue
            for row, raw in zip(np.asarray(tracked.data["_row"], int), np.asarray(tracked.tracker_id, int),
                                strict=True):
                if raw < 0:
                    continue
                key = (cls, int(raw))
                if key not in ids_of:
                    ids_of[key] = self._next_id.get(camera_id, 0)
                    self._next_id[camera_id] = ids_of[key] + 1
                ids[row] = ids_of[key]
        return detections.with_tracker_ids(ids)
