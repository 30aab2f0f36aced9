"""A real case service for the page tests: migrations on a fresh SQLite file, reference data and users
through `api.services.registration`, cases made by edge events posted to ``POST /api/v1/events`` (with JPEG evidence drawn by
the edge's own `annotate` on the project's synthetic street stills, and one H.264 clip), served by uvicorn
on a free port; and headless Debian Chromium driven by Playwright.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from detector.categories import Category
from detector.events import EventDetection, EventType, EvidenceKind, EvidenceRef, ModelInfo, ViolationEvent

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery staple"
USERS = {"op": "operator", "sup": "supervisor", "admin": "admin"}
MERCHANTS = {"m-001": ("老王烧烤", "解放路 12 号"), "m-002": ("美佳超市", "解放路 18 号"),
             "m-003": ("小李水果店", "人民路 5 号"), "m-004": ("同心五金", "人民路 9 号")}
CAMERAS: dict[str, dict[str, Any]] = {
    "cam-01": {"name": "解放路东口", "road": "解放路", "zones": [
        ("z-m001", "m-001", [[0.05, 0.55], [0.35, 0.55], [0.38, 0.95], [0.02, 0.95]]),
        ("z-m002", "m-002", [[0.40, 0.55], [0.70, 0.55], [0.74, 0.95], [0.40, 0.95]])]},
    "cam-02": {"name": "人民路北段", "road": "人民路", "zones": [
        ("z-m003", "m-003", [[0.05, 0.50], [0.45, 0.50], [0.45, 0.95], [0.05, 0.95]]),
        ("z-m004", "m-004", [[0.55, 0.50], [0.95, 0.50], [0.95, 0.95], [0.55, 0.95]])]},
}
FORBID = [str(c) for c in Category]

#: The cases the tests work on: (name, camera, zone, category, confidence).
CASES = [
    ("queue_confirm", "cam-01", "z-m001", Category.OUT_OF_STORE_TRADING, 0.93),
    ("queue_reject", "cam-01", "z-m002", Category.EXPOSED_GARBAGE, 0.61),
    ("to_escalate", "cam-02", "z-m003", Category.STACKED_MATERIALS, 0.88),
    ("merchant_fix", "cam-02", "z-m004", Category.DISORDERLY_PARKING, 0.9),
    ("merchant_other", "cam-01", "z-m002", Category.STREET_VENDING, 0.8),
    ("keyboard", "cam-02", "z-m003", Category.EXPOSED_GARBAGE, 0.77),
    ("bystander", "cam-01", "z-m001", Category.EXPOSED_GARBAGE, 0.7),
    ("self_fixed", "cam-02", "z-m003", Category.STREET_VENDING, 0.85),
]


@dataclass
class WebServer:
    base_url: str
    app: Any
    cases: dict[str, int]
    camera_ids: dict[str, int]
    merchant_tokens: dict[str, str] = field(default_factory=dict)
    evidence_ids: dict[str, list[int]] = field(default_factory=dict)

    def db(self) -> Any:
        return self.app.state.session_factory()

    def case_state(self, name: str) -> str:
        from api.db.models import Case

        with self.db() as s:
            case = s.get(Case, self.cases[name])
            assert case is not None
            return case.state


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _street_image(seed: int, polygon: list[list[float]], header: str) -> tuple[bytes, bytes, list[list[float]]]:
    """A synthetic street still with the zone and the boxes drawn the way the edge draws them."""
    from detector.evidence.writer import annotate, crop_box
    from detector.synth.stills import random_labeled_frame

    w, h = 960, 540
    frame = random_labeled_frame(seed, 0, size=(w, h))
    boxes = frame.xyxy[:3] if len(frame.xyxy) else np.array([[w * 0.2, h * 0.6, w * 0.3, h * 0.85]], np.float32)
    names = frame.class_names[:3] if len(frame.xyxy) else ["goods_display"]
    poly_px = np.array(polygon, np.float32) * np.array([w, h], np.float32)
    drawn = annotate(frame.image, poly_px, [], boxes, names, header)
    x1, y1, x2, y2 = crop_box(boxes, (w, h))
    ok1, full = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, 80])
    ok2, crop = cv2.imencode(".jpg", drawn[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok1 and ok2
    norm = [[float(b[0]) / w, float(b[1]) / h, float(b[2]) / w, float(b[3]) / h] for b in boxes]
    return full.tobytes(), crop.tobytes(), norm


def _clip(path: Path, image: bytes) -> bytes | None:
    from detector.synth.clip import encode

    still = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    small = cv2.resize(still, (320, 180))
    try:
        encode(lambda i: np.roll(small, i * 2, axis=1), 10, path, 5.0, (320, 180))
    except RuntimeError:
        return None  # no H.264 encoder in this PyAV build: the case simply has no clip
    return path.read_bytes()


def _post_event(client: httpx.Client, key: str, event: ViolationEvent, files: dict[str, tuple[str, bytes, str]]) -> dict:
    parts = {"event": (None, event.model_dump_json(), "application/json")}
    parts.update(files)
    r = client.post("/api/v1/events", files=parts, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    import uvicorn

    from api.core.config import Settings
    from api.db.migrate import upgrade
    from api.db.session import make_engine, make_session_factory, session_scope
    from api.main import create_app
    from api.security import Passwords
    from api.services.registration import apply_zones, create_device, create_user, get_or_create_merchant
    from detector.zones.schema import parse_zones

    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'frontage.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    upgrade(url)
    settings = Settings(database_url=url, auto_migrate=False, scheduler_enabled=False, public_url=base,
                        argon2_time_cost=1, argon2_memory_kib=1024, repeat_offender_cases=10,
                        secret_key="web-tests-secret-key-0123456789abcdef")
    now = datetime.now(UTC)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as s:
        passwords = Passwords(1, 1024)
        for name, role in USERS.items():
            create_user(s, passwords, name, PASSWORD, role, now, full_name=f"{role} {name}")
        for code, (name, address) in MERCHANTS.items():
            get_or_create_merchant(s, code, now, name=name, address=address, contact="138-0000-0000")
        for code, cam in CAMERAS.items():
            zones = parse_zones({"camera": code, "zones": [
                {"id": zid, "merchant": m, "kind": "storefront", "polygon": poly, "forbid": FORBID, "dwell_s": 30}
                for zid, m, poly in cam["zones"]]})
            apply_zones(s, zones, now, camera_name=cam["name"], road=cam["road"])
        _, device_key = create_device(s, "edge-web-01", list(CAMERAS), now)
    engine.dispose()

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)

    cases: dict[str, int] = {}
    evidence: dict[str, list[int]] = {}
    starts: dict[str, datetime] = {}
    model = ModelInfo(name="frontage-n", version="test")
    with httpx.Client(base_url=base, timeout=30) as client:
        for i, (name, camera, zone, category, conf) in enumerate(CASES):
            poly = next(p for z, _, p in CAMERAS[camera]["zones"] if z == zone)
            started = starts[name] = now - timedelta(minutes=90 - i * 5)
            full, crop, boxes = _street_image(100 + i, poly, f"{camera} {zone} {category}")
            files = {"frame": ("frame.jpg", full, "image/jpeg"), "crop": ("crop.jpg", crop, "image/jpeg")}
            if name == "queue_confirm":
                clip = _clip(tmp / "clip.mp4", full)
                if clip:
                    files["clip"] = ("clip.mp4", clip, "video/mp4")
            refs = [EvidenceRef(name=k, kind=EvidenceKind(k), content_type=ctype,
                                sha256=__import__("hashlib").sha256(data).hexdigest(), size=len(data))
                    for k, (_, data, ctype) in files.items()]
            event = ViolationEvent.for_episode(
                type=EventType.STARTED, seq=0, camera=camera, zone=zone, category=category, started_at=started,
                observed_at=started + timedelta(seconds=30), confidence=conf, model=model, evidence=refs,
                merchant=next(m for z, m, _ in CAMERAS[camera]["zones"] if z == zone), frame_size=(960, 540),
                detections=[EventDetection(class_name="goods_display", category=category, score=conf, box=b)
                            for b in boxes])
            result = _post_event(client, device_key, event, files)
            cases[name] = result["case_id"]
            evidence[name] = result["evidence_ids"]
        # Some cases move on through the operator API, as staff elsewhere would have done.
        token = client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD}).json()["access_token"]
        staff = {"Authorization": f"Bearer {token}"}
        for name in ("to_escalate", "merchant_fix", "merchant_other", "self_fixed"):
            r = client.post(f"/api/v1/cases/{cases[name]}/actions/confirm", json={}, headers=staff)
            assert r.status_code == 200, r.text
        tokens = {}
        for code in ("m-002", "m-004"):
            r = client.post(f"/api/v1/merchants/{code}/links", headers=staff)
            assert r.status_code == 201, r.text
            tokens[code] = r.json()["token"]
        # One case the merchant fixed and the camera then saw clear: a self-rectification for the dashboard.
        r = client.post("/api/v1/merchants/m-003/links", headers=staff)
        m3 = {"Authorization": f"Bearer {r.json()['token']}"}
        r = client.post(f"/api/v1/merchant/cases/{cases['self_fixed']}/report-fixed", data={"note": "已清理"},
                        headers=m3)
        assert r.status_code == 200, r.text
        _, camera, zone, category, conf = CASES[-1]
        cleared = ViolationEvent.for_episode(
            type=EventType.CLEARED, seq=1, camera=camera, zone=zone, category=category,
            started_at=starts["self_fixed"], observed_at=now, ended_at=now, confidence=conf, model=model)
        r = client.post("/api/v1/events", content=cleared.model_dump_json(),
                        headers={"Authorization": f"Bearer {device_key}", "Content-Type": "application/json"})
        assert r.status_code in (200, 201) and r.json()["state"] == "closed", r.text

    with app.state.session_factory() as s:
        from api.db.models import Camera

        camera_ids = {c.code: c.id for c in s.query(Camera)}
    yield WebServer(base_url=base, app=app, cases=cases, camera_ids=camera_ids, merchant_tokens=tokens,
                    evidence_ids=evidence)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium): scripts/install-system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def context(browser: Any, web_server: WebServer) -> Iterator[Any]:
    ctx = browser.new_context(base_url=web_server.base_url, viewport={"width": 1366, "height": 900},
                              locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(15_000)
    problems = watch_problems(ctx)
    yield ctx
    ctx.close()
    assert not problems, problems


def watch_problems(ctx: Any) -> list[str]:
    """Collect script errors and CSP violations of every page of ``ctx`` (the test asserts none)."""
    problems: list[str] = []

    def watch(page: Any) -> None:
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                if msg.type == "error" and ("Content Security Policy" in msg.text or "Uncaught" in msg.text)
                else None)

    ctx.on("page", watch)
    return problems


def login(page: Any, username: str, password: str = PASSWORD, next_path: str = "/queue") -> None:
    page.goto(f"/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0]) + r"(\?.*)?$"))


def form_client(web_server: WebServer, username: str | None) -> tuple[httpx.Client, str]:
    """A plain HTTP client with the browser's cookies (optionally signed in) and the page's CSRF token."""
    client = httpx.Client(base_url=web_server.base_url, follow_redirects=False, timeout=30)
    html = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    if username:
        r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf,
                                        "next": "/queue"})
        assert r.status_code == 303, r.text
        html = client.get("/queue").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    return client, csrf


def jpeg_photo(path: Path) -> Path:
    img = np.full((480, 640, 3), (200, 205, 210), np.uint8)
    cv2.rectangle(img, (0, 300), (640, 480), (120, 120, 125), -1)
    cv2.putText(img, "cleared", (200, 250), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (40, 120, 40), 3)
    cv2.imwrite(str(path), img)
    return path


__all__ = ["PASSWORD", "WebServer", "form_client", "jpeg_photo", "json", "login"]
