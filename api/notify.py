"""Notifications: an outbox table written with the state change, delivered later by the scheduler.

Senders: ``webhook`` (JSON POST with httpx; failures retry with exponential backoff until
``notify_max_attempts``, then the message is parked as ``dead``) and ``log`` (the message is written to the
service log: the default when no webhook is configured), and ``dispatch`` (the city dispatch platform:
the body signed with HMAC-SHA256, each attempt and the platform's reply on the case's audit trail; see
`api.dispatch`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

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
    if kind == "escalation" and case is not None:
        _dispatch_on_escalation(session, settings, now, case, payload)
    return note


def _dispatch_on_escalation(session: Session, settings: Settings, now: datetime, case: Case,
                            payload: dict[str, Any]) -> None:
    """An escalation that reaches ``dispatch_at_level`` also goes to the city dispatch platform (once per
    case: levels rise one at a time, so a case reaches that level once)."""
    from api import dispatch

    level = payload.get("level")
    if settings.dispatch_at_level is None or level != settings.dispatch_at_level or not settings.dispatch_webhook_url:
        return
    if not dispatch.configured(settings):
        log.error("case %s reached L%s but city dispatch has no FRONTAGE_DISPATCH_WEBHOOK_SECRET: not sent",
                  case.id, level)
        return
    dispatch.enqueue(session, settings, now, case, int(level), payload.get("reason"), actor="system:dispatch")


def send(note: Notification, settings: Settings, client: httpx.Client | None = None) -> str | None:
    """Deliver one message; returns the receiver's reply (first 2,000 characters; None for the log channel)
    and raises on failure (the caller schedules the retry)."""
    if note.channel == "log" or not note.target:
        log.info("notify %s -> %s: %s", note.kind, note.recipient, note.payload.get("message") or note.payload)
        return None
    own = client is None
    client = client or httpx.Client(timeout=settings.notify_timeout_s)
    try:
        if note.channel == "dispatch":
            from api import dispatch

            body = dispatch.encode(note.id, note.payload)
            response = client.post(note.target, content=body, headers=dispatch.headers(note, body, settings))
        else:
            response = client.post(note.target, json={"id": note.id, "kind": note.kind, "recipient": note.recipient,
                                                      **note.payload},
                                   headers={"Idempotency-Key": f"frontage-notification-{note.id}"})
        if response.is_error:
            raise httpx.HTTPStatusError(f"HTTP {response.status_code}: {response.text[:500]}",
                                        request=response.request, response=response)
        return f"HTTP {response.status_code}: {response.text[:2000]}"
    finally:
        if own:
            client.close()


def deliver_due(factory: sessionmaker[Session], settings: Settings, now_fn: Callable[[], datetime],
                limit: int = 50) -> dict[str, int]:
    """Send pending messages whose time has come, in three steps so no transaction waits on the network:

    1. claim a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas share the work) by pushing
       ``next_attempt_at`` a lease ahead and counting the attempt; commit;
    2. send, outside any transaction;
    3. record each outcome (sent / retry with exponential backoff / dead) in a short transaction.

    A process that dies between 1 and 3 leaves the message to be retried when the lease runs out.
    """
    counts = {"sent": 0, "retry": 0, "dead": 0}
    lease = timedelta(seconds=settings.notify_timeout_s * 2 + 30)
    with factory.begin() as session:
        now = now_fn()
        query = (select(Notification).where(Notification.status == "pending", Notification.next_attempt_at <= now)
                 .order_by(Notification.next_attempt_at, Notification.id).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = session.scalars(query).all()
        for note in claimed:
            note.attempts += 1
            note.next_attempt_at = now + lease
        session.flush()
        session.expunge_all()  # plain objects from here on: sent without a transaction open
    if not claimed:
        return counts
    errors: dict[int, str] = {}
    replies: dict[int, str | None] = {}
    with httpx.Client(timeout=settings.notify_timeout_s) as client:
        for note in claimed:
            try:
                replies[note.id] = send(note, settings, client)
            except Exception as exc:  # any failure of the remote end is a retry, never a crash
                errors[note.id] = f"{type(exc).__name__}: {exc}"[:1000]
    with factory.begin() as session:
        now = now_fn()
        for note in claimed:
            row = session.get(Notification, note.id)
            if row is None:
                continue
            error = errors.get(note.id)
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                counts["sent"] += 1
            elif row.attempts >= settings.notify_max_attempts:
                row.status, row.last_error = "dead", error
                counts["dead"] += 1
                log.warning("notification %s dead after %s attempts: %s", row.id, row.attempts, error)
            else:
                row.last_error = error
                row.next_attempt_at = now + timedelta(seconds=settings.notify_backoff_s * 2 ** (row.attempts - 1))
                counts["retry"] += 1
            if row.channel == "dispatch":
                from api import dispatch

                dispatch.audit_attempt(session, row, now, replies.get(row.id), error, final=row.status == "dead")
    return counts
