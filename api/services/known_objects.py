"""False-positive memory: "not a violation here - remember this object" on a rejected case stores the
episode's objects (box, class, colour signature from the case's clean evidence frame) as known objects of
its zone; the zones file the edges fetch (`zones_document`) carries them, and the edge drops them before its
rules (detector/zones/known.py). Rejected and confirmed cases keep feeding ``frontage relearn export``.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Camera, Case, CaseEvent, CaseState, Evidence, IngestedEvent
from api.evidence import read as read_evidence
from api.services.errors import Conflict
from detector.events import EventType
from detector.zones.known import KnownObject, signature
from detector.zones.schema import ZonesFile, parse_zones


def _clean_frame(session: Session, settings: Settings, case: Case) -> np.ndarray | None:
    """The case's first unannotated frame (BGR), the one the edge computes signatures on; None without one."""
    row = session.scalar(select(Evidence).where(Evidence.case_id == case.id, Evidence.kind == "raw",
                                                Evidence.content_type.in_(["image/jpeg", "image/png"]))
                         .order_by(Evidence.created_at, Evidence.id).limit(1))
    data = read_evidence(settings, row) if row is not None else None
    if not data:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))[..., ::-1].copy()
    except Exception:  # a damaged file: box and class alone
        return None


def remember_objects(session: Session, settings: Settings, case: Case, actor: str, now: datetime,
                     note: str | None = None) -> list[dict[str, Any]]:
    """Store the rejected case's objects as known objects of its zone (again: nothing new); the zone's list."""
    if case.state != CaseState.REJECTED:
        raise Conflict(f"case {case.id} is {case.state}: reject it first (remembering is for false positives)")
    started = session.scalar(select(IngestedEvent.payload).where(IngestedEvent.case_id == case.id,
                                                                  IngestedEvent.type == EventType.STARTED.value)
                             .order_by(IngestedEvent.id).limit(1))
    detections = [d for d in (started or {}).get("detections") or [] if d.get("category") == case.category]
    if not detections:
        raise Conflict(f"case {case.id} has no detected object to remember")
    image = _clean_frame(session, settings, case)
    zone = case.zone
    known = list(zone.known_objects or [])
    have = {k.get("id") for k in known}
    for i, d in enumerate(detections[:20]):
        kid = f"k-{case.id}-{i}"
        if kid in have:
            continue
        sig = None
        if image is not None:
            h, w = image.shape[:2]
            sig = signature(image, tuple(v * s for v, s in zip(d["box"], (w, h, w, h), strict=True)))
        obj = KnownObject(id=kid, category=case.category, class_name=d.get("class_name"), box=tuple(d["box"]),
                          signature=sig, note=note, remembered_at=now, case=case.id)
        known.append(obj.model_dump(mode="json", exclude_none=True))
    zone.known_objects = known
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="remember_object", from_state=case.state,
                          to_state=case.state, note=f"{len(detections[:20])} object(s) remembered in zone {zone.code}"))
    return known


def zones_document(camera: Camera) -> ZonesFile:
    """The camera's zones file as the service holds it (schedules and known objects included): the one
    definition behind the edge's ``GET /api/v1/device/cameras/{code}/zones.yaml`` and the console's download."""
    zones = []
    for z in sorted(camera.zones, key=lambda z: z.code):
        zone: dict[str, Any] = {"id": z.code, "kind": z.kind, "polygon": [list(p) for p in z.polygon],
                                "forbid": list(z.forbid)}
        if z.merchant is not None:
            zone["merchant"] = z.merchant.code
        for key in ("dwell_s", "clear_s", "permits", "known_objects"):
            if getattr(z, key):
                zone[key] = getattr(z, key)
        zones.append(zone)
    return parse_zones({"camera": camera.code, "timezone": camera.timezone or "UTC", "zones": zones},
                       f"zones of {camera.code}")


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def open_proposals(session: Session, camera: Camera) -> list[dict[str, Any]]:
    """The edge's commissioning proposals not yet accepted (none already a known object at that place)."""
    from api.db.models import CameraHealth

    row = session.get(CameraHealth, camera.id)
    zones = {z.code: z for z in camera.zones}
    out = []
    for p in (row.proposals if row is not None else None) or []:
        zone = zones.get(p.get("zone"))
        if zone is None or any(k.get("category") == p.get("category") and _iou(k["box"], p["box"]) >= 0.7
                               for k in zone.known_objects or []):
            continue
        out.append(p)
    return out


def accept_proposal(session: Session, camera: Camera, proposal_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """One click: the proposal becomes a known object of its zone (nothing is suppressed before this)."""
    from api.services.errors import NotFound

    proposal = next((p for p in open_proposals(session, camera) if p.get("id") == proposal_id), None)
    if proposal is None:
        raise NotFound(f"no open proposal {proposal_id!r} on camera {camera.code}")
    zone = next(z for z in camera.zones if z.code == proposal["zone"])
    obj = KnownObject(id=proposal_id, category=proposal["category"], class_name=proposal.get("class_name"),
                      box=tuple(proposal["box"]), signature=proposal.get("signature"),
                      note=f"accepted at commissioning by {actor}", remembered_at=now)
    zone.known_objects = [*(zone.known_objects or []), obj.model_dump(mode="json", exclude_none=True)]
    return proposal
