"""Per-camera analysis after the model: class map -> zones -> rules -> evidence -> `ViolationEvent`s.

Both pipelines use it: ``analyze`` (offline, one file, media time) and ``edge`` (live, many cameras).
The rule clock is ``Frame.pts_s`` (media seconds; for live cameras the sources make it the seconds since
the camera started, so it stays monotonic across reconnects); the times written into events are
``Frame.wall_time``-based.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from detector.classmap import ClassMap
from detector.detections import Detections
from detector.events import EventDetection, EventType, ModelInfo, ViolationEvent, episode_id
from detector.evidence import EvidenceWriter, FrameRing
from detector.evidence.privacy import privacy_boxes
from detector.frames import Frame
from detector.rules import EpisodeEvent, RuleEngine, drop_ridden
from detector.zones.known import known_mask
from detector.zones.polygon import polygon_pixels
from detector.zones.schema import ZonesFile

log = logging.getLogger("frontage.pipeline")


@dataclass
class Episode:
    """One episode as the offline analysis reports it."""

    camera: str
    zone: str
    merchant: str | None
    category: str
    start_s: float
    end_s: float | None = None
    started_at: datetime | None = None
    confidence: float = 0.0
    evidence: list[str] = field(default_factory=list)
    # what opened it, so a reviewer sees the object behind a (false) episode: the rules put it first
    opened_class: str | None = None
    opened_score: float | None = None
    opened_box: list[float] | None = None  # normalised xyxy (0-1 of the frame)

    def as_json(self) -> dict[str, object]:
        return {"camera": self.camera, "zone": self.zone, "merchant": self.merchant, "category": self.category,
                "start_s": round(self.start_s, 3), "end_s": None if self.end_s is None else round(self.end_s, 3),
                "opened_class": self.opened_class,
                "opened_score": None if self.opened_score is None else round(self.opened_score, 4),
                "opened_box": None if self.opened_box is None else [round(v, 4) for v in self.opened_box],
                "evidence": self.evidence}


@dataclass
class Emitted:
    """One event the analyzer produced, with its evidence files (part name -> path)."""

    episode: EpisodeEvent
    event: ViolationEvent
    files: dict[str, Path]


class CameraAnalyzer:
    """Everything after inference for one camera."""

    def __init__(self, camera_id: str, zones: ZonesFile, classmap: ClassMap, model: ModelInfo, *,
                 evidence: EvidenceWriter | None = None, clip_s: float = 0.0, device_id: str | None = None,
                 update_every_s: float | None = None, keep_episodes: bool = True,
                 privacy_detections: Callable[[Frame, Detections], Detections] | None = None) -> None:
        self.camera_id = camera_id
        self.zones = zones
        self.classmap = classmap
        self.model = model
        self.evidence = evidence
        self.device_id = device_id
        self.rules = RuleEngine(zones, camera=camera_id, update_every_s=update_every_s)
        self.known = [k for z in zones.zones for k in z.known_objects]
        self.update_every_s = update_every_s
        # classes whose boxes are parked vehicles unless someone rides them (bicycle, e_bike, COCO motorcycle)
        self.vehicle_classes = {n for n, c in classmap.classes.items() if c == "disorderly_parking"}
        self.ring = FrameRing(seconds=clip_s) if evidence is not None and clip_s > 0 else None
        self.episodes: dict[str, Episode] = {}  # the offline report; a long-running edge keeps none
        self.keep_episodes = keep_episodes
        self.frames = 0
        self._frame_detections = Detections.empty()
        # (frame, its detections) -> everyone to blur in its evidence: the batcher adds people outside a zone crop
        self.privacy_detections = privacy_detections

    def replace_zones(self, zones: ZonesFile) -> bool:
        """Use a changed zones file from the next frame on. Only known objects changed: the rules keep their
        episodes; anything else changed: new rules (open episodes start again). True when the rules were new."""
        def rules_part(z: ZonesFile) -> dict:
            return z.model_dump(exclude={"zones": {"__all__": {"known_objects"}}})

        renew = rules_part(zones) != rules_part(self.zones)
        self.zones = zones
        self.known = [k for z in zones.zones for k in z.known_objects]
        if renew:
            self.rules = RuleEngine(zones, camera=self.camera_id, update_every_s=self.update_every_s)
        return renew

    def process(self, frame: Frame, detections: Detections, inferred: bool = True) -> list[Emitted]:
        """Feed one analysed frame and the model's detections on it; returns the events it caused.

        ``inferred`` False: the gate skipped the model and ``detections`` are the last run's, held over; the
        rules let such a frame advance time without counting it as an observation (`RuleEngine.update`)."""
        self.frames += 1
        if self.ring is not None:
            self.ring.push(frame.pts_s, frame.image)
        categorised = self.classmap.apply(drop_ridden(detections, self.vehicle_classes), keep_ignored=True)
        if self.known and len(categorised):  # objects an operator said are not a violation here: never counted
            categorised = categorised[~known_mask(categorised.xyxy, categorised.data["category"], categorised.names,
                                                  self.known, frame.size, frame.image)]
        self._frame_detections = detections  # people and vehicles of this frame, for the evidence's blur boxes
        episode_events = self.rules.update(categorised, frame.pts_s, frame.wall_time, frame.size, image=frame.image,
                                           fresh=inferred)
        return [self._emit(e, frame) for e in episode_events]

    @property
    def wants_fresh(self) -> bool:
        """The last model run lost something the rules follow: the next frame should go through the model."""
        return self.rules.missing

    def _emit(self, ep: EpisodeEvent, frame: Frame) -> Emitted:
        eid = episode_id(ep.camera, ep.zone, ep.category, ep.started_at)
        files: dict[str, Path] = {}
        refs = []
        if self.evidence is not None and ep.type != EventType.CLEARED:
            zone = next(z for z in self.zones.zones if z.id == ep.zone)
            labels = [f"{n} {c:.2f}" for n, c in zip(ep.detections.names, ep.detections.confidence, strict=True)]
            header = f"{ep.camera}  {ep.zone}  {ep.category}  {ep.observed_at:%Y-%m-%d %H:%M:%S}Z"
            refs, files = self.evidence.write(
                camera=ep.camera, episode_id=eid, seq=ep.seq, image=frame.image,
                polygon_px=polygon_pixels(zone.polygon, frame.size),
                fixtures_px=[polygon_pixels(f, frame.size) for f in zone.fixtures],
                boxes=ep.detections.xyxy, labels=labels, header=header,
                ring=self.ring if ep.type == EventType.STARTED else None)
        w, h = frame.size
        scale = np.array([w, h, w, h], np.float32)
        dets = [
            EventDetection(class_name=str(n), category=str(ep.category), score=float(np.clip(c, 0, 1)),
                           box=[float(v) for v in np.clip(b / scale, 0, 1)],
                           track_id=None if ep.detections.tracker_id is None or t < 0 else int(t))
            for n, c, b, t in zip(ep.detections.names, ep.detections.confidence, ep.detections.xyxy,
                                  ep.detections.tracker_id if ep.detections.tracker_id is not None
                                  else np.full(len(ep.detections), -1), strict=True)
        ][:200]
        event = ViolationEvent.for_episode(
            type=ep.type, seq=ep.seq, camera=ep.camera, zone=ep.zone, merchant=ep.merchant,
            category=ep.category, started_at=ep.started_at, observed_at=ep.observed_at, ended_at=ep.ended_at,
            confidence=float(np.clip(ep.confidence, 0, 1)), detections=dets, evidence=refs,
            privacy_boxes=privacy_boxes(self.privacy_detections(frame, self._frame_detections)
                                        if self.privacy_detections is not None else self._frame_detections,
                                        ep.detections.xyxy, frame.size) if refs else None,
            frame_size=frame.size, model=self.model, device_id=self.device_id)
        if self.keep_episodes:
            self._record(ep, eid, files)
        return Emitted(ep, event, files)

    def _record(self, ep: EpisodeEvent, eid: str, files: dict[str, Path]) -> None:
        if ep.type == EventType.STARTED:
            rec = Episode(camera=ep.camera, zone=ep.zone, merchant=ep.merchant, category=ep.category,
                          start_s=ep.started_t, started_at=ep.started_at, confidence=ep.confidence,
                          evidence=[str(p) for p in files.values()])
            if len(ep.detections) and ep.frame_wh:
                w, h = ep.frame_wh
                rec.opened_class = str(ep.detections.names[0])
                rec.opened_score = float(ep.detections.confidence[0])
                rec.opened_box = [float(v) for v in np.clip(ep.detections.xyxy[0] / [w, h, w, h], 0, 1)]
            self.episodes[eid] = rec
        elif eid in self.episodes:
            rec = self.episodes[eid]
            rec.confidence = max(rec.confidence, ep.confidence)
            if ep.type == EventType.CLEARED:
                rec.end_s = ep.ended_t

