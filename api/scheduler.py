"""Deadlines, escalations, the notification outbox and the evidence purge, run inside the service.

Safe with several service processes on one PostgreSQL: due cases are taken with
``SELECT ... FOR UPDATE SKIP LOCKED``, so each row is processed by exactly one process, and processing moves
``due_at`` on, so each due deadline escalates a case exactly once. SQLite has a single writer (the
transaction takes the write lock at BEGIN), which gives the same guarantee.

Command line (used by tests and ops): ``python -m api.scheduler --until-idle``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.core.config import Settings
from api.db.models import Case, CaseState
from api.evidence import purge
from api.notify import deliver_due
from api.workflow import MAX_LEVEL, TransitionError, Workflow

log = logging.getLogger("frontage.scheduler")

#: States whose ``due_at`` means "act when it passes".
DUE_STATES = (CaseState.NOTIFIED.value, CaseState.ESCALATED.value, CaseState.CONFIRMED.value)


@dataclass
class PassResult:
    escalated: int = 0
    expired: int = 0
    sent: int = 0
    purged: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.escalated or self.expired or self.sent or self.purged)


def escalate_due(session: Session, settings: Settings, now: datetime, limit: int) -> tuple[int, int]:
    """One batch of due cases, locked; returns (escalated, expired at the top level)."""
    query = (select(Case).where(Case.due_at.is_not(None), Case.due_at <= now, Case.state.in_(DUE_STATES))
             .order_by(Case.due_at, Case.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Case)
    flow = Workflow(session, settings, now, actor=f"system:scheduler:{os.getpid()}")
    escalated = expired = 0
    for case in session.scalars(query).unique().all():
        if case.state == CaseState.ESCALATED and case.escalation_level >= MAX_LEVEL:
            flow.audit(case, "sla_missed", f"L{MAX_LEVEL} SLA passed at {case.due_at.isoformat()}")
            case.due_at = None
            expired += 1
            continue
        reason = ("merchant missed the fix deadline" if case.state == CaseState.NOTIFIED
                  else f"L{case.escalation_level} SLA passed" if case.state == CaseState.ESCALATED
                  else "confirmed case was never notified")
        try:
            flow.escalate(case, f"{reason} ({case.due_at.isoformat()})")
            escalated += 1
        except TransitionError as exc:  # should not happen: DUE_STATES all allow escalate
            log.error("case %s: %s", case.id, exc.detail)
            case.due_at = None
    return escalated, expired


def run_pass(factory: sessionmaker[Session], settings: Settings, now_fn: Callable[[], datetime]) -> PassResult:
    """Everything due, batch by batch, each batch its own short transaction."""
    result = PassResult()
    while True:
        with factory.begin() as session:
            esc, exp = escalate_due(session, settings, now_fn(), settings.scheduler_batch)
        result.escalated += esc
        result.expired += exp
        if esc + exp < settings.scheduler_batch:
            break
    counts = deliver_due(factory, settings, now_fn, limit=settings.scheduler_batch)
    result.sent += counts["sent"]
    with factory.begin() as session:
        result.purged += purge(session, settings, now_fn())
    with factory.begin() as session:  # cameras whose edge stopped reporting: offline alert (api.services.cameras)
        from api.services.cameras import sweep_stale

        sweep_stale(session, settings, now_fn())
    return result


async def scheduler_loop(factory: sessionmaker[Session], settings: Settings, now_fn: Callable[[], datetime],
                         stop: asyncio.Event) -> None:
    """Background task started by the app lifespan; a failing pass (DB down) is logged and retried."""
    while not stop.is_set():
        try:
            result = await asyncio.to_thread(run_pass, factory, settings, now_fn)
            if result.busy:
                log.info("scheduler: %s", result)
        except Exception as exc:
            log.warning("scheduler pass failed (will retry): %s: %s", type(exc).__name__, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.scheduler_interval_s)


def main(argv: list[str] | None = None) -> None:
    from api.clock import Clock
    from api.db.session import make_engine, make_session_factory

    parser = argparse.ArgumentParser(description="Run scheduler passes against FRONTAGE_DATABASE_URL")
    parser.add_argument("--until-idle", action="store_true", help="stop after a pass that found nothing to do")
    parser.add_argument("--passes", type=int, default=0, help="stop after this many passes (0: forever)")
    args = parser.parse_args(argv)
    settings = Settings()
    clock = Clock(settings.clock_offset_s)
    engine = make_engine(settings.database_url, settings.db_pool_size)
    factory = make_session_factory(engine)
    total = PassResult()
    n = 0
    while True:
        result = run_pass(factory, settings, clock.now)
        n += 1
        total.escalated += result.escalated
        total.expired += result.expired
        total.sent += result.sent
        if (args.until_idle and not result.busy) or (args.passes and n >= args.passes):
            break
        if not result.busy:
            time.sleep(settings.scheduler_interval_s)
    print(f"escalated={total.escalated} expired={total.expired} sent={total.sent} passes={n}")


if __name__ == "__main__":
    main()
