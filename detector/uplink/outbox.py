"""Durable outbox: one SQLite row per event (plus its evidence file paths), committed before anything acks.

Why SQLite with WAL and ``synchronous=FULL``: an edge box loses power or gets SIGKILLed; an event counts as
"recorded" only once its row is committed, and a row leaves the ``pending`` state only after the service
answered 2xx (``sent``) or refused it for good (``dead``, with the reason). Delivery is therefore
at-least-once; the event's idempotency key (a UNIQUE column here, and the service's dedup key) makes the
effect exactly-once. Re-putting an event already in the outbox is a no-op, so an edge that re-derives the
same episode after a restart does not send it twice.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from detector.events import EventType, ModelInfo, ViolationEvent
>>> t = datetime(2026, 5, 1, tzinfo=timezone.utc)
>>> ev = ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera="c", zone="z",
...     category="exposed_garbage", started_at=t, observed_at=t, confidence=0.5, model=ModelInfo(name="m", version="1"))
>>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.db")
>>> box.put(ev), box.put(ev), box.depth()
(True, False, 1)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from detector.events import EvidenceRef, ViolationEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    event_json TEXT NOT NULL,
    files_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at, id);
"""


class OutboxError(RuntimeError):
    """The outbox database cannot be opened or written (one clear line)."""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    key: str
    event_json: str
    files: dict[str, str]  # evidence part name -> local file path
    attempts: int


class Outbox:
    """Thread-safe handle on the outbox database (one connection, serialised by a lock)."""

    def __init__(self, path: str | Path, on_depth: object = None, on_dead: object = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"{self.path}: cannot open the outbox database ({exc})") from None
        self._lock = threading.Lock()
        self._on_depth = on_depth  # callable(pending count) for the metrics gauge
        self._on_dead = on_dead  # callable(dead count)
        self._report_depth()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _report_depth(self) -> None:
        if callable(self._on_depth):
            self._on_depth(self.depth())
        if callable(self._on_dead):
            self._on_dead(self.counts()["dead"])

    def put(self, event: ViolationEvent, files: dict[str, str | Path] | None = None) -> bool:
        """Record an event (committed on return). False when its idempotency key is already there."""
        files_json = json.dumps({k: str(v) for k, v in (files or {}).items()})
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (idempotency_key, event_json, files_json, created_at) VALUES (?, ?, ?, ?)",
                (event.idempotency_key, event.model_dump_json(), files_json, time.time()),
            )
            added = cur.rowcount == 1
        self._report_depth()
        return added

    def due(self, now: float | None = None, limit: int = 20) -> list[OutboxItem]:
        """Pending rows whose next attempt is due, oldest first."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT id, idempotency_key, event_json, files_json, attempts FROM outbox "
                "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?", (now, limit)
            ).fetchall()
        return [OutboxItem(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def next_due_at(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'").fetchone()
        return row[0]

    def mark_sent(self, item_id: int) -> None:
        self._finish(item_id, "sent", None)

    def mark_dead(self, item_id: int, reason: str) -> None:
        self._finish(item_id, "dead", reason[:2000])

    def mark_sent_many(self, item_ids: list[int]) -> None:
        """`mark_sent` for the delivered events of one batch, in one transaction (one fsync, not one each)."""
        if not item_ids:
            return
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("UPDATE outbox SET status = 'sent', last_error = NULL, done_at = ?, "
                                     "attempts = attempts + 1 WHERE id = ?", [(now, i) for i in item_ids])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._report_depth()

    def _finish(self, item_id: int, status: str, reason: str | None) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET status = ?, last_error = ?, done_at = ?, attempts = attempts + 1 "
                             "WHERE id = ?", (status, reason, time.time(), item_id))
        self._report_depth()

    def mark_retry(self, item_id: int, next_attempt_at: float, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                             "WHERE id = ?", (next_attempt_at, error[:2000], item_id))

    def depth(self) -> int:
        """Events not yet delivered (pending)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0])

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {"pending": 0, "sent": 0, "dead": 0} | {s: int(n) for s, n in rows}

    def dead(self) -> list[tuple[str, str]]:
        """(idempotency key, reason) of every parked event."""
        with self._lock:
            return [tuple(r) for r in self._db.execute(
                "SELECT idempotency_key, last_error FROM outbox WHERE status = 'dead' ORDER BY id")]  # type: ignore[misc]

    def prune(self, older_than_s: float = 7 * 86400) -> int:
        """Forget delivered rows older than this (keeps the keys of recent ones for dedup of re-puts)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM outbox WHERE status = 'sent' AND done_at < ?",
                                   (time.time() - older_than_s,))
        return cur.rowcount


def evidence_files(refs: list[EvidenceRef], paths: list[Path]) -> dict[str, str]:
    """Part name -> path mapping for `Outbox.put`."""
    return {ref.name: str(p) for ref, p in zip(refs, paths, strict=True)}
