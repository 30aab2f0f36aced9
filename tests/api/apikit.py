"""Helpers for the case-service tests: seeded worlds, edge events, images, a uvicorn server in a thread."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from PIL import Image

from api.core.config import Settings
from api.db.session import session_scope
from api.services.registration import apply_zones, create_device, create_user, get_or_create_merchant
from api.workflow import issue_merchant_token
from detector.categories import Category
from detector.events import EventType, EvidenceKind, EvidenceRef, ModelInfo, ViolationEvent
from detector.zones.schema import parse_zones

ROLES = ("operator", "supervisor", "enforcement_street", "enforcement_district", "enforcement_city", "admin")


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG")
    return buf.getvalue()


def png(width: int = 32, height: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (0, 128, 0)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class World:
    """One test's own cameras, zones, merchants, devices and users (unique names: tests share a database)."""

    tag: str
    cam_a: str
    cam_b: str
    zone_a: str  # merchant A's zone on cam_a
    zone_b: str  # merchant B's zone on cam_b
    zone_free: str  # no merchant, on cam_a
    merchant_a: str
    merchant_b: str
    device_x: str  # reports for cam_a
    device_y: str  # reports for cam_b
    tokens: dict[str, str] = field(default_factory=dict)  # who -> bearer
    road: str = ""

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who != "anonymous" else {}


def make_world(app: Any) -> World:
    tag = uuid.uuid4().hex[:8]
    w = World(tag=tag, cam_a=f"cam-a-{tag}", cam_b=f"cam-b-{tag}", zone_a="z-a", zone_b="z-b", zone_free="z-free",
              merchant_a=f"m-a-{tag}", merchant_b=f"m-b-{tag}", device_x=f"edge-x-{tag}", device_y=f"edge-y-{tag}",
              road=f"Road {tag}")
    poly = [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]
    poly2 = [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]]
    cats = [c.value for c in Category]
    now = app.state.clock.now()
    with session_scope(app.state.session_factory) as s:
        get_or_create_merchant(s, w.merchant_a, now, name=f"Shop A {tag}", contact="a@example.org")
        get_or_create_merchant(s, w.merchant_b, now, name=f"Shop B {tag}")
        apply_zones(s, parse_zones({"camera": w.cam_a, "zones": [
            {"id": w.zone_a, "merchant": w.merchant_a, "kind": "storefront", "polygon": poly, "forbid": cats},
            {"id": w.zone_free, "kind": "sidewalk", "polygon": poly2, "forbid": cats}]}), now, road=w.road)
        apply_zones(s, parse_zones({"camera": w.cam_b, "zones": [
            {"id": w.zone_b, "merchant": w.merchant_b, "kind": "storefront", "polygon": poly, "forbid": cats}]}),
            now, road=w.road)
        _, w.tokens["edge_x"] = create_device(s, w.device_x, [w.cam_a], now)
        _, w.tokens["edge_y"] = create_device(s, w.device_y, [w.cam_b], now)
        from sqlalchemy import select

        from api.db.models import Merchant

        for key, code in (("merchant_a", w.merchant_a), ("merchant_b", w.merchant_b)):
            m = s.scalar(select(Merchant).where(Merchant.code == code))
            w.tokens[key] = issue_merchant_token(s, app.state.settings, m, now)
        for role in ROLES:
            user = create_user(s, app.state.passwords, f"{role}-{tag}", "correct horse battery", role, now)
            w.tokens[role] = app.state.session_tokens.issue(user.id)
    w.tokens["enforcement"] = w.tokens["enforcement_street"]
    return w


def event(w_cam: str, zone: str, *, type: EventType = EventType.STARTED, seq: int = 0,
          category: Category = Category.OUT_OF_STORE_TRADING, started_at: datetime | None = None,
          observed_at: datetime | None = None, confidence: float = 0.8, evidence: list[EvidenceRef] | None = None,
          ended_at: datetime | None = None) -> ViolationEvent:
    started = started_at or datetime.now(UTC).replace(microsecond=0)
    observed = observed_at or started + timedelta(seconds=seq * 10)
    return ViolationEvent.for_episode(
        type=type, seq=seq, camera=w_cam, zone=zone, category=category, started_at=started, observed_at=observed,
        confidence=confidence, model=ModelInfo(name="frontage-n", version="test"), evidence=evidence or [],
        ended_at=ended_at)


def evidence_ref(name: str, data: bytes, kind: EvidenceKind = EvidenceKind.FRAME,
                 content_type: str = "image/jpeg") -> EvidenceRef:
    return EvidenceRef(name=name, kind=kind, content_type=content_type, sha256=hashlib.sha256(data).hexdigest(),
                       size=len(data))


def post_event(client: Any, token: str, ev: ViolationEvent,
               files: dict[str, tuple[str, bytes, str]] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if files is None and not ev.evidence:
        return client.post("/api/v1/events", content=ev.model_dump_json(),
                           headers={**headers, "Content-Type": "application/json"})
    return client.post("/api/v1/events", data={"event": ev.model_dump_json()}, files=files or {}, headers=headers)


def api_settings(database_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": database_url, "scheduler_enabled": False, "auto_migrate": False,
        "allow_clock_control": True, "argon2_time_cost": 1, "argon2_memory_kib": 1024,
        "evidence_max_bytes": 512 * 1024, "evidence_max_pixels": 4_000_000,
        "public_url": "http://frontage.test",
        # An explicit test key (the service refuses to start without one); a test may pass secret_key=None.
        "secret_key": "tests-only-secret-key-not-for-production-0123456789"}
    base.update(overrides)
    return Settings(**base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """A real uvicorn server on a free port in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
