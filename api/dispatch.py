"""City dispatch: an escalated case pushed to the city's dispatch platform through a signed webhook.

A dispatch is a row of the notification outbox (`api.notify`, kind ``city_dispatch``, channel
``dispatch``), written in the same transaction as the escalation (automatic, at ``dispatch_at_level``) or as
a supervisor's request, and delivered by the scheduler with the outbox's retries. Each attempt's outcome,
the platform's reply included, is appended to the case's audit trail. The payload and the signature are
documented in ``docs/DISPATCH.md``.

>>> sign(b'{"case_id":1}', "0123456789abcdef")
'sha256=59f45d92e107728bb2a940d0b0ba0ccb47abc944415951d0d454cf79fbce4686'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Case, CaseEvent, Evidence, Notification

log = logging.getLogger("frontage.dispatch")

KIND = "city_dispatch"
CHANNEL = "dispatch"
SCHEMA = "frontage.dispatch/1"
SIGNATURE_HEADER = "X-Frontage-Signature"
LEVEL_NAMES = {1: "street", 2: "district", 3: "city"}


class DispatchUnavailable(RuntimeError):
    """Dispatch is not configured (no URL or no secret): nothing can be sent."""


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of the exact body bytes>``; the receiver recomputes it over what it read."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """What a receiver does (constant-time compare); used by the tests' receiver and documented for the city."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


def encode(note_id: int, payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact, keys sorted, UTF-8 (Chinese names as they are)."""
    body = {"delivery_id": note_id, **payload}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def configured(settings: Settings) -> bool:
    return bool(settings.dispatch_webhook_url and settings.dispatch_webhook_secret)


def payload(session: Session, settings: Settings, case: Case, level: int, reason: str | None,
            now: datetime) -> dict[str, Any]:
    """The documented dispatch body (docs/DISPATCH.md), without evidence images: the platform fetches them
    from the console with its own staff account, so originals never leave through the webhook."""
    merchant = case.merchant
    road = case.road
    evidence = session.scalars(select(Evidence).where(Evidence.case_id == case.id, Evidence.purged_at.is_(None))
                               .order_by(Evidence.id)).all()
    return {
        "schema": SCHEMA,
        "sent_for": "escalation",
        "queued_at": now.isoformat(),
        "case": {
            "id": case.id, "url": f"{settings.public_url.rstrip('/')}/cases/{case.id}", "category": case.category,
            "state": case.state, "escalation_level": level, "level_name": LEVEL_NAMES.get(level, str(level)),
            "reason": reason, "first_seen_at": case.first_seen_at.isoformat(),
            "last_seen_at": case.last_seen_at.isoformat(),
            "due_at": case.due_at.isoformat() if case.due_at else None, "confidence": round(case.confidence, 4)},
        "camera": {"code": case.camera.code, "name": case.camera.name, "location": case.camera.location},
        "zone": case.zone.code,
        "road": {"name": road.name, "district": road.district} if road else None,
        "merchant": {"code": merchant.code, "name": merchant.name, "address": merchant.address,
                     "phone": merchant.phone, "licence_number": merchant.licence_number} if merchant else None,
        "evidence": [{"id": e.id, "kind": e.kind, "content_type": e.content_type, "sha256": e.sha256}
                     for e in evidence],
    }


def enqueue(session: Session, settings: Settings, now: datetime, case: Case, level: int, reason: str | None,
            actor: str) -> Notification:
    """Queue one dispatch of ``case`` (same transaction as the caller's change) and audit it."""
    if not configured(settings):
        raise DispatchUnavailable("city dispatch is not configured: set FRONTAGE_DISPATCH_WEBHOOK_URL and "
                                  "FRONTAGE_DISPATCH_WEBHOOK_SECRET")
    note = Notification(case_id=case.id, kind=KIND, recipient="city-dispatch", channel=CHANNEL,
                        target=settings.dispatch_webhook_url, payload=payload(session, settings, case, level, reason, now),
                        status="pending", attempts=0, next_attempt_at=now, created_at=now)
    session.add(note)
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="dispatch_queued", from_state=None,
                          to_state=None, escalation_level=case.escalation_level,
                          note=f"queued for the city dispatch platform at L{level}"))
    return note


def headers(note: Notification, body: bytes, settings: Settings) -> dict[str, str]:
    assert settings.dispatch_webhook_secret  # enqueue refuses without one
    return {"Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign(body, settings.dispatch_webhook_secret),
            "X-Frontage-Delivery": str(note.id), "Idempotency-Key": f"frontage-dispatch-{note.id}"}


def audit_attempt(session: Session, note: Notification, now: datetime, reply: str | None, error: str | None,
                  final: bool) -> None:
    """The platform's reply (or the failure) on the case's audit trail, one row per attempt."""
    if note.case_id is None or session.get(Case, note.case_id) is None:
        return
    if error is None:
        action, text = "dispatched", f"dispatch platform accepted (attempt {note.attempts}): {reply or ''}"
    else:
        action = "dispatch_dead" if final else "dispatch_failed"
        text = f"dispatch attempt {note.attempts} failed{' (giving up)' if final else ''}: {error}"
    session.add(CaseEvent(case_id=note.case_id, at=now, actor="system:dispatch", action=action, from_state=None,
                          to_state=None, escalation_level=None, note=text[:4000]))
