"""Evidence: its public view, and the bytes as a download (staff see any case's; a merchant only its own)."""

from __future__ import annotations

from fastapi import Response
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Case, Evidence, Merchant
from api.evidence import CheckedFile, EvidenceError, check_file
from api.evidence import read as read_evidence
from api.schemas.cases import EvidencePublic
from api.services.errors import NotFound, ServiceError


class Purged(ServiceError):
    status = 410


def evidence_public(row: Evidence, url_prefix: str) -> EvidencePublic:
    out = EvidencePublic.model_validate(row, from_attributes=True)
    out.purged = row.purged_at is not None
    out.url = None if out.purged else f"{url_prefix}/{row.id}"
    return out


def evidence_response(settings: Settings, row: Evidence) -> Response:
    """The stored bytes, inline, never sniffed; 410 once the retention period has purged them."""
    data = read_evidence(settings, row)
    if data is None:
        raise Purged("evidence purged (retention period passed)")
    return Response(data, media_type=row.content_type, headers={
        "Content-Disposition": f'inline; filename="{row.file_name}"', "X-Content-Type-Options": "nosniff",
        "ETag": f'"{row.sha256}"', "Cache-Control": "private, max-age=3600"})


def staff_evidence(session: Session, evidence_id: int) -> Evidence:
    row = session.get(Evidence, evidence_id)
    if row is None:
        raise NotFound("evidence not found")
    return row


def merchant_evidence(session: Session, merchant: Merchant, evidence_id: int, visible_states: list[str]) -> Evidence:
    """Evidence of one of this merchant's cases that it is shown; anything else looks missing (404)."""
    row = session.get(Evidence, evidence_id)
    case = session.get(Case, row.case_id) if row else None
    if row is None or case is None or case.merchant_id != merchant.id or case.state not in visible_states:
        raise NotFound("evidence not found")
    return row


def check_photo(settings: Settings, file_name: str | None, data: bytes) -> CheckedFile:
    """A merchant's photo of the cleared frontage: a JPEG or PNG within the limits (`EvidenceError` says why not)."""
    checked = check_file(name="photo", file_name=file_name, data=data, settings=settings, kind="photo")
    if not checked.content_type.startswith("image/"):
        raise EvidenceError(415, "the photo must be a JPEG or PNG")
    return checked
