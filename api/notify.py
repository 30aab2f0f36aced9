"""Notifications: an outbox table written with the state change, delivered later by the scheduler.

Senders: ``webhook`` (JSON POST with httpx; failures retry with exponential backoff until
``notify_max_attempts``, then the message is parked as ``dead``) and ``log`` (the message is written to the
service log: the default when no webhook is configured).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Case, Notification

log = logging.getLogger("frontage.notify")


def enqueue(session: Session, settings: Settings, now: datetime, *, case: Case | None, kind: str,
            recipient: str, target: str | None, payload: dict[str, Any]) -> Notification:
    url = target or settings.notify_webhook_url
    note = Notification(case_id=case.id if case is not None else None, kind=kind, recipient=recipient,
                        channel="webhook" if url else "log", target=url, payload=payload, status="pending",
                        attempts=0, next_attempt_at=now, created_at=now)
    session.add(note)
    return note


def send(note: Notification, settings: Settings, client: httpx.Client | None = None) -> None:
    """Deliver one message; raises on failure (the caller schedules the retry)."""
    if note.channel == "log" or not note.target:
        log.info("notify %s -> %s: %s", note.kind, note.recipient, note.payload.get("message") or note.payload)
        return
    body = {"id": note.id, "kind": note.kind, "recipient": note.recipient, **note.payload}
    own = client is None
    client = client or httpx.Client(timeout=settings.notify_timeout_s)
    try:
        response = client.post(note.target, json=body, headers={"Idempotency-Key": f"frontage-notification-{note.id}"})
        response.raise_for_status()
    finally:
        if own:
            client.close()


def deliver_due(session: Session, settings: Settings, now: datetime, limit: int = 50) -> dict[str, int]:
    """Send pending messages whose time has come; rows locked with SKIP LOCKED so replicas share the work."""
    query = (select(Notification).where(Notification.status == "pending", Notification.next_attempt_at <= now)
             .order_by(Notification.next_attempt_at, Notification.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    counts = {"sent": 0, "retry": 0, "dead": 0}
    notes = session.scalars(query).all()
    if not notes:
        return counts
    with httpx.Client(timeout=settings.notify_timeout_s) as client:
        for note in notes:
            note.attempts += 1
            try:
                send(note, settings, client)
            except Exception as exc:  # any failure of the remote end is a retry, never a crash
                note.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                if note.attempts >= settings.notify_max_attempts:
                    note.status = "dead"
                    counts["dead"] += 1
                    log.warning("notification %s dead after %s attempts: %s", note.id, note.attempts,
                                note.last_error)
                else:
                    delay = settings.notify_backoff_s * (2 ** (note.attempts - 1))
                    note.next_attempt_at = now + timedelta(seconds=delay)
                    counts["retry"] += 1
            else:
                note.status = "sent"
                note.sent_at = now
                counts["sent"] += 1
    return counts
