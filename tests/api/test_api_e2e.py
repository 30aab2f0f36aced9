"""End to end over HTTP against a real uvicorn server: edge -> case -> operator -> merchant -> camera -> closed,
and a missed deadline escalating through all three levels as the service clock moves forward.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from apikit import ThreadServer, api_settings, event, evidence_ref, jpeg, make_world, post_event

from api.main import create_app
from detector.categories import Category
from detector.events import EventType


class Webhook:
    """A real HTTP endpoint that records what the service POSTs; the first call fails (to exercise retries)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.calls += 1
                if outer.calls == 1:
                    self.send_response(500)
                else:
                    outer.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture()
def live(database_url):
    hook = Webhook()
    app = create_app(api_settings(database_url, notify_webhook_url=hook.url, notify_backoff_s=1.0))
    with ThreadServer(app) as server:
        world = make_world(app)
        yield server, world, hook, app
    hook.close()


def test_case_lifecycle_over_http(live):
    server, world, hook, _app = live
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # 1. The edge box reports an episode with a frame.
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        frame = jpeg()
        started = event(world.cam_a, world.zone_a, started_at=t0, evidence=[evidence_ref("frame.jpg", frame)])
        r = post_event(http, world.tokens["edge_x"], started, files={"frame.jpg": ("frame.jpg", frame, "image/jpeg")})
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        # 2. An operator signs in with a password and confirms it from the queue.
        token = http.post("/api/v1/auth/login", json={"username": f"operator-{world.tag}",
                                                      "password": "correct horse battery"}).json()["access_token"]
        op = {"Authorization": f"Bearer {token}"}
        queue = http.get("/api/v1/cases", params={"state": "detected", "camera": world.cam_a}, headers=op).json()
        assert [c["id"] for c in queue["items"]] == [case_id]
        r = http.post(f"/api/v1/cases/{case_id}/actions/confirm", json={"note": "tables on the pavement"}, headers=op)
        assert r.json()["case"]["state"] == "notified"
        # 3. The merchant notice goes out by webhook (first attempt fails, retried after the backoff).
        admin = world.auth("admin")
        http.post("/api/v1/admin/scheduler/run", headers=admin)  # the webhook's first answer is a 500
        http.post("/api/v1/admin/clock", json={"advance_s": 5}, headers=admin)  # past the 1 s backoff
        http.post("/api/v1/admin/scheduler/run", headers=admin)
        assert hook.calls > len(hook.received)  # a failed attempt happened and was retried
        notices = [n for n in hook.received if n.get("case_id") == case_id]
        assert len(notices) == 1
        notice = notices[0]
        assert notice["kind"] == "merchant_notice" and notice["merchant"] == world.merchant_a
        link = notice["link"]
        assert link.startswith("http://frontage.test/m/fm_")
        # 4. The merchant opens the link and reports the fix.
        merchant_token = link.rsplit("/", 1)[1]
        mine = http.get(f"/api/v1/merchant/t/{merchant_token}/cases").json()
        assert [c["id"] for c in mine] == [case_id]
        r = http.post(f"/api/v1/merchant/cases/{case_id}/report-fixed", data={"note": "cleared"},
                      files={"photo": ("after.jpg", jpeg(color=(0, 0, 200)), "image/jpeg")},
                      headers={"Authorization": f"Bearer {merchant_token}"})
        assert r.json()["state"] == "merchant_reported_fixed"
        # 5. The camera sees the zone clear: verified, closed.
        cleared = event(world.cam_a, world.zone_a, type=EventType.CLEARED, seq=2, started_at=t0,
                        observed_at=datetime.now(UTC) + timedelta(seconds=10), ended_at=datetime.now(UTC))
        r = post_event(http, world.tokens["edge_x"], cleared)
        assert r.status_code == 200 and r.json()["state"] == "closed"
        detail = http.get(f"/api/v1/cases/{case_id}", headers=op).json()
        steps = [(e["action"], e["to_state"]) for e in detail["events"] if e["to_state"]]
        assert steps == [("created", "detected"), ("confirm", "confirmed"), ("notify", "notified"),
                         ("report_fixed", "merchant_reported_fixed"), ("verify", "verified"), ("close", "closed")]
        assert detail["self_rectified"] is True
        assert {e["source"] for e in detail["evidence"]} == {"edge", "merchant"}
        assert http.get(detail["evidence"][0]["url"], headers=op).content == frame


def test_missed_deadline_escalates_through_three_levels_once_each(live):
    server, world, hook, _app = live
    with httpx.Client(base_url=server.url, timeout=30) as http:
        ev = event(world.cam_a, world.zone_a, category=Category.EXPOSED_GARBAGE)
        case_id = post_event(http, world.tokens["edge_x"], ev).json()["case_id"]
        admin, op = world.auth("admin"), world.auth("operator")
        http.post(f"/api/v1/cases/{case_id}/actions/confirm", headers=op)
        levels = []
        # Deadline 1 h (exposed_garbage), then SLAs 24 h, 48 h, 72 h: jump past each, run the scheduler twice.
        for advance in (3700, 24 * 3600 + 60, 48 * 3600 + 60, 72 * 3600 + 60):
            http.post("/api/v1/admin/clock", json={"advance_s": advance}, headers=admin)
            http.post("/api/v1/admin/scheduler/run", headers=admin)
            http.post("/api/v1/admin/scheduler/run", headers=admin)  # a second pass must not escalate again
            case = http.get(f"/api/v1/cases/{case_id}", headers=op).json()
            levels.append((case["state"], case["escalation_level"]))
        assert levels == [("escalated", 1), ("escalated", 2), ("escalated", 3), ("escalated", 3)]
        events = [e for e in case["events"] if e["action"] == "escalate"]
        assert [e["escalation_level"] for e in events] == [1, 2, 3]
        assert case["events"][-1]["action"] == "sla_missed"
        # The camera still sees it: city enforcement acts, a recheck closes it.
        r = http.post(f"/api/v1/cases/{case_id}/actions/feedback", json={"note": "fined"}, headers=world.auth(
            "enforcement_city"))
        assert r.status_code == 200, r.text
        assert r.json()["case"]["state"] == "recheck"
        assert http.post(f"/api/v1/cases/{case_id}/actions/close", headers=op).json()["case"]["state"] == "closed"
        http.post("/api/v1/admin/scheduler/run", headers=admin)
        escalations = [n for n in hook.received if n["kind"] == "escalation" and n["case_id"] == case_id]
        assert [n["level"] for n in escalations] == [1, 2, 3]  # each notice delivered exactly once


def test_camera_still_sees_it_after_merchant_report_escalates(live):
    server, world, _hook, _app = live
    with httpx.Client(base_url=server.url, timeout=30) as http:
        t0 = datetime.now(UTC).replace(microsecond=0)
        case_id = post_event(http, world.tokens["edge_x"], event(world.cam_a, world.zone_a, started_at=t0)).json()[
            "case_id"]
        http.post(f"/api/v1/cases/{case_id}/actions/confirm", headers=world.auth("operator"))
        http.post(f"/api/v1/merchant/cases/{case_id}/report-fixed", data={"note": "done"},
                  headers=world.auth("merchant_a"))
        later = event(world.cam_a, world.zone_a, type=EventType.UPDATED, seq=5, started_at=t0,
                      observed_at=datetime.now(UTC) + timedelta(minutes=2))
        r = post_event(http, world.tokens["edge_x"], later)
        assert r.json()["state"] == "escalated"
        case = http.get(f"/api/v1/cases/{case_id}", headers=world.auth("operator")).json()
        assert case["escalation_level"] == 1 and "still sees" in case["events"][-1]["note"]


def test_unreachable_webhook_retries_with_backoff_then_parks_message(database_url):
    from apikit import free_port
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from api.db.models import Notification

    app = create_app(api_settings(database_url, notify_webhook_url=f"http://127.0.0.1:{free_port()}/down",
                                  notify_max_attempts=2, notify_backoff_s=1.0, notify_timeout_s=1.0))
    with TestClient(app) as c:
        world = make_world(app)
        case_id = post_event(c, world.tokens["edge_x"], event(world.cam_a, world.zone_a)).json()["case_id"]
        c.post(f"/api/v1/cases/{case_id}/actions/confirm", headers=world.auth("operator"))

        def note() -> Notification:
            with app.state.session_factory() as s:
                return s.scalar(select(Notification).where(Notification.case_id == case_id))

        c.post("/api/v1/admin/scheduler/run", headers=world.auth("admin"))
        first = note()
        assert (first.status, first.attempts) == ("pending", 1) and "ConnectError" in first.last_error
        c.post("/api/v1/admin/scheduler/run", headers=world.auth("admin"))
        assert note().attempts == 1  # backoff: not retried before its time
        c.post("/api/v1/admin/clock", json={"advance_s": 2}, headers=world.auth("admin"))
        c.post("/api/v1/admin/scheduler/run", headers=world.auth("admin"))
        assert (note().status, note().attempts) == ("dead", 2)
    app.state.engine.dispose()
