"""The sender thread: delivers outbox rows to ``{service_url}/api/v1/events`` (see `detector.events`).

2xx -> sent; 4xx (but 408/429) -> parked as dead with the reason (the service called the event invalid
or not this device's: resending it as it is cannot help); 5xx, 408, 429 and network errors -> retried
with capped exponential backoff and jitter (``retry_initial_s * 2**attempts``, at most ``retry_max_s``,
times a random factor in [0.5, 1]). One request at a time, oldest first. Settings: `UplinkConfig`.

Batches: when more than one JSON-only event (no evidence files) is due in a row, they go together to
``{service_url}/api/v1/events/batch`` (at most ``batch_size`` per request), and the service's per-event
results are applied to each row exactly as single answers would be. An event with evidence files still
goes alone as multipart, and keeps its place in the order (a run of JSON-only events is cut there). A
service without the batch endpoint (404/405: an older version) is remembered for ``batch_retry_s`` and
the events go one by one; a batch the service refuses as a whole (other 4xx) is also resent one by one,
so that each event gets its own verdict. A batch answered 500 is resent one by one too: a 500 is this
request breaking the service (an outage is a 503, or no answer), so one of its events may be one the
service cannot take, and the others must not wait behind it; that one is then retried (or parked) on its
own. A batch that fails as a whole otherwise (502/503/504, network) is retried as a whole, with one
backoff for all its events. Exactly-once still rests on the idempotency keys: a row is
marked sent only after a 2xx for that very event, and a batch whose answer was lost is sent again whole.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from detector.uplink.config import UplinkConfig
from detector.uplink.outbox import Outbox, OutboxItem

log = logging.getLogger("frontage.uplink")

EVENTS_PATH = "/api/v1/events"
BATCH_PATH = "/api/v1/events/batch"


class Sender(threading.Thread):
    """Background delivery of an `Outbox`; `wake()` after a put, `drain()` to wait, `stop()` to end."""

    def __init__(self, outbox: Outbox, service_url: str, device_key: str | None = None,
                 config: UplinkConfig | None = None, *, poll_s: float = 5.0, batch_retry_s: float = 3600.0) -> None:
        """``config``: the user's ``uplink:`` settings (defaults when None). ``poll_s``: how often an idle
        sender looks at the outbox without a `wake`; ``batch_retry_s``: how long a service found without
        the batch endpoint is taken to lack it. Neither is a user setting: tests shorten them."""
        super().__init__(name="frontage-uplink", daemon=True)
        self.outbox = outbox
        self.config = config or UplinkConfig()
        self.url = service_url.rstrip("/") + EVENTS_PATH
        self.batch_url = service_url.rstrip("/") + BATCH_PATH
        self.batch_retry_s = batch_retry_s
        self._no_batch_until = 0.0  # monotonic time until which the service is taken to lack the batch endpoint
        self.batches = 0  # batch requests answered 200
        self.headers = {"Authorization": f"Bearer {device_key}"} if device_key else {}
        self.poll_s = poll_s
        self._stop_evt = threading.Event()
        self._wake_evt = threading.Event()
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    def wake(self) -> None:
        self._wake_evt.set()

    def stop(self, join_timeout_s: float = 5.0) -> None:
        self._stop_evt.set()
        self._wake_evt.set()
        if self.is_alive():
            self.join(join_timeout_s)

    def drain(self, timeout_s: float) -> bool:
        """Wait (bounded) until nothing is pending; True when drained."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            self.wake()
            time.sleep(0.1)
        return self.outbox.depth() == 0

    def backoff(self, attempts: int) -> float:
        cfg = self.config
        return min(cfg.retry_max_s, cfg.retry_initial_s * 2 ** min(attempts, 20)) * random.uniform(0.5, 1.0)

    def run(self) -> None:
        with httpx.Client(timeout=self.config.timeout_s) as client:
            while not self._stop_evt.is_set():
                items = self.outbox.due(limit=max(20, self.config.batch_size))
                for group in self.plan(items):
                    if self._stop_evt.is_set():
                        return
                    if len(group) > 1:
                        self.send_batch(client, group)
                    else:
                        self.send_one(client, group[0])
                if items:
                    continue
                next_at = self.outbox.next_due_at()
                wait = self.poll_s if next_at is None else min(self.poll_s, max(0.05, next_at - time.time()))
                self._wake_evt.wait(wait)
                self._wake_evt.clear()

    def batching(self) -> bool:
        return time.monotonic() >= self._no_batch_until

    def plan(self, items: list[OutboxItem]) -> list[list[OutboxItem]]:
        """Requests to make, in outbox order: runs of JSON-only events (up to ``batch_size``) together,
        an event with evidence files alone."""
        if not self.batching():
            return [[item] for item in items]
        groups: list[list[OutboxItem]] = []
        run: list[OutboxItem] = []
        for item in items:
            if item.files:
                groups.extend([run] if run else [])
                groups.append([item])
                run = []
                continue
            run.append(item)
            if len(run) == self.config.batch_size:
                groups.append(run)
                run = []
        groups.extend([run] if run else [])
        return groups

    def send_batch(self, client: httpx.Client, items: list[OutboxItem]) -> None:
        body = '{"events": [' + ",".join(item.event_json for item in items) + "]}"
        try:
            resp = client.post(self.batch_url, content=body,
                               headers={**self.headers, "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            self._retry_together(items, f"{type(exc).__name__}: {exc}")
            return
        status = resp.status_code
        if status in (404, 405):
            log.info("the service has no batch endpoint (HTTP %d): sending events one by one", status)
            self._no_batch_until = time.monotonic() + self.batch_retry_s
            self._one_by_one(client, items)
            return
        if status == 200:
            try:
                results = resp.json()["results"]
                by_index = {int(r["index"]): r for r in results}
                if sorted(by_index) != list(range(len(items))):
                    raise ValueError(f"{len(results)} results for {len(items)} events")
            except (ValueError, KeyError, TypeError) as exc:
                self._retry_together(items, f"unreadable batch answer: {exc}")
                return
            self.batches += 1
            delivered = []
            for index, item in enumerate(items):
                result = by_index[index]
                code = int(result.get("status", 0))
                if 200 <= code < 300:
                    delivered.append(item.id)
                else:
                    self._verdict(item, code, str(result.get("error") or ""))
            self.outbox.mark_sent_many(delivered)
            self.sent += len(delivered)
            return
        if status == 500:
            log.warning("batch of %d events broke the service (HTTP 500: %s); sending them one by one", len(items),
                        resp.text[:200])
            self._one_by_one(client, items)
            return
        if 400 <= status < 500 and status not in (408, 429):
            # the batch as a whole was refused (too large, malformed, ...): each event gets its own verdict
            log.warning("batch of %d events refused (HTTP %d: %s); sending them one by one", len(items), status,
                        resp.text[:200])
            self._one_by_one(client, items)
            return
        self._retry_together(items, f"HTTP {status}: {resp.text[:200]}")

    def _one_by_one(self, client: httpx.Client, items: list[OutboxItem]) -> None:
        for item in items:
            if self._stop_evt.is_set():
                return
            self.send_one(client, item)

    def send_one(self, client: httpx.Client, item: OutboxItem) -> None:
        try:
            status, text = self._post(client, item)
        except httpx.HTTPError as exc:
            self._retry(item, f"{type(exc).__name__}: {exc}")
            return
        if status in (413, 415) and item.files:
            # the service refuses the evidence (too large, wrong type), not the event: send the event alone
            log.error("event %s: evidence refused (HTTP %d: %s); sending the event without it", item.key, status, text[:200])
            try:
                status, text = self._post(client, item, with_evidence=False)
            except httpx.HTTPError as exc:
                self._retry(item, f"{type(exc).__name__}: {exc}")
                return
        self._verdict(item, status, text)

    def _verdict(self, item: OutboxItem, status: int, text: str) -> None:
        """Sent, parked (refused for good) or retried, by the service's status for this one event."""
        if 200 <= status < 300:
            self.outbox.mark_sent(item.id)
            self.sent += 1
        elif 400 <= status < 500 and status not in (408, 429):
            reason = f"HTTP {status}: {text[:500]}"
            log.error("event %s refused by the service, parked: %s", item.key, reason)
            self.outbox.mark_dead(item.id, reason)
        else:
            self._retry(item, f"HTTP {status}: {text[:200]}")

    def _retry(self, item: OutboxItem, error: str) -> None:
        self.failures += 1
        self.last_error = error
        delay = self.backoff(item.attempts)
        log.warning("event %s not delivered (%s); retry in %.1f s", item.key, error, delay)
        self.outbox.mark_retry(item.id, time.time() + delay, error)

    def _retry_together(self, items: list[OutboxItem], error: str) -> None:
        """A batch that failed as a whole is retried as a whole: one backoff for all its events (from the
        most-tried one), so they come due together and go out again as one batch, not splintered by
        each row's own jitter into single requests."""
        self.failures += len(items)
        self.last_error = error
        delay = self.backoff(max(item.attempts for item in items))
        log.warning("batch of %d events not delivered (%s); retry in %.1f s", len(items), error, delay)
        at = time.time() + delay
        for item in items:
            self.outbox.mark_retry(item.id, at, error)

    def _post(self, client: httpx.Client, item: OutboxItem, with_evidence: bool = True) -> tuple[int, str]:
        event = json.loads(item.event_json)
        present = {name: Path(p) for name, p in item.files.items() if with_evidence and Path(p).is_file()}
        if len(present) != len(item.files):
            # an evidence file vanished (disk cleaned, write failed): the event still goes, without it
            missing = sorted(set(item.files) - set(present))
            if with_evidence:
                log.error("event %s: evidence %s missing on disk, sending without it", item.key, ", ".join(missing))
            event["evidence"] = [e for e in event.get("evidence", []) if e.get("name") in present]
            body = json.dumps(event)
        else:
            body = item.event_json
        if not event.get("evidence"):
            resp = client.post(self.url, content=body, headers={**self.headers, "Content-Type": "application/json"})
            return resp.status_code, resp.text
        refs = {e["name"]: e for e in event["evidence"]}
        with ExitStack() as stack:
            files: list[tuple[str, tuple[str | None, object, str]]] = [("event", (None, body, "application/json"))]
            for name, path in present.items():
                if name in refs:
                    fh = stack.enter_context(path.open("rb"))
                    files.append((name, (path.name, fh, refs[name]["content_type"])))
            resp = client.post(self.url, files=files, headers=self.headers)  # type: ignore[arg-type]
        return resp.status_code, resp.text
