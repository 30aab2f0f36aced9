"""``frontage edge``: every camera of the box through one model, episodes into the outbox, outbox to the service.

One analysis loop (this thread) takes the newest frame of each camera that has one, asks the motion gate
whether it needs the model, runs the due frames of all cameras as batches through the one backend, then
per camera: tracker -> class map -> zones -> rules -> evidence -> `ViolationEvent` -> outbox (committed)
-> sender thread wakes. A frame the gate skips re-uses that camera's last detections at the new time, so
a still scene keeps its episodes alive without spending inference on it.

Cameras: streams (and files with ``realtime: true``) are `LiveCamera` threads with a latest-frame slot;
other files are read frame by frame, every analysis frame, as fast as the model goes. Each camera's
``keyframes`` / ``analysis_width`` / ``decoder_threads`` fields become its `DecodeOptions` (live cameras decode
with one thread each: with 40 decoders on two cores, more threads only add hand-offs); a new live frame wakes
the batcher. ``--exit-when-done``
needs every enabled camera to be a finite file: at their ends, open episodes stay open (no cleared event:
the scene did not clear, the recording ended), the outbox is drained (bounded wait) and the process exits.

The model file is watched (mtime and size every ``model_check_s``, then sha256): a new model is loaded next
to the running one and swapped in between two batches; a model that fails to load is logged and ignored.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from detector.classmap import ClassMap, classes_file_for
from detector.config import ConfigError, EdgeConfig
from detector.detections import Detections
from detector.events import ModelInfo
from detector.evidence import EvidenceWriter
from detector.frames import Frame
from detector.pipeline.analyzer import CameraAnalyzer
from detector.uplink import Outbox, Sender
from detector.zones.schema import ZonesFileError, load_zones

log = logging.getLogger("frontage.edge")


@dataclass
class CameraFeed:
    """One camera: where its frames come from and what happens to them."""

    id: str
    analyzer: CameraAnalyzer
    live: object | None = None  # LiveCamera
    frames: Iterator[Frame] | None = None  # file read frame by frame
    source: object | None = None
    done: bool = False
    last_detections: Detections | None = None
    stats: dict[str, int] = field(default_factory=lambda: {"frames": 0, "inferred": 0, "events": 0})

    @property
    def camera_id(self) -> str:
        return self.id

    def latest(self) -> Frame | None:
        """FrameProvider for the Batcher: the newest live frame, or a file's next frame."""
        return self.poll()

    def poll(self) -> Frame | None:
        if self.done:
            return None
        if self.frames is not None:
            try:
                return next(self.frames)
            except StopIteration:
                self.done = True
                return None
        frame = self.live.latest()  # type: ignore[union-attr]
        if frame is None and getattr(self.live, "finished", False):
            self.done = True
        return frame

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()  # type: ignore[attr-defined]
        if self.source is not None:
            self.source.close()  # type: ignore[attr-defined]


def _model_info(backend: object) -> ModelInfo:
    return ModelInfo(name=str(backend.name), version=str(backend.version)[:100],  # type: ignore[attr-defined]
                     sha256=getattr(backend, "sha256", None))


class EdgeRuntime:
    def __init__(self, cfg: EdgeConfig, *, exit_when_done: bool = False, drain_timeout_s: float = 60.0) -> None:
        self.cfg = cfg
        self.exit_when_done = exit_when_done
        self.drain_timeout_s = drain_timeout_s
        self._stop = threading.Event()
        self.feeds: list[CameraFeed] = []
        self.backend = None
        self._model_stamp: tuple[float, int] | None = None
        self._model_sha: str | None = None
        self._next_model_check = 0.0
        self.model_reloads = 0

    # -- set-up ------------------------------------------------------------------------------------
    def _check_cameras(self) -> list:
        from detector.sources import is_stream_url

        cameras = [c for c in self.cfg.cameras if c.enabled]
        if not cameras:
            raise ConfigError("no enabled camera in the config")
        if self.exit_when_done:
            for c in cameras:
                if is_stream_url(c.url) or c.loop:
                    raise ConfigError(f"--exit-when-done needs finite video files; camera {c.id!r} is "
                                      f"{'looped' if c.loop else 'a stream'}")
        zones = {}
        for c in cameras:
            try:
                zones[c.id] = load_zones(c.zones)
            except ZonesFileError as exc:
                raise ConfigError(f"camera {c.id!r}: {exc}") from None
        return [(c, zones[c.id]) for c in cameras]

    def _load_model(self):  # type: ignore[no-untyped-def]
        from detector.inference import load_backend

        backend = load_backend(self.cfg.model)
        self.classmap.bind(tuple(backend.class_names))
        return backend

    def _model_file_stamp(self) -> tuple[float, int] | None:
        try:
            st = Path(self.cfg.model.path).stat()
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def maybe_reload_model(self) -> bool:
        """Swap in a changed model file (checked every ``model_check_s``); True when swapped."""
        now = time.monotonic()
        if now < self._next_model_check:
            return False
        self._next_model_check = now + self.cfg.model_check_s
        stamp = self._model_file_stamp()
        if stamp is None or stamp == self._model_stamp:
            return False
        from detector.inference import file_sha256

        self._model_stamp = stamp
        sha = file_sha256(self.cfg.model.path)
        if sha == self._model_sha:
            return False
        try:
            backend = self._load_model()
        except Exception as exc:  # a half-copied or broken file: keep the running model
            log.error("model file %s changed but cannot be loaded, keeping the running model: %s",
                      self.cfg.model.path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return False
        self.backend = backend
        self._model_sha = sha
        self.model_reloads += 1
        info = _model_info(backend)
        for feed in self.feeds:
            feed.analyzer.model = info
        log.info("model reloaded: %s version %s sha256 %s", info.name, info.version, (info.sha256 or "")[:12])
        return True

    def _open_feeds(self, cameras: list) -> None:
        from detector.sources import is_stream_url, open_source
        from detector.sources.live import LiveCamera

        info = _model_info(self.backend)
        evidence = EvidenceWriter(self.cfg.evidence_dir, clip=self.cfg.clip_s > 0)
        for cam, zones in cameras:
            analyzer = CameraAnalyzer(cam.id, zones, self.classmap, info, evidence=evidence, clip_s=self.cfg.clip_s,
                                      device_id=self.cfg.device_id, update_every_s=self.cfg.update_every_s,
                                      keep_episodes=False)
            feed = CameraFeed(id=cam.id, analyzer=analyzer)
            stream = is_stream_url(cam.url)
            if stream or cam.realtime:
                # a stream's frames are "now"; start_time only places a file played like a camera
                feed.live = LiveCamera(cam.url, cam.id, cam.analysis_fps, loop=cam.loop, pace=True,
                                       decode=cam.decode_options(),
                                       start_time=None if stream else self.cfg.start_time)
                feed.live.on_frame = self.batcher.wake  # a new frame ends the batcher's wait at once
                feed.live.start()
            else:
                feed.source = open_source(cam.url, cam.id, analysis_fps=cam.analysis_fps, realtime=False,
                                          loop=cam.loop, decode=cam.decode_options(), start_time=self.cfg.start_time)
                feed.frames = iter(feed.source.frames())  # type: ignore[attr-defined]
            self.feeds.append(feed)

    # -- the loop ----------------------------------------------------------------------------------
    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        cameras = self._check_cameras()
        from detector.inference import load_backend

        backend = load_backend(self.cfg.model)  # a missing model is the first thing to report
        self.classmap = ClassMap.load(self.cfg.classes or classes_file_for(self.cfg.model.path))
        self.classmap.bind(tuple(backend.class_names))
        self.backend = backend
        self._model_stamp = self._model_file_stamp()
        self._model_sha = getattr(self.backend, "sha256", None)
        self._next_model_check = time.monotonic() + self.cfg.model_check_s
        from detector import metrics

        self.outbox = Outbox(self.cfg.outbox, on_depth=metrics.OUTBOX_DEPTH.set, on_dead=metrics.OUTBOX_DEAD.set)
        self.outbox.prune()  # delivered rows older than a week: their keys cannot come back any more
        if self.cfg.metrics_port:
            metrics.start_metrics_server(self.cfg.metrics_port)
        key = self.cfg.key()
        if not key:
            log.warning("no device key (set %s or device_key): the service will refuse the events",
                        self.cfg.device_key_env)
        up = self.cfg.uplink
        self.sender = Sender(self.outbox, self.cfg.service_url, key, timeout_s=up.timeout_s,
                             base_backoff_s=up.retry_initial_s, max_backoff_s=up.retry_max_s, batch_size=up.batch_size)
        self.sender.start()
        from detector.batching import Batcher
        from detector.gating import MotionGateConfig
        from detector.tracking import CameraTrackers

        gating = self.cfg.gating
        self.batcher = Batcher(
            self.backend, max_batch=min(self.cfg.batch.max_batch, getattr(self.backend, "max_batch", 8) or 8),
            max_wait_ms=self.cfg.batch.max_wait_ms,
            gate=MotionGateConfig(enabled=gating.enabled, changed_fraction=gating.threshold, max_skip_s=gating.max_skip_s),
            trackers=CameraTrackers(), poll_s=0.05)  # live cameras wake the batcher (_open_feeds); files always have a frame
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        try:
            self._open_feeds(cameras)
            log.info("edge %s running: %d camera(s), model %s, outbox %s", self.cfg.device_id, len(self.feeds),
                     self.backend.name, self.cfg.outbox)
            by_id = {feed.id: feed for feed in self.feeds}
            next_health = time.monotonic() + 10.0
            while not self._stop.is_set():
                if time.monotonic() >= next_health:
                    next_health = time.monotonic() + 30.0
                    self._log_health()
                if self.maybe_reload_model():
                    self.batcher.backend = self.backend
                active = [feed for feed in self.feeds if not feed.done]
                if not active:
                    break
                for result in self.batcher.step(active, timeout=0.2):
                    self._handle(by_id[result.frame.camera_id], result.frame, result.detections)
        finally:
            for feed in self.feeds:
                feed.close()
        return self._finish()

    def _log_health(self) -> None:
        """One line per live camera that is down (they reconnect by themselves; this says why they are down)."""
        for feed in self.feeds:
            stats = getattr(feed.live, "stats", None)
            if stats is not None and not stats.healthy and not feed.done:
                log.warning("camera %s is down (%d reconnects): %s", feed.id, stats.reconnects, stats.last_error)

    def _handle(self, feed: CameraFeed, frame: Frame, detections: Detections) -> None:
        feed.stats["frames"] += 1
        for emitted in feed.analyzer.process(frame, detections):
            self.outbox.put(emitted.event, emitted.files)  # committed before anything else happens
            feed.stats["events"] += 1
            log.info("%s %s zone=%s category=%s started_at=%s", emitted.event.type, feed.id, emitted.event.zone,
                     emitted.event.category, emitted.event.started_at.isoformat())
            self.sender.wake()

    def _finish(self) -> int:
        open_eps = [s for feed in self.feeds for s in feed.analyzer.rules.open_episodes()]
        if open_eps:
            log.info("%d episode(s) still open at the end (no cleared event sent)", len(open_eps))
        drained = self.sender.drain(self.drain_timeout_s if self.exit_when_done else min(5.0, self.drain_timeout_s))
        self.sender.stop()
        counts = self.outbox.counts()
        self.outbox.close()
        log.info("outbox: %s", counts)
        if self.exit_when_done and not drained:
            log.error("outbox not delivered within %.0f s (%d pending; last error: %s)", self.drain_timeout_s,
                      counts["pending"], self.sender.last_error)
            return 3
        return 0
