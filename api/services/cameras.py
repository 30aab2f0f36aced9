"""Camera health and pictures: the edge's reports stored, alerts raised and cleared, the current picture.

Alerts (one per camera at a time, ``CameraHealth.alert``): ``offline`` when the edge says it cannot read the
camera or when three report intervals pass without a report (`sweep_stale`, run by the scheduler: an edge
that is switched off sends nothing); ``view_changed`` when a new picture no longer looks like the camera's
reference picture (its first one): a covered lens or a camera knocked off its angle. Raising one writes a
notification to the outbox (`api.notify.enqueue`, kind ``camera_offline`` / ``camera_view_changed``);
clearing one writes ``camera_recovered``. Offline outranks view_changed.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api import notify
from api.core.config import Settings
from api.db.models import Camera, CameraHealth, CameraPicture, EdgeDevice
from api.evidence import check_file
from api.schemas.camera_health import CameraHealthPublic, CameraHealthReport, CameraPicturePublic
from api.services.errors import Forbidden, NotFound

MISSED_REPORTS = 3  # a camera is offline after this many report intervals without a report
MIN_STALE_S = 60.0
# Likeness of a picture to the reference under which the view has changed. Measured on the four sample clips:
# the same view 20-80 s later 0.80-0.97 (0.79 at half the brightness), the camera shifted by 5 % of the width
# 0.41-0.59, by 10 % 0.25-0.50, pointed elsewhere (lower-right 3/4) -0.03-0.10.
VIEW_CHANGED_BELOW = 0.65
PICTURES_KEPT = 5  # per camera, besides the reference
OFFLINE, VIEW_CHANGED = "offline", "view_changed"


def camera_for_device(session: Session, device: EdgeDevice, code: str) -> Camera:
    camera = session.scalar(select(Camera).where(Camera.code == code))
    if camera is None:
        raise NotFound(f"camera '{code}' not found")
    if not any(c.id == camera.id for c in device.cameras):
        raise Forbidden(f"device '{device.name}' may not report for camera '{code}'")
    return camera


def _raise_alert(session: Session, settings: Settings, now: datetime, camera: Camera, row: CameraHealth,
                 alert: str, reason: str) -> None:
    if row.alert == alert or (row.alert == OFFLINE and alert == VIEW_CHANGED):
        return
    row.alert, row.alert_since = alert, now
    notify.enqueue(session, settings, now, case=None, kind=f"camera_{alert}", recipient="operators", target=None,
                   payload={"camera": camera.code, "alert": alert, "reason": reason, "at": now.isoformat()})


def _clear_alert(session: Session, settings: Settings, now: datetime, camera: Camera, row: CameraHealth,
                 alert: str) -> None:
    if row.alert != alert:
        return
    row.alert, row.alert_since = None, None
    notify.enqueue(session, settings, now, case=None, kind="camera_recovered", recipient="operators", target=None,
                   payload={"camera": camera.code, "cleared": alert, "at": now.isoformat()})


def record_report(session: Session, settings: Settings, now: datetime, device: EdgeDevice, camera: Camera,
                  report: CameraHealthReport) -> bool:
    """Store the report, raise or clear the offline alert; True when an operator asked for a picture."""
    row = session.get(CameraHealth, camera.id)
    if row is None:
        row = CameraHealth(camera_id=camera.id, decode_errors=0, reconnects=0, reported_at=now, online=False,
                           report_every_s=report.report_every_s)
        session.add(row)
    row.device_id = device.id
    row.reported_at = now
    for field in ("online", "last_frame_age_s", "analysis_fps", "decode_errors", "reconnects", "model_name",
                  "model_version", "report_every_s", "last_error"):
        setattr(row, field, getattr(report, field))
    row.proposals = [p.model_dump(mode="json") for p in report.proposals] or None
    if report.online:
        _clear_alert(session, settings, now, camera, row, OFFLINE)
    else:
        _raise_alert(session, settings, now, camera, row, OFFLINE, report.last_error or "the edge cannot read it")
    requested = row.picture_requested_at is not None
    return requested


def _thumbnail(data: bytes) -> tuple[np.ndarray, float]:
    """(edge strength of a small grey picture, grey spread): edges are where the street's kerbs and shop
    fronts are, so passing people and the light of the day barely move them, and a new angle moves them all."""
    from PIL import Image, ImageFilter

    with Image.open(io.BytesIO(data)) as img:
        grey = np.asarray(img.convert("L").resize((96, 54)).filter(ImageFilter.GaussianBlur(1.0)), np.float32)
    return np.hypot(np.diff(grey, axis=1)[:-1], np.diff(grey, axis=0)[:, :-1]), float(grey.std())


def view_likeness(reference: bytes, picture: bytes) -> float:
    """Normalised cross-correlation of the two edge maps (1 same view; a uniform picture, a covered lens, 0)."""
    (a, _), (b, spread) = _thumbnail(reference), _thumbnail(picture)
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom < 1e-6 or spread < 3.0:
        return 0.0
    return float((a * b).sum() / denom)


def store_picture(session: Session, settings: Settings, now: datetime, device: EdgeDevice, camera: Camera,
                  data: bytes, taken_at: datetime | None) -> CameraPicture:
    """Check the bytes like evidence (size, type by content, pixel limit), keep the picture, compare the view."""
    checked = check_file(name="picture", file_name="picture.jpg", data=data, settings=settings)
    if not checked.content_type.startswith("image/"):
        from api.evidence import EvidenceError

        raise EvidenceError(415, "a camera picture is a JPEG or PNG image")
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    reference = session.scalar(select(CameraPicture).where(CameraPicture.camera_id == camera.id,
                                                           CameraPicture.reference.is_(True)))
    taken = taken_at if taken_at is not None and taken_at <= now + timedelta(minutes=5) else now
    picture = CameraPicture(camera_id=camera.id, taken_at=taken, received_at=now, content_type=checked.content_type,
                            width=width, height=height, size=len(data), sha256=checked.sha256,
                            reference=reference is None, data=data)
    session.add(picture)
    session.flush()
    row = session.get(CameraHealth, camera.id)
    if row is None:
        row = CameraHealth(camera_id=camera.id, device_id=device.id, reported_at=now, online=True,
                           report_every_s=60.0, decode_errors=0, reconnects=0)
        session.add(row)
    row.picture_requested_at = None
    if reference is not None:
        row.view_score = round(view_likeness(reference.data, data), 4)
        if row.view_score < VIEW_CHANGED_BELOW:
            _raise_alert(session, settings, now, camera, row, VIEW_CHANGED,
                         f"the picture no longer matches the reference view (likeness {row.view_score:.2f})")
        else:
            _clear_alert(session, settings, now, camera, row, VIEW_CHANGED)
    else:
        row.view_score = 1.0
    keep = list(session.scalars(select(CameraPicture.id).where(CameraPicture.camera_id == camera.id,
                                                               CameraPicture.reference.is_(False))
                                .order_by(CameraPicture.taken_at.desc(), CameraPicture.id.desc())
                                .limit(PICTURES_KEPT)))
    session.execute(delete(CameraPicture).where(CameraPicture.camera_id == camera.id,
                                                CameraPicture.reference.is_(False), CameraPicture.id.not_in(keep)))
    return picture


def latest_picture(session: Session, camera_id: int) -> CameraPicture | None:
    return session.scalar(select(CameraPicture).where(CameraPicture.camera_id == camera_id)
                          .order_by(CameraPicture.taken_at.desc(), CameraPicture.id.desc()).limit(1))


def request_picture(session: Session, camera: Camera, now: datetime) -> None:
    """An operator asks for a fresh picture: the edge's next report is answered ``picture_requested``."""
    row = session.get(CameraHealth, camera.id)
    if row is None:
        row = CameraHealth(camera_id=camera.id, reported_at=now, online=False, report_every_s=60.0,
                           decode_errors=0, reconnects=0)
        session.add(row)
    row.picture_requested_at = now


def is_stale(row: CameraHealth, now: datetime) -> bool:
    return now - row.reported_at > timedelta(seconds=max(MIN_STALE_S, MISSED_REPORTS * row.report_every_s))


def sweep_stale(session: Session, settings: Settings, now: datetime, limit: int = 500) -> int:
    """Raise the offline alert of every camera whose edge stopped reporting; returns how many were raised."""
    raised = 0
    rows = session.scalars(select(CameraHealth).where((CameraHealth.alert.is_(None))
                                                      | (CameraHealth.alert != OFFLINE)).limit(limit))
    for row in rows:
        if is_stale(row, now):
            camera = session.get(Camera, row.camera_id)
            if camera is None:
                continue
            row.online = False
            _raise_alert(session, settings, now, camera, row, OFFLINE,
                         f"no report from the edge since {row.reported_at.isoformat()}")
            raised += 1
    return raised


def health_public(session: Session, camera: Camera, now: datetime) -> CameraHealthPublic:
    row = session.get(CameraHealth, camera.id)
    picture = latest_picture(session, camera.id)
    pic = CameraPicturePublic.model_validate(picture) if picture is not None else None
    if row is None or row.device_id is None:  # no report yet (a picture request alone makes the row)
        return CameraHealthPublic(status="unknown", picture=pic)
    online = row.online and not is_stale(row, now)
    alert = row.alert or (OFFLINE if not online else None)
    return CameraHealthPublic(
        status="online" if online else "offline", alert=alert, alert_since=row.alert_since,
        reported_at=row.reported_at, last_frame_age_s=row.last_frame_age_s, analysis_fps=row.analysis_fps,
        decode_errors=row.decode_errors, reconnects=row.reconnects, model_name=row.model_name,
        model_version=row.model_version, last_error=row.last_error, view_score=row.view_score, picture=pic)
