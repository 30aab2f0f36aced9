"""A tiny stand-in for the case service's ``POST /api/v1/events``, for tests (a test helper, not part of the product).

Records every request (idempotency key, evidence part names and sizes), answers like the real service
(201 new, 200 repeat of a key), and can be told to fail (``fail_status``), to be slow (``delay_s``), to
refuse given events (``refuse_keys``; ``poison_keys``: also every batch that holds one), or be stopped
and started again on the same port. With
``accept_batches`` it also serves ``POST /api/v1/events/batch`` (per-event results, like the service);
without, that path is a 404, as on a service that predates it. Stdlib only (http.server in a thread).

>>> r = EventReceiver().start()
>>> import httpx
>>> httpx.post(r.url + "/api/v1/events", json={"idempotency_key": "k-1"}).status_code
201
>>> httpx.post(r.url + "/api/v1/events", json={"idempotency_key": "k-1"}).status_code
200
>>> r.total_posts, r.unique_keys
(2, {'k-1'})
>>> r.stop()
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedEvent:
    key: str
    event: dict
    parts: dict[str, int] = field(default_factory=dict)  # evidence part name -> bytes
    authorization: str | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EventReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.posts: list[ReceivedEvent] = []
        self.fail_status: int | None = None  # answer this instead while set
        self.delay_s = 0.0
        self.refuse_evidence: int | None = None  # answer this to any request that carries evidence files
        self.refuse_keys: dict[str, int] = {}  # idempotency key -> 4xx status to answer for that event
        # idempotency key -> status for any request that carries that event, a whole batch included (as an
        # older service answered 500 to a batch with one event it could not store)
        self.poison_keys: dict[str, int] = {}
        self.accept_batches = False
        self.batch_posts = 0  # batch requests answered
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def total_posts(self) -> int:
        return len(self.posts)

    @property
    def unique_keys(self) -> set[str]:
        return {p.key for p in self.posts}

    def events(self) -> list[dict]:
        """First copy of each distinct event, in arrival order."""
        seen: dict[str, dict] = {}
        for p in self.posts:
            seen.setdefault(p.key, p.event)
        return list(seen.values())

    def start(self) -> EventReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_status:
                    self._answer(receiver.fail_status, {"detail": "unavailable"})
                    return
                poison = next((status for key, status in receiver.poison_keys.items() if key.encode() in body), None)
                if poison is not None:
                    self._answer(poison, {"detail": "poisoned"})
                    return
                if self.path == "/api/v1/events/batch" and receiver.accept_batches:
                    self._batch(body)
                    return
                if self.path != "/api/v1/events":
                    self._answer(404, {"detail": "not found"})
                    return
                try:
                    received = receiver._parse(self.headers.get("Content-Type", ""), body)
                except (ValueError, KeyError) as exc:
                    self._answer(422, {"detail": str(exc)})
                    return
                if receiver.refuse_evidence and received.parts:
                    self._answer(receiver.refuse_evidence, {"detail": "evidence refused"})
                    return
                if received.key in receiver.refuse_keys:
                    self._answer(receiver.refuse_keys[received.key], {"detail": "refused"})
                    return
                self._answer(*receiver._record(received, self.headers.get("Authorization")))

            def _batch(self, body: bytes) -> None:
                try:
                    events = json.loads(body)["events"]
                    if not isinstance(events, list) or not events:
                        raise ValueError("'events' must be a non-empty list")
                except (ValueError, KeyError, TypeError) as exc:
                    self._answer(422, {"detail": str(exc)})
                    return
                results = []
                for i, event in enumerate(events):
                    key = event.get("idempotency_key") if isinstance(event, dict) else None
                    if not isinstance(key, str):
                        results.append({"index": i, "idempotency_key": None, "status": 422, "error": "no key"})
                    elif key in receiver.refuse_keys:
                        results.append({"index": i, "idempotency_key": key, "status": receiver.refuse_keys[key],
                                        "error": "refused"})
                    else:
                        status, _ = receiver._record(ReceivedEvent(key=key, event=event),
                                                     self.headers.get("Authorization"))
                        results.append({"index": i, "idempotency_key": key, "status": status})
                with receiver._lock:
                    receiver.batch_posts += 1
                    receiver.batch_sizes.append(len(events))
                self._answer(200, {"accepted": sum(r["status"] < 400 for r in results),
                                   "refused": sum(r["status"] >= 400 for r in results), "results": results})

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="event-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, received: ReceivedEvent, authorization: str | None) -> tuple[int, dict]:
        received.authorization = authorization
        with self._lock:
            repeat = received.key in self.unique_keys
            self.posts.append(received)
        return 200 if repeat else 201, {"idempotency_key": received.key, "repeat": repeat}

    @staticmethod
    def _parse(content_type: str, body: bytes) -> ReceivedEvent:
        if content_type.startswith("application/json"):
            event = json.loads(body)
            return ReceivedEvent(key=event["idempotency_key"], event=event)
        if not content_type.startswith("multipart/form-data"):
            raise ValueError(f"unexpected content type {content_type!r}")
        msg = BytesParser(policy=default_policy).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
        event: dict | None = None
        parts: dict[str, int] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "event":
                event = json.loads(payload)
            elif name:
                parts[str(name)] = len(payload)
        if event is None:
            raise ValueError("no 'event' part")
        return ReceivedEvent(key=event["idempotency_key"], event=event, parts=parts)
