"""City dispatch over a real HTTP receiver on 127.0.0.1 (a stdlib server in a thread, standing in for the
city's platform), on SQLite and PostgreSQL: the signature verifies over the exact body, a failed delivery is
retried through the outbox (same delivery id and bytes), and every attempt with the platform's reply lands
in the case's audit trail. Also the supervisor's manual dispatch and its refusals.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from apikit import api_settings, event, make_world, post_event
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db.models import Notification
from api.dispatch import KIND, SIGNATURE_HEADER, verify

SECRET = "city-dispatch-shared-secret-0123"


class Receiver:
    """Answers each POST with the next scripted status (then 200) and records what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = outer.statuses.pop(0) if outer.statuses else 200
                outer.received.append({"body": body, "signature": self.headers.get(SIGNATURE_HEADER),
                                       "delivery": self.headers.get("X-Frontage-Delivery"),
                                       "verified": verify(body, SECRET, self.headers.get(SIGNATURE_HEADER))})
                reply = (json.dumps({"ticket": f"CD-{len(outer.received):04d}", "accepted": True}) if status < 400
                         else json.dumps({"error": "platform busy"})).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dispatch"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with Receiver([503]) as r:
        yield r


def _dispatch_app(database_url: str, url: str | None, **overrides):  # type: ignore[no-untyped-def]
    from api.main import create_app

    return create_app(api_settings(database_url, dispatch_webhook_url=url, dispatch_webhook_secret=SECRET,
                                   secret_key="dispatch-test-session-key-0123456789",
                                   notify_backoff_s=30.0, notify_timeout_s=5.0, **overrides))


def _run_scheduler(c: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    assert c.post("/api/v1/admin/scheduler/run", headers=world.auth("admin")).status_code == 200


def _audit(c: TestClient, world, case_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return c.get(f"/api/v1/cases/{case_id}", headers=world.auth("operator")).json()["events"]


def test_escalation_is_dispatched_signed_retried_and_the_reply_audited(own_database_url, receiver):
    # Its own database: the outbox is drained oldest-due first, 50 at a time, and the session database holds
    # other tests' pending notices (due earlier on the clock they moved), which took the whole batch in CI.
    app = _dispatch_app(own_database_url, receiver.url)
    with TestClient(app) as c:
        world = make_world(app)
        case_id = post_event(c, world.tokens["edge_x"], event(world.cam_a, world.zone_free)).json()["case_id"]
        r = c.post(f"/api/v1/cases/{case_id}/actions/confirm", headers=world.auth("operator")).json()
        assert r["steps"][-1] == ["escalate", "escalated"]  # no merchant: straight to L1, which dispatches

        _run_scheduler(c, world)
        assert len(receiver.received) == 1 and receiver.received[0]["verified"]
        with app.state.session_factory() as s:
            note = s.scalar(select(Notification).where(Notification.case_id == case_id, Notification.kind == KIND))
            assert (note.status, note.attempts) == ("pending", 1) and "503" in note.last_error
        failed = [e for e in _audit(c, world, case_id) if e["action"] == "dispatch_failed"]
        assert len(failed) == 1 and "503" in failed[0]["note"] and "platform busy" in failed[0]["note"]

        c.post("/api/v1/admin/clock", json={"advance_s": 31}, headers=world.auth("admin"))
        _run_scheduler(c, world)
        assert len(receiver.received) == 2
        first, second = receiver.received
        assert second["verified"] and second["body"] == first["body"] and second["delivery"] == first["delivery"]
        body = json.loads(second["body"])
        assert body["schema"] == "frontage.dispatch/1" and body["delivery_id"] == note.id
        assert body["case"]["id"] == case_id and body["case"]["escalation_level"] == 1
        assert body["camera"]["code"] == world.cam_a and body["zone"] == world.zone_free and body["merchant"] is None
        assert not verify(second["body"] + b" ", SECRET, second["signature"])  # any change breaks it
        with app.state.session_factory() as s:
            assert s.get(Notification, note.id).status == "sent"
        actions = [(e["action"], e["actor"]) for e in _audit(c, world, case_id)]
        assert ("dispatch_queued", "system:dispatch") in actions and ("dispatched", "system:dispatch") in actions
        done = next(e for e in _audit(c, world, case_id) if e["action"] == "dispatched")
        assert "CD-0002" in done["note"] and "HTTP 200" in done["note"]

        # Escalating further (L2) does not send it again: it reached the dispatch level once.
        c.post(f"/api/v1/cases/{case_id}/actions/escalate", headers=world.auth("supervisor"))
        _run_scheduler(c, world)
        assert len(receiver.received) == 2

        # A supervisor may send it again by hand; operators may not; a case that is not escalated is refused.
        assert c.post(f"/api/v1/dispatch/cases/{case_id}", headers=world.auth("operator")).status_code == 403
        r = c.post(f"/api/v1/dispatch/cases/{case_id}", json={"note": "still there"}, headers=world.auth("supervisor"))
        assert r.status_code == 202, r.text
        _run_scheduler(c, world)
        assert len(receiver.received) == 3 and receiver.received[2]["verified"]
        assert json.loads(receiver.received[2]["body"])["case"]["reason"] == "still there"
        other = post_event(c, world.tokens["edge_x"], event(world.cam_a, world.zone_a)).json()["case_id"]
        r = c.post(f"/api/v1/dispatch/cases/{other}", headers=world.auth("supervisor"))
        assert r.status_code == 409 and "only escalated cases" in r.json()["detail"]
    app.state.engine.dispose()


def test_dispatch_not_configured_is_a_clear_409(database_url):
    app = _dispatch_app(database_url, None)
    with TestClient(app) as c:
        world = make_world(app)
        case_id = post_event(c, world.tokens["edge_x"], event(world.cam_a, world.zone_free)).json()["case_id"]
        c.post(f"/api/v1/cases/{case_id}/actions/confirm", headers=world.auth("operator"))
        r = c.post(f"/api/v1/dispatch/cases/{case_id}", headers=world.auth("supervisor"))
        assert r.status_code == 409 and "FRONTAGE_DISPATCH_WEBHOOK_URL" in r.json()["detail"]
        with app.state.session_factory() as s:
            assert s.scalar(select(Notification.id).where(Notification.case_id == case_id,
                                                          Notification.kind == KIND)) is None
    app.state.engine.dispose()
