"""The edge's camera reporter thread: per camera, health (online, frame age, analysis rate, decode errors,
reconnects, model) to ``PUT /api/v1/device/cameras/{camera}/health`` every ``report_every_s``, and a clean
(unannotated) current frame to ``PUT /api/v1/device/cameras/{camera}/picture`` at start, every
``picture_every_s`` and when the service answers a report with ``picture_requested``.

Not through the outbox: a health report is only worth its latest value, so a lost one is simply superseded by
the next (the service judges a camera offline by missed reports). Failures are logged once per outage and
never touch the analysis loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import yaml

from detector.health.config import HealthConfig

log = logging.getLogger("frontage.health")

HEALTH_PATH = "/api/v1/device/cameras/{camera}/health"
PICTURE_PATH = "/api/v1/device/cameras/{camera}/picture"
ZONES_PATH = "/api/v1/device/cameras/{camera}/zones.yaml"


@dataclass
class CameraSnapshot:
    """What the reporter needs of one camera at report time (taken by `EdgeRuntime` from its feeds)."""

    camera_id: str
    online: bool
    frames: int  # analysed frames so far (the rate is the difference between two reports)
    last_frame_age_s: float | None
    decode_errors: int
    reconnects: int
    last_error: str | None
    image: np.ndarray | None  # newest clean frame, BGR
    taken_at: datetime | None
    proposals: list[dict] = field(default_factory=list)  # commissioning: static objects for the operator


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class CameraReporter(threading.Thread):
    """Background reports of every camera; `report_now()` for an immediate round, `stop()` to end."""

    def __init__(self, service_url: str, device_key: str | None, config: HealthConfig,
                 snapshots: Callable[[], Sequence[CameraSnapshot]], model: Callable[[], tuple[str, str]],
                 *, timeout_s: float = 15.0, zones_files: dict[str, Path] | None = None) -> None:
        """``zones_files``: camera -> its local zones file, written when ``zones_from_service`` is on."""
        super().__init__(name="frontage-health", daemon=True)
        self.base = service_url.rstrip("/")
        self.config = config
        self.snapshots = snapshots
        self.model = model
        self.client = httpx.Client(timeout=timeout_s,
                                   headers={"Authorization": f"Bearer {device_key}"} if device_key else {})
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._last: dict[str, tuple[float, int]] = {}  # camera -> (monotonic time, frames) of the last report
        self._next_picture: dict[str, float] = {}
        self._failing = False
        self.zones_files = zones_files or {}
        self._zones_etag: dict[str, str] = {}
        self.zones_written = 0
        self.reports = 0
        self.pictures = 0

    def run(self) -> None:
        while not self._stopping.is_set():
            self.report_round()
            self._wake.wait(self.config.report_every_s)
            self._wake.clear()

    def report_now(self) -> None:
        self._wake.set()

    def stop(self, final: bool = True) -> None:
        """End the thread; ``final``: one last report with every camera offline (the edge is stopping)."""
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout=10)
        if final:
            self.report_round(stopping=True)
        self.client.close()

    def report_round(self, *, stopping: bool = False) -> None:
        try:
            snaps = list(self.snapshots())
        except Exception as exc:  # never let a report break the edge
            log.warning("camera health: cannot read the cameras: %s", exc)
            return
        for snap in snaps:
            if snap.image is None and snap.online is False and not snap.last_error and not stopping:
                continue  # still opening: neither up nor down yet (an alert now would be a false one)
            try:
                self._report(snap, stopping)
                if self._failing:
                    log.info("camera health reports delivered again")
                self._failing = False
            except (httpx.HTTPError, ValueError) as exc:
                if not self._failing:
                    log.warning("camera health report for %s not delivered (will retry): %s", snap.camera_id, exc)
                self._failing = True

    def _report(self, snap: CameraSnapshot, stopping: bool) -> None:
        now = time.monotonic()
        prev = self._last.get(snap.camera_id)
        rate = None
        if prev is not None and now > prev[0]:
            rate = round((snap.frames - prev[1]) / (now - prev[0]), 3)
        name, version = self.model()
        body = {"online": snap.online and not stopping, "last_frame_age_s": snap.last_frame_age_s,
                "analysis_fps": rate, "decode_errors": snap.decode_errors, "reconnects": snap.reconnects,
                "model_name": name, "model_version": version, "report_every_s": self.config.report_every_s,
                "last_error": "edge stopped" if stopping else (snap.last_error or None),
                "proposals": snap.proposals}
        r = self.client.put(self.base + HEALTH_PATH.format(camera=snap.camera_id), json=body)
        if r.status_code >= 400:
            raise ValueError(f"HTTP {r.status_code}: {r.text[:200]}")
        self._last[snap.camera_id] = (now, snap.frames)
        self.reports += 1
        requested = bool(r.json().get("picture_requested"))
        due = now >= self._next_picture.get(snap.camera_id, 0.0)
        never_sent = snap.camera_id not in self._next_picture  # a short file run still leaves its picture
        if snap.image is not None and (never_sent or (not stopping and (due or requested))):
            self._send_picture(snap)
            self._next_picture[snap.camera_id] = now + self.config.picture_every_s
        if self.config.zones_from_service and not stopping and snap.camera_id in self.zones_files:
            self._sync_zones(snap.camera_id)

    def _sync_zones(self, camera: str) -> None:
        """The service's zones file of ``camera`` over the local one, when it changed and is valid."""
        from detector.zones.schema import ZonesFileError, parse_zones

        etag = self._zones_etag.get(camera)
        r = self.client.get(self.base + ZONES_PATH.format(camera=camera),
                            headers={"If-None-Match": etag} if etag else {})
        if r.status_code == 304:
            return
        if r.status_code >= 400:
            raise ValueError(f"zones: HTTP {r.status_code}: {r.text[:200]}")
        path = self.zones_files[camera]
        try:
            parse_zones(yaml.safe_load(r.text), f"zones of {camera} from the service")
        except (ZonesFileError, yaml.YAMLError) as exc:  # never write a file the edge could not load
            log.error("camera %s: the service's zones file is not usable, keeping %s: %s", camera, path, exc)
            return
        self._zones_etag[camera] = r.headers.get("etag", "")
        if path.exists() and path.read_text(encoding="utf-8") == r.text:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(r.text, encoding="utf-8")
        os.replace(tmp, path)  # atomic: the zones watcher never reads half a file
        self.zones_written += 1
        log.info("camera %s: zones file updated from the service (%s)", camera, path)

    def _send_picture(self, snap: CameraSnapshot) -> None:
        assert snap.image is not None
        data = encode_jpeg(snap.image, self.config.jpeg_quality)
        taken = (snap.taken_at or datetime.now(UTC)).isoformat()
        r = self.client.put(self.base + PICTURE_PATH.format(camera=snap.camera_id), content=data,
                            headers={"Content-Type": "image/jpeg", "X-Taken-At": taken})
        if r.status_code >= 400:
            raise ValueError(f"picture: HTTP {r.status_code}: {r.text[:200]}")
        self.pictures += 1
