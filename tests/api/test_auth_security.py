"""Issue 13, items 3, 4, 6 and 9 on the case service (SQLite and PostgreSQL): no built-in secret key, one
login limiter for the web and the API (per address + per username, no lockout of staff by strangers), a
dummy password hash for unknown usernames, request bodies limited per route before they are read, uploads
authenticated before they are spooled, video evidence opened with PyAV.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from apikit import ThreadServer, api_settings, event, evidence_ref, post_event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def limiter(app) -> Iterator:  # type: ignore[no-untyped-def]
    """The app's one login limiter, emptied after the test (the app is shared by the whole session)."""
    yield app.state.login_limiter
    app.state.login_limiter.reset()


# ---- item 3: no built-in secret key ---------------------------------------------------------------------


def test_app_refuses_to_start_without_a_secret_key(database_url: str) -> None:
    from api.core.config import SecretKeyMissing
    from api.main import create_app

    with pytest.raises(SecretKeyMissing, match="FRONTAGE_SECRET_KEY"):
        create_app(api_settings(database_url, secret_key=None))


def test_ephemeral_dev_key_is_random_per_app(database_url: str) -> None:
    from api.main import create_app

    a = create_app(api_settings(database_url, secret_key=None, ephemeral_secret_key=True))
    b = create_app(api_settings(database_url, secret_key=None, ephemeral_secret_key=True))
    try:
        token = a.state.session_tokens.issue(1)
        assert a.state.session_tokens.read(token) is not None
        assert b.state.session_tokens.read(token) is None  # not a constant anyone can read in the source
    finally:
        a.state.engine.dispose()
        b.state.engine.dispose()


def test_frontage_serve_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTAGE_")}
    env["FRONTAGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    proc = subprocess.run([sys.executable, "-m", "detector", "serve", "--port", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "FRONTAGE_SECRET_KEY" in proc.stderr, proc.stderr[-2000:]


def test_docker_and_compose_carry_no_secret_key() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FRONTAGE_SECRET_KEY=" not in dockerfile
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    env = compose["x-server"]["environment"]
    assert env["FRONTAGE_SECRET_KEY"].startswith("${FRONTAGE_SECRET_KEY:?")  # compose refuses without it


# ---- item 4: brute force ----------------------------------------------------------------------------------


def _api_login(client, username: str, password: str) -> int:  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}).status_code


def test_api_login_is_rate_limited(client, world, limiter) -> None:  # type: ignore[no-untyped-def]
    user = f"operator-{world.tag}"
    statuses = [_api_login(client, user, "wrong password") for _ in range(6)]
    assert statuses[:4] == [401] * 4 and statuses[4:] == [429, 429], statuses
    r = client.post("/api/v1/auth/login", json={"username": user, "password": "correct horse battery"})
    assert r.status_code == 429 and "Retry-After" in r.headers, r.text


def test_web_lockout_also_closes_the_api_login(client, world, limiter) -> None:  # type: ignore[no-untyped-def]
    user = f"supervisor-{world.tag}"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    for _ in range(5):
        r = client.post("/login", data={"username": user, "password": "nope", "csrf_token": csrf},
                        follow_redirects=False)
        assert r.status_code in (401, 429)
    assert _api_login(client, user, "correct horse battery") == 429


def test_unknown_username_goes_through_the_password_hasher(app, client, limiter,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # A spy on the real hasher (it still runs argon2): counts calls, so no timing is asserted.
    calls: list[str] = []
    real = app.state.passwords.verify
    monkeypatch.setattr(app.state.passwords, "verify", lambda h, p: calls.append(p) or real(h, p))
    assert _api_login(client, "no-such-user-anywhere", "guess-1") == 401
    assert calls == ["guess-1"]


def test_strangers_cannot_lock_a_user_out() -> None:
    from api.security import LoginLimiter

    limiter = LoginLimiter(max_failures=5, window_s=600, lockout_s=600, ip_max_failures=50, user_max_failures=20)
    limiter.succeeded("ann", "10.0.0.1", now=0.0)  # ann signs in from her desk
    # An attacker at one address: locked after 5, ann at her desk is not.
    for i in range(5):
        limiter.failed("ann", "203.0.113.9", now=1.0 + i)
    assert limiter.locked_for("ann", "203.0.113.9", now=10.0) > 0
    assert limiter.locked_for("ann", "10.0.0.1", now=10.0) == 0
    # Guessing spread over 100 addresses: new addresses are held back, ann's known address is not.
    for i in range(100):
        limiter.failed("ann", f"198.51.100.{i}", now=20.0 + i * 0.1)
    assert limiter.locked_for("ann", "192.0.2.77", now=40.0) > 0
    assert limiter.locked_for("ann", "10.0.0.1", now=40.0) == 0
    # The hold-back doubles with each repeated lockout of the same key.
    backoff = LoginLimiter(max_failures=3, window_s=60, lockout_s=100, lockout_max_s=1000)
    for i in range(3):
        backoff.failed("bob", "192.0.2.1", now=float(i))
    first = backoff.locked_for("bob", "192.0.2.1", now=3.0)
    for i in range(3):
        backoff.failed("bob", "192.0.2.1", now=200.0 + i)
    second = backoff.locked_for("bob", "192.0.2.1", now=203.0)
    assert (first, second) == (99.0, 199.0)


def test_compose_trusts_forwarded_headers_only_from_the_proxy() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    allowed = compose["x-server"]["environment"]["FRONTAGE_FORWARDED_ALLOW_IPS"]
    assert "*" not in allowed
    proxy_ip = next(iter(compose["services"]["proxy"]["networks"].values()))["ipv4_address"]
    assert allowed == proxy_ip


# ---- item 6: bodies limited before they are read, uploads authenticated before they are spooled ----------


def _raw_request(server: ThreadServer, head: str, body_chunks: Iterator[bytes] | None = None,
                 timeout: float = 10.0) -> str:
    """Send a request by hand on a socket; returns the status line and headers the server answered with.

    A server that waits for the whole (huge) body before answering never answers here: the socket times out.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(head.encode())
        if body_chunks is not None:
            try:
                for chunk in body_chunks:
                    s.sendall(chunk)
            except OSError:
                pass  # the server answered and closed while we were still sending: that is the point
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except TimeoutError:
            pytest.fail("the server did not answer before the body was sent")
    return data.decode("latin-1")


@pytest.fixture(scope="module")
def server(app) -> Iterator[ThreadServer]:  # type: ignore[no-untyped-def]
    with ThreadServer(app) as srv:
        yield srv


def test_huge_declared_login_body_is_refused_unread(server: ThreadServer) -> None:
    head = ("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\n")
    answer = _raw_request(server, head, iter([b"{" + b" " * 1024]))
    assert answer.startswith("HTTP/1.1 413"), answer[:300]


def test_streamed_login_body_is_cut_at_the_limit(server: ThreadServer) -> None:
    head = ("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    chunks = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(64))  # 4 MiB, never ending JSON
    answer = _raw_request(server, head, chunks)
    assert answer.startswith("HTTP/1.1 413"), answer[:300]


def test_huge_web_login_form_is_refused_unread(server: ThreadServer) -> None:
    head = ("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\n")
    answer = _raw_request(server, head, iter([b"--b\r\n"]))
    assert answer.startswith("HTTP/1.1 413"), answer[:300]


@pytest.mark.parametrize("path", ["/api/v1/merchant/cases/1/report-fixed",
                                  "/api/v1/merchant/t/fm_not-a-real-token-0123456789/cases/1/report-fixed",
                                  "/m/fm_not-a-real-token-0123456789/cases/1/fixed"])
def test_anonymous_upload_is_refused_before_it_is_spooled(server: ThreadServer, path: str) -> None:
    auth = "Authorization: Bearer fm_not-a-real-token-0123456789\r\n" if "/t/" not in path and "/m/" not in path else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\n\r\n")  # within the size limit: only the credential stops it
    answer = _raw_request(server, head, iter([b"--b\r\n"]))
    status = int(answer.split()[1])
    assert status in (401, 403, 404), answer[:300]


def test_body_limits_answer_a_clear_413(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/auth/login", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]


# ---- item 9: video evidence is opened before it is stored -------------------------------------------------


def test_fake_video_is_refused_and_the_event_can_still_be_sent(client, world) -> None:  # type: ignore[no-untyped-def]
    from detector.events import EvidenceKind

    fake = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(2048)
    ev = event(world.cam_a, world.zone_a, evidence=[evidence_ref("clip.mp4", fake, EvidenceKind.CLIP, "video/mp4")])
    r = post_event(client, world.tokens["edge_x"], ev, files={"clip.mp4": ("clip.mp4", fake, "video/mp4")})
    assert r.status_code == 415, r.text
    assert "video" in r.json()["detail"]
    # Nothing of the event is lost: the same episode without the refused clip goes in.
    r = post_event(client, world.tokens["edge_x"], ev.model_copy(update={"evidence": []}))
    assert r.status_code == 201, r.text


def test_real_video_is_accepted(client, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from detector.events import EvidenceKind
    from detector.synth.clip import encode

    frame = np.zeros((96, 160, 3), np.uint8)
    try:
        encode(lambda i: np.roll(frame + i, i, axis=1), 6, tmp_path / "c.mp4", 5.0, (160, 96))
    except RuntimeError:
        pytest.skip("no H.264 encoder in this PyAV build")
    data = (tmp_path / "c.mp4").read_bytes()
    ev = event(world.cam_a, world.zone_a, evidence=[evidence_ref("clip.mp4", data, EvidenceKind.CLIP, "video/mp4")])
    r = post_event(client, world.tokens["edge_x"], ev, files={"clip.mp4": ("clip.mp4", data, "video/mp4")})
    assert r.status_code == 201, r.text
