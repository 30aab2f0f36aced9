"""Privacy-safe evidence: what a merchant (or anyone outside the staff console) is shown, and the log of
every view of an original (PRIVACY.md).

- A merchant sees the edge's evidence **frame** with people's heads and vehicles' plate regions obscured
  (pixelated, then blurred), placed by the edge's own person and vehicle detections of that frame
  (``ViolationEvent.privacy_boxes``, stored with the ingested event). The violation objects are never the
  boxes blurred. A frame whose event carried no such boxes (an older edge) is blurred everywhere except the
  episode's violation boxes. Crops, raw frames and clips are for staff only; the merchant's own photos are
  shown as uploaded.
- Staff see the original; every such view is a row of ``evidence_access``.

The blurred image is made per request and never stored, so it follows the original's retention.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import cv2
import numpy as np
from fastapi import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Evidence, EvidenceAccess, IngestedEvent
from api.evidence import read as read_evidence
from api.services.errors import NotFound
from api.services.evidence import Purged, evidence_response

VehicleRegion = Literal["lower", "whole"]
#: Share of a person box, from its top, that holds the head (generous: boxes of seated or partly hidden
#: people are shorter than a standing body, so the head is a larger share of them).
HEAD_SHARE = 0.3
#: Share of a vehicle box, from its bottom, that holds the number plate(s).
PLATE_SHARE = 0.5


def merchant_may_see(row: Evidence) -> bool:
    """The merchant's own uploads and the edge's frames (blurred); crops, raw frames and clips stay with staff."""
    return row.source == "merchant" or (row.kind == "frame" and row.content_type.startswith("image/"))


def _event_for(session: Session, row: Evidence) -> dict[str, Any] | None:
    """The ingested event that carried this file (matched by the sha256 the event declared for it)."""
    for payload in session.scalars(select(IngestedEvent.payload).where(IngestedEvent.case_id == row.case_id)
                                   .order_by(IngestedEvent.id)):
        if any(ref.get("sha256") == row.sha256 for ref in payload.get("evidence") or []):
            return payload
    return None


def _px(box: list[float], w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return int(x1 * w), int(y1 * h), int(np.ceil(x2 * w)), int(np.ceil(y2 * h))


def blur_regions(boxes: list[dict[str, Any]], w: int, h: int,
                 vehicle_region: VehicleRegion = "lower") -> list[tuple[int, int, int, int]]:
    """Pixel rectangles to obscure: the head of each person box, the lower part (or all) of each vehicle."""
    out = []
    for item in boxes:
        x1, y1, x2, y2 = _px(item["box"], w, h)
        bw, bh = x2 - x1, y2 - y1
        if item["kind"] == "person":
            x1, x2 = x1 - int(0.15 * bw), x2 + int(0.15 * bw)
            y1, y2 = y1 - int(0.05 * bh), y1 + int(np.ceil(HEAD_SHARE * bh))
        elif vehicle_region == "lower":
            y1 = y1 + int((1 - PLATE_SHARE) * bh)
            y2 = y2 + int(0.02 * bh)
        out.append((max(0, x1), max(0, y1), min(w, x2), min(h, y2)))
    return [r for r in out if r[2] > r[0] and r[3] > r[1]]


def _obscure(image: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> None:
    """Pixelate to at most 6 blocks a side, then blur: no face or plate survives, the scene still reads."""
    roi = image[y1:y2, x1:x2]
    rh, rw = roi.shape[:2]
    small = cv2.resize(roi, (max(1, min(6, rw // 4)), max(1, min(6, rh // 4))), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
    k = max(3, (min(rw, rh) // 3) | 1)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)


def blurred_frame(data: bytes, event: dict[str, Any] | None, vehicle_region: VehicleRegion = "lower") -> bytes:
    """The frame with people's heads and vehicles' plates obscured, as JPEG."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise NotFound("evidence not found")  # not an image we can read: never shown unblurred
    h, w = image.shape[:2]
    boxes = (event or {}).get("privacy_boxes")
    if boxes is None:
        # Nothing says where the people are: obscure everything but the violation objects themselves.
        keep = [_px(d["box"], w, h) for d in (event or {}).get("detections") or []]
        original = image.copy()
        _obscure(image, 0, 0, w, h)
        for x1, y1, x2, y2 in keep:
            image[max(0, y1):y2, max(0, x1):x2] = original[max(0, y1):y2, max(0, x1):x2]
    else:
        for region in blur_regions(boxes, w, h, vehicle_region):
            _obscure(image, *region)
    ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise NotFound("evidence not found")
    return out.tobytes()


def merchant_response(session: Session, settings: Settings, row: Evidence) -> Response:
    """What a merchant gets for one of its cases' evidence (already checked to be its own)."""
    if row.source == "merchant":
        return evidence_response(settings, row)
    if not merchant_may_see(row):
        raise NotFound("this evidence is for city staff only")
    data = read_evidence(settings, row)
    if data is None:
        raise Purged("evidence purged (retention period passed)")
    body = blurred_frame(data, _event_for(session, row), settings.privacy_vehicle_region)
    return Response(body, media_type="image/jpeg", headers={
        "Content-Disposition": f'inline; filename="{row.id}-blurred.jpg"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store", "X-Frontage-Privacy": "blurred"})


def audit_original(session: Session, row: Evidence, actor: str, now: datetime, via: str) -> None:
    """Log one view of an original (staff); committed with the request."""
    session.add(EvidenceAccess(evidence_id=row.id, case_id=row.case_id, actor=actor[:150], via=via[:20], at=now))
