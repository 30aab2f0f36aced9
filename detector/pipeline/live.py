"""``frontage edge``: every camera of the box through one model, episodes into the outbox, outbox to the service.

The pipeline is `detector.pipeline.build`'s, the same one ``frontage analyze`` runs: one analysis loop (this
thread) takes the newest frame of each camera that has one, asks the motion gate whether it needs the model,
runs the due frames of all cameras as batches through the one backend, then per camera: tracker -> class
map -> zones -> rules -> evidence -> `ViolationEvent` -> here the outbox sink (committed) -> sender thread
wakes. A frame the gate skips re-uses that camera's last detections at the new time, so a still scene keeps
its episodes alive without spending inference on it.

Cameras: streams (and files with ``realtime: true``) are `LiveCamera` threads with a latest-frame slot;
other files are read frame by frame, every analysis frame, as fast as the model goes. A camera that cannot
be read (a dead URL, a corrupt file) is reported and retried with backoff while the others run; with
``--exit-when-done`` a file is given up after ``FILE_ATTEMPTS`` tries and the exit code is 4. Each camera's
``keyframes`` / ``analysis_width`` / ``decoder_threads`` fields become its `DecodeOptions` (live cameras decode
with one thread each: with 40 decoders on two cores, more threads only add hand-offs); a new live frame wakes
the batcher. A camera whose picture stays unchanged is analysed less often (``adaptive_interval``,
`detector.sources.cadence`: the pipeline tells each camera's cadence what the gate and the model saw, its
decode thread then leaves the keyframes it no longer needs undecoded). ``--exit-when-done``
needs every enabled camera to be a finite file: at their ends, open episodes stay open (no cleared event:
the scene did not clear, the recording ended), the outbox is drained (bounded wait) and the process exits.

The model file is watched (mtime and size every ``model_check_s``, then sha256): a new model is loaded next
to the running one and swapped in between two batches; a model that fails to load is logged and ignored.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path

from detector.batching import Batcher
from detector.config import ConfigError, EdgeConfig
from detector.detections import Detections
from detector.frames import Frame
from detector.health.commission import Commissioner
from detector.health.reporter import CameraReporter, CameraSnapshot
from detector.pipeline.analyzer import Emitted
from detector.pipeline.build import (
    CameraFeed,
    Pipeline,
    build_pipeline,
    load_camera_zones,
    load_model,
    model_info,
)
from detector.uplink import Outbox, Sender
from detector.zones.schema import ZonesFileError, load_zones

log = logging.getLogger("frontage.edge")

FILE_ATTEMPTS = 3  # --exit-when-done: tries of an unreadable file camera (0.5 + 1 s of backoff) before giving up
EXIT_CAMERA_FAILED = 4  # --exit-when-done: the readable cameras ran and were delivered, some camera could not be read


class OutboxSink:
    """The edge's sink: each event committed to the durable outbox, then the sender woken."""

    def __init__(self, outbox: Outbox, sender: Sender) -> None:
        self.outbox = outbox
        self.sender = sender

    def emit(self, feed: CameraFeed, emitted: Emitted) -> None:
        self.outbox.put(emitted.event, emitted.files)  # committed before anything else happens
        log.info("%s %s zone=%s category=%s started_at=%s", emitted.event.type, feed.camera_id, emitted.event.zone,
                 emitted.event.category, emitted.event.started_at.isoformat())
        self.sender.wake()


class EdgeRuntime:
    def __init__(self, cfg: EdgeConfig, *, exit_when_done: bool = False, drain_timeout_s: float = 60.0) -> None:
        self.cfg = cfg
        self.exit_when_done = exit_when_done
        self.drain_timeout_s = drain_timeout_s
        self._stop = threading.Event()
        self.pipeline: Pipeline | None = None
        self.backend = None
        self._model_stamp: tuple[float, int] | None = None
        self._model_sha: str | None = None
        self._next_model_check = 0.0
        self.model_reloads = 0
        # newest clean frame of each camera and when it was analysed (monotonic): the health reporter's picture
        self._newest: dict[str, tuple[Frame, float]] = {}
        self.reporter: CameraReporter | None = None
        self._zones_stamps: dict[str, tuple[float, int]] = {}  # camera -> zones file (mtime, size) in use
        self._next_zones_check = 0.0
        self.zones_reloads = 0
        self._commission: dict[str, Commissioner] = {}

    @property
    def feeds(self) -> list[CameraFeed]:
        return self.pipeline.feeds if self.pipeline is not None else []

    @property
    def batcher(self) -> Batcher | None:
        return self.pipeline.batcher if self.pipeline is not None else None

    def _on_frame(self, feed: CameraFeed, frame: Frame, detections: Detections) -> None:
        self._newest[feed.camera_id] = (frame, time.monotonic())  # a reference only: frames are not reused
        commissioner = self._commission.get(feed.camera_id)
        if commissioner is not None and commissioner.watching(frame.pts_s):
            commissioner.observe(frame.pts_s, feed.analyzer.classmap.apply(detections, keep_ignored=True),
                                 frame.size, frame.image)
        self._handle(feed, frame, detections)

    def camera_snapshots(self) -> list[CameraSnapshot]:
        """Each camera as the health reporter sends it (read from the reporter's thread: values only)."""
        out = []
        now = time.monotonic()
        for feed in list(self.feeds):
            newest = self._newest.get(feed.camera_id)
            age = None if newest is None else round(now - newest[1], 3)
            stats = feed.stats
            online = (stats.healthy and not feed.done and newest is not None
                      and (age or 0.0) <= self.cfg.health.stale_frame_s)
            out.append(CameraSnapshot(
                camera_id=feed.camera_id, online=online, frames=feed.counts.frames, last_frame_age_s=age,
                decode_errors=stats.decode_errors, reconnects=stats.reconnects, last_error=stats.last_error,
                image=None if newest is None else newest[0].image,
                taken_at=None if newest is None else newest[0].wall_time,
                proposals=self._commission[feed.camera_id].proposals() if feed.camera_id in self._commission else []))
        return out

    def _model_name_version(self) -> tuple[str, str]:
        info = model_info(self.backend) if self.backend is not None else None
        return (info.name, info.version) if info is not None else ("", "")

    def _handle(self, feed: CameraFeed, frame: Frame, detections: Detections) -> None:
        """Called for every analysed frame just before its rules run (a hook: bench/streams.py times it)."""

    # -- set-up ------------------------------------------------------------------------------------
    def _check_cameras(self) -> list:
        from detector.sources import is_stream_url

        cameras = load_camera_zones(self.cfg)
        if self.exit_when_done:
            for c, _ in cameras:
                if (is_stream_url(c.url) and c.realtime is not False) or c.loop:
                    raise ConfigError(f"--exit-when-done needs finite video files; camera {c.id!r} is "
                                      f"{'looped' if c.loop else 'a stream'}")
        return cameras

    def _load_model(self):  # type: ignore[no-untyped-def]
        """A (re)loaded backend, the running class map bound to its classes (the analysers share that map)."""
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
        if self.pipeline is not None:
            self.pipeline.swap_model(backend)
        info = model_info(backend)
        log.info("model reloaded: %s version %s sha256 %s", info.name, info.version, (info.sha256 or "")[:12])
        return True

    def maybe_reload_zones(self) -> int:
        """Use changed zones files (mtime and size, checked every ``model_check_s``) without a restart; a file
        that does not load is logged and the running zones are kept. Returns how many cameras took new zones."""
        now = time.monotonic()
        if now < self._next_zones_check:
            return 0
        self._next_zones_check = now + self.cfg.model_check_s
        changed = 0
        for feed in self.feeds:
            path = Path(feed.config.zones)
            try:
                st = path.stat()
                stamp = (st.st_mtime, st.st_size)
            except OSError:
                continue
            known = self._zones_stamps.setdefault(feed.camera_id, stamp)
            if stamp == known:
                continue
            self._zones_stamps[feed.camera_id] = stamp
            try:
                zones = load_zones(path)
            except ZonesFileError as exc:
                log.error("camera %s: zones file changed but cannot be used, keeping the running zones: %s",
                          feed.camera_id, exc)
                continue
            renewed = feed.analyzer.replace_zones(zones)
            if renewed and feed.camera_id in self._commission:  # changed zones: commission them again
                self._commission[feed.camera_id].restart(zones)
            changed += 1
            self.zones_reloads += 1
            log.info("camera %s: zones reloaded (%d zones, %d known objects%s)", feed.camera_id, len(zones.zones),
                     len(feed.analyzer.known), "; rules restarted" if renewed else "")
        return changed

    # -- the loop ----------------------------------------------------------------------------------
    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        cameras = self._check_cameras()
        self.backend, self.classmap = load_model(self.cfg)  # a missing model is the first thing to report
        self._model_stamp = self._model_file_stamp()
        self._model_sha = self.backend.sha256
        self._next_model_check = time.monotonic() + self.cfg.model_check_s
        from detector import metrics

        self.outbox = Outbox(self.cfg.outbox, on_depth=metrics.OUTBOX_DEPTH.set, on_dead=metrics.OUTBOX_DEAD.set)
        self.outbox.prune()  # delivered rows older than a week: their keys cannot come back any more
        if self.cfg.metrics_port:
            metrics.start_metrics_server(self.cfg.metrics_port, self.cfg.metrics_host)
        key = self.cfg.key()
        if not key:
            log.warning("no device key (set %s or device_key): the service will refuse the events",
                        self.cfg.device_key_env)
        up = self.cfg.uplink
        self.sender = Sender(self.outbox, self.cfg.service_url, key, up)
        self.sender.start()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        try:
            self.pipeline = build_pipeline(
                self.cfg, OutboxSink(self.outbox, self.sender), model=(self.backend, self.classmap), cameras=cameras,
                device_id=self.cfg.device_id, file_attempts=FILE_ATTEMPTS if self.exit_when_done else None)
            self.pipeline.on_frame = self._on_frame
            for feed in self.feeds:  # the zones files as loaded: a later change is picked up without a restart
                with contextlib.suppress(OSError):
                    st = Path(feed.config.zones).stat()
                    self._zones_stamps[feed.camera_id] = (st.st_mtime, st.st_size)
            self._next_zones_check = time.monotonic() + self.cfg.model_check_s
            if self.cfg.health.enabled and self.cfg.health.commission_s > 0:
                self._commission = {f.camera_id: Commissioner(f.analyzer.zones, window_s=self.cfg.health.commission_s,
                                                              min_static_s=self.cfg.health.commission_static_s)
                                    for f in self.feeds}
            if self.cfg.health.enabled:
                self.reporter = CameraReporter(self.cfg.service_url, key, self.cfg.health, self.camera_snapshots,
                                               self._model_name_version, timeout_s=up.timeout_s,
                                               zones_files={f.camera_id: Path(f.config.zones) for f in self.feeds})
                self.reporter.start()
            log.info("edge %s running: %d camera(s), model %s, outbox %s", self.cfg.device_id, len(self.feeds),
                     self.backend.name, self.cfg.outbox)
            next_health = time.monotonic() + 10.0
            while not self._stop.is_set():
                if time.monotonic() >= next_health:
                    next_health = time.monotonic() + 30.0
                    self._log_health()
                self.maybe_reload_model()
                self.maybe_reload_zones()
                if not self.pipeline.step(timeout=0.2):
                    break
        finally:
            if self.reporter is not None:
                self.reporter.stop(final=True)  # the service sees the cameras go offline at once
            if self.pipeline is not None:
                self.pipeline.close()
        return self._finish()

    def _log_health(self) -> None:
        """One line per camera that is down (they retry by themselves; this says why they are down)."""
        for feed in self.feeds:
            if not feed.stats.healthy and not feed.done:
                log.warning("camera %s is down (%d reconnects): %s", feed.camera_id, feed.stats.reconnects,
                            feed.stats.last_error)

    def _finish(self) -> int:
        for feed in self.feeds:
            c = feed.counts
            log.info("camera %s: %d frames (%d inferred, %d gated), %d tracker ids, %d events, %d keyframes not "
                     "decoded", feed.camera_id, c.frames, c.inferred, c.gated, len(c.track_ids), c.events,
                     feed.stats.keyframes_skipped)
        failed = [feed for feed in self.feeds if feed.failed]
        for feed in failed:
            log.error("camera %s could not be read (%d tries): %s", feed.camera_id, FILE_ATTEMPTS,
                      feed.stats.last_error)
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
        if self.exit_when_done and failed:
            return EXIT_CAMERA_FAILED
        return 0
