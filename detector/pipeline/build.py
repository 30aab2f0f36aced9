"""The one pipeline: `build_pipeline` turns a `PipelineConfig` (an `EdgeConfig` is one) into

    feeds -> Batcher (motion gate, model, one ByteTrack per camera) -> CameraAnalyzer (class map, zones, rules,
    evidence) -> a sink

``frontage edge`` gives it the box's cameras and the outbox sink (`detector.pipeline.live`); ``frontage
analyze`` gives it one file camera and a report sink (`detector.pipeline.offline`). Both therefore run the
same gating, tracking and rules, and the figures measured with ``analyze`` are the edge's.

Feeds: streams and files with ``realtime: true`` are `LiveCamera` threads (latest-frame slot, reconnects);
other files are `FileCamera`s read frame by frame, every analysis frame, as fast as the model goes. A
camera that cannot be read is reported and retried with backoff; it never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from detector.batching import Batcher
from detector.classmap import ClassMap, classes_file_for
from detector.config import CameraConfig, ConfigError, PipelineConfig
from detector.detections import Detections
from detector.events import ModelInfo
from detector.evidence import EvidenceWriter
from detector.frames import Frame
from detector.inference import Backend, load_backend
from detector.pipeline.analyzer import CameraAnalyzer, Emitted
from detector.sources import AnalysisCadence, SourceStats, is_stream_url
from detector.sources.files import FileCamera
from detector.sources.live import LiveCamera
from detector.tracking import CameraTrackers
from detector.zones.schema import ZonesFile, ZonesFileError, load_zones

log = logging.getLogger("frontage.pipeline")


class Sink(Protocol):
    """Where the analysers' events go: the edge's outbox, or the offline report."""

    def emit(self, feed: CameraFeed, emitted: Emitted) -> None: ...


@dataclass
class FeedCounts:
    """What one camera's frames went through (logged by the edge at the end, written by ``analyze``)."""

    frames: int = 0  # frames that reached the rules
    inferred: int = 0  # of them, through the model
    gated: int = 0  # of them, skipped by the motion gate (the camera's last detections re-used)
    events: int = 0
    track_ids: set[int] = field(default_factory=set)  # tracker ids seen in the detections the rules got

    def as_json(self) -> dict[str, int]:
        return {"frames": self.frames, "frames_inferred": self.inferred, "frames_gated": self.gated,
                "events": self.events, "track_ids": len(self.track_ids)}


@dataclass
class CameraFeed:
    """One camera: where its frames come from (a `LiveCamera` or a `FileCamera`) and its analyser."""

    config: CameraConfig
    analyzer: CameraAnalyzer
    camera: LiveCamera | FileCamera
    cadence: AnalysisCadence | None = None  # its analysis interval, stretched while the picture is unchanged
    counts: FeedCounts = field(default_factory=FeedCounts)
    done: bool = False

    @property
    def camera_id(self) -> str:
        return self.config.id

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def live(self) -> LiveCamera | None:
        """The camera's thread when it is a live one (streams, files played in real time)."""
        return self.camera if isinstance(self.camera, LiveCamera) else None

    @property
    def stats(self) -> SourceStats:
        return self.camera.stats

    @property
    def failed(self) -> bool:
        """A file camera that gave up (``max_attempts`` failed opens/reads)."""
        return isinstance(self.camera, FileCamera) and self.camera.failed

    def latest(self) -> Frame | None:
        """FrameProvider for the Batcher: the newest live frame, or a file's next frame."""
        if self.done:
            return None
        frame = self.camera.latest()
        if frame is None and self.camera.finished:
            self.done = True
        return frame

    def close(self) -> None:
        self.camera.stop()


def load_model(cfg: PipelineConfig) -> tuple[Backend, ClassMap]:
    """The backend and its bound class map (every model class must be mapped: fails before any decoding)."""
    backend = load_backend(cfg.model)
    classmap = ClassMap.load(cfg.classes or classes_file_for(cfg.model.path))
    classmap.bind(tuple(backend.class_names))
    return backend, classmap


def model_info(backend: Backend) -> ModelInfo:
    return ModelInfo(name=str(backend.name), version=str(backend.version)[:100], sha256=backend.sha256)


def load_camera_zones(cfg: PipelineConfig) -> list[tuple[CameraConfig, ZonesFile]]:
    """The enabled cameras with their zones; a bad zones file is a config error naming the camera."""
    cameras = [c for c in cfg.cameras if c.enabled]
    if not cameras:
        raise ConfigError("no enabled camera in the config")
    out = []
    for cam in cameras:
        try:
            out.append((cam, load_zones(cam.zones)))
        except ZonesFileError as exc:
            raise ConfigError(f"camera {cam.id!r}: {exc}") from None
    return out


class Pipeline:
    """The built pipeline. ``step()`` runs one batch round; ``run()`` loops until every feed is done."""

    def __init__(self, cfg: PipelineConfig, backend: Backend, classmap: ClassMap, batcher: Batcher,
                 feeds: list[CameraFeed], sink: Sink) -> None:
        self.cfg = cfg
        self.backend = backend
        self.classmap = classmap
        self.batcher = batcher
        self.feeds = feeds
        self.sink = sink
        # called with (feed, frame, detections) for every frame before its rules run (progress bars, timing)
        self.on_frame: Callable[[CameraFeed, Frame, Detections], None] | None = None
        self._by_id = {feed.camera_id: feed for feed in feeds}

    @property
    def active(self) -> list[CameraFeed]:
        return [feed for feed in self.feeds if not feed.done]

    def step(self, timeout: float = 0.2) -> bool:
        """One collect + infer round over the feeds not done yet; False once all are done."""
        active = self.active
        if not active:
            return False
        for result in self.batcher.step(active, timeout=timeout):
            feed = self._by_id[result.frame.camera_id]
            self._count(feed, result.detections, result.inferred)
            if feed.cadence is not None:  # before the camera's next frame is read (files: deterministic)
                feed.cadence.observe(result.frame.pts_s, result.inferred, result.detections)
            if self.on_frame is not None:
                self.on_frame(feed, result.frame, result.detections)
            for emitted in feed.analyzer.process(result.frame, result.detections, result.inferred):
                feed.counts.events += 1
                self.sink.emit(feed, emitted)
            if feed.analyzer.wants_fresh:  # a run lost a thing in a zone: look again rather than hold "absent"
                self.batcher.verify(feed.camera_id)
        return True

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not should_stop() and self.step():
            pass

    @staticmethod
    def _count(feed: CameraFeed, detections: Detections, inferred: bool) -> None:
        c = feed.counts
        c.frames += 1
        if inferred:
            c.inferred += 1
        else:
            c.gated += 1
        if detections.tracker_id is not None:
            c.track_ids.update(int(t) for t in detections.tracker_id if t >= 0)

    def swap_model(self, backend: Backend) -> None:
        """Run ``backend`` from the next batch on (the class map must already be bound to its classes)."""
        self.backend = backend
        self.batcher.backend = backend
        info = model_info(backend)
        for feed in self.feeds:
            feed.analyzer.model = info

    def close(self) -> None:
        for feed in self.feeds:
            feed.close()


def build_pipeline(
    cfg: PipelineConfig,
    sink: Sink,
    *,
    model: tuple[Backend, ClassMap] | None = None,
    cameras: Sequence[tuple[CameraConfig, ZonesFile]] | None = None,
    device_id: str | None = None,
    keep_episodes: bool = False,
    file_attempts: int | None = None,
    poll_s: float = 0.05,
) -> Pipeline:
    """Turn ``cfg`` into a running pipeline (live cameras started) that sends its events to ``sink``.

    ``model``: an already loaded (backend, bound class map), else loaded from ``cfg``; ``cameras``: already
    checked (camera, zones) pairs, else `load_camera_zones`. ``device_id`` goes into each event;
    ``keep_episodes``: the analysers keep the episode list (the offline report; a long-running edge keeps none).
    ``file_attempts``: how often an unreadable file camera is tried before it is given up (None: for ever,
    like a stream). ``poll_s``: the batcher's look-again interval when no camera wakes it (live cameras do).
    """
    cameras = list(cameras) if cameras is not None else load_camera_zones(cfg)
    backend, classmap = model or load_model(cfg)
    info = model_info(backend)
    evidence = EvidenceWriter(cfg.evidence_dir, clip=cfg.clip_s > 0) if cfg.evidence_dir is not None else None
    trackers = (CameraTrackers(cfg.tracking, frame_rates={cam.id: cam.analysis_fps for cam, _ in cameras})
                if cfg.tracking.enabled else None)
    batcher = Batcher(backend, cfg.batch, gate=cfg.gating, trackers=trackers, poll_s=poll_s)
    feeds: list[CameraFeed] = []
    try:
        for cam, zones in cameras:
            analyzer = CameraAnalyzer(cam.id, zones, classmap, info, evidence=evidence, clip_s=cfg.clip_s,
                                      device_id=device_id, update_every_s=cfg.update_every_s,
                                      keep_episodes=keep_episodes, privacy_detections=batcher.privacy_detections)
            # zone crop: the region follows the analyser's zones (the edge replaces them when the file changes)
            batcher.follow_zones(cam.id, lambda analyzer=analyzer: analyzer.zones)
            stream = is_stream_url(cam.url)
            cadence = (AnalysisCadence(cam.analysis_fps, cam.adaptive_interval, zones=lambda a=analyzer: a.zones)
                       if cam.adaptive_interval.enabled else None)
            camera: LiveCamera | FileCamera
            if cam.realtime or (stream and cam.realtime is None):
                # a stream's frames are "now"; start_time only places a file played like a camera
                camera = LiveCamera(cam.url, cam.id, cam.analysis_fps, loop=cam.loop, pace=True,
                                    decode=cam.decode_options(), start_time=None if stream else cfg.start_time,
                                    cadence=cadence)
                camera.on_frame = batcher.wake  # a new frame ends the batcher's wait at once
                camera.start()
            else:
                camera = FileCamera(cam.url, cam.id, cam.analysis_fps, decode=cam.decode_options(), loop=cam.loop,
                                    start_time=cfg.start_time, max_attempts=file_attempts, cadence=cadence)
            feeds.append(CameraFeed(config=cam, analyzer=analyzer, camera=camera, cadence=cadence))
    except BaseException:
        for feed in feeds:
            feed.close()
        raise
    return Pipeline(cfg, backend, classmap, batcher, feeds, sink)
