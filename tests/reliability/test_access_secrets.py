"""Secrets and access, against the production command (``frontage serve``, a real subprocess on PostgreSQL,
its whole log captured):

* passwords, device API keys and merchant link tokens are stored hashed: the raw values appear nowhere in
  any row of any table (every table dumped as JSON and searched);
* merchant link tokens expire (service clock moved past their lifetime) and can be revoked; device keys
  can be revoked;
* no secret in the log: every raw password, key and token used during the run is searched for in it;
* CORS is closed by default: no Access-Control-Allow-Origin for a foreign origin, preflight refused.

The endpoint x identity matrix (anonymous, merchant A/B, edge X/Y, operator, enforcement, admin) is
tests/api/test_api_authz.py::test_authorization_matrix (with test_matrix_covers_every_endpoint); the
pages' security headers, CSRF, login lockout and merchant isolation are tests/web/test_security.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from relkit import ServiceProcess, login, seed
from sqlalchemy import create_engine, inspect, text

from api.security import sha256_hex
from detector.events import EventType, ModelInfo, ViolationEvent

pytestmark = pytest.mark.slow
ZONES = """\
camera: sec-cam
zones:
  - id: z-1
    merchant: m-sec
    kind: storefront
    polygon: [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]
    forbid: [out_of_store_trading]
"""
TTL_S = 3600


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One service run that creates and uses every kind of secret; the tests then inspect what it left."""
    from relkit import rel_schema, require_postgres

    require_postgres()
    d = tmp_path_factory.mktemp("secrets")
    with rel_schema() as url:
        seeded = seed(url, [ZONES], {"edge-sec": ["sec-cam"]}, users={"sec-admin": "admin"})
        svc = ServiceProcess(url, d / "service.log", frontage_serve=True, FRONTAGE_ALLOW_CLOCK_CONTROL="true",
                             FRONTAGE_MERCHANT_TOKEN_TTL_S=str(TTL_S))
        secrets: dict[str, str] = {"seeded admin password": seeded.passwords["sec-admin"],
                                   "seeded device key": seeded.device_keys["edge-sec"]}
        out: dict = {"secrets": secrets, "url": url, "service": svc}
        with svc:
            base = svc.url
            admin = login(base, "sec-admin", seeded.passwords["sec-admin"])
            secrets["admin session token"] = admin["Authorization"].split()[1]
            # A user made through the API, who signs in (and once fails to).
            secrets["api user password"] = "Tr0ub4dor&3-very-secret"
            r = httpx.post(base + "/api/v1/auth/users", headers=admin, timeout=10,
                           json={"username": "sec-op", "password": secrets["api user password"], "role": "operator"})
            assert r.status_code == 201, r.text
            op = login(base, "sec-op", secrets["api user password"])
            secrets["operator session token"] = op["Authorization"].split()[1]
            bad = httpx.post(base + "/api/v1/auth/login", json={"username": "sec-op", "password": "wrong-Pa55word-xyz"},
                             timeout=10)
            assert bad.status_code == 401
            # A device made through the API sends an event.
            r = httpx.post(base + "/api/v1/devices", headers=admin, json={"name": "edge-api", "cameras": ["sec-cam"]},
                           timeout=10)
            assert r.status_code == 201, r.text
            secrets["api device key"] = r.json()["api_key"]
            t = datetime(2026, 7, 1, 9, tzinfo=UTC)
            ev = ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera="sec-cam", zone="z-1",
                                            category="out_of_store_trading", started_at=t, observed_at=t,
                                            confidence=0.9, model=ModelInfo(name="frontage-n", version="t"))
            r = httpx.post(base + "/api/v1/events", content=ev.model_dump_json(), timeout=10,
                           headers={"Authorization": f"Bearer {secrets['api device key']}",
                                    "Content-Type": "application/json"})
            assert r.status_code == 201, r.text
            case_id = r.json()["case_id"]
            assert httpx.post(f"{base}/api/v1/cases/{case_id}/actions/confirm", headers=op, timeout=10).status_code == 200
            # A merchant link, used the three ways a merchant uses it (header, API path, the page).
            r = httpx.post(base + "/api/v1/merchants/m-sec/links", headers=op, timeout=10)
            assert r.status_code == 201, r.text
            token = secrets["merchant token"] = r.json()["token"]
            merchant = {"Authorization": f"Bearer {token}"}
            out["merchant_me"] = httpx.get(base + "/api/v1/merchant/me", headers=merchant, timeout=10).status_code
            out["merchant_path_me"] = httpx.get(f"{base}/api/v1/merchant/t/{token}/me", timeout=10).status_code
            page = httpx.get(f"{base}/m/{token}", timeout=10)
            out["merchant_page"] = page.status_code
            out["page_headers"] = {"/m/{token}": page.headers, "/login": httpx.get(base + "/login", timeout=10).headers}
            # Expiry: the service clock moves past the token's lifetime.
            r = httpx.post(base + "/api/v1/admin/clock", headers=admin, json={"advance_s": TTL_S + 60}, timeout=10)
            assert r.status_code == 200, r.text
            out["merchant_me_expired"] = httpx.get(base + "/api/v1/merchant/me", headers=merchant, timeout=10).status_code
            # Revocation: a fresh link works, then is revoked.
            r = httpx.post(base + "/api/v1/merchants/m-sec/links", headers=op, timeout=10)
            fresh = secrets["second merchant token"] = r.json()["token"]
            out["fresh_me"] = httpx.get(base + "/api/v1/merchant/me", headers={"Authorization": f"Bearer {fresh}"},
                                        timeout=10).status_code
            r = httpx.post(base + "/api/v1/merchants/m-sec/links/revoke", headers=op, timeout=10)
            assert r.status_code == 200, r.text
            out["fresh_me_revoked"] = httpx.get(base + "/api/v1/merchant/me", timeout=10,
                                                headers={"Authorization": f"Bearer {fresh}"}).status_code
            # Device revocation.
            r = httpx.post(base + "/api/v1/devices/edge-api/revoke", headers=admin, timeout=10)
            assert r.status_code == 200, r.text
            ev2 = ev.model_copy(update={"idempotency_key": ev.idempotency_key + "-again"})
            out["revoked_device"] = httpx.post(base + "/api/v1/events", content=ev2.model_dump_json(), timeout=10,
                                               headers={"Authorization": f"Bearer {secrets['api device key']}",
                                                        "Content-Type": "application/json"}).status_code
            # CORS from a foreign origin.
            evil = {"Origin": "https://evil.example"}
            out["cors_get"] = httpx.get(base + "/api/v1/cases", headers={**op, **evil}, timeout=10)
            out["cors_preflight"] = httpx.options(base + "/api/v1/cases", timeout=10, headers={
                **evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
        # The database, every table, as text.
        engine = create_engine(url)
        try:
            dump = []
            with engine.connect() as conn:
                for table in inspect(conn).get_table_names():
                    dump += [str(row[0]) for row in conn.execute(text(f'SELECT row_to_json(t) FROM "{table}" t'))]
                out["users"] = conn.execute(text("SELECT username, password_hash FROM users")).all()
                out["devices"] = conn.execute(text("SELECT name, key_hash FROM edge_devices")).all()
                out["tokens"] = list(conn.execute(text("SELECT token_hash FROM merchant_tokens")).scalars())
            out["dump"] = "\n".join(dump)
        finally:
            engine.dispose()
        out["log"] = (d / "service.log").read_text(errors="replace")
        yield out


def test_secrets_are_stored_hashed(run: dict) -> None:
    s = run["secrets"]
    for username, password_hash in run["users"]:
        assert password_hash.startswith("$argon2id$"), username
    assert {h for _, h in run["devices"]} == {sha256_hex(s["seeded device key"]), sha256_hex(s["api device key"])}
    # (confirming the case also issued a link for the notice: more rows than the two we asked for)
    assert {sha256_hex(s["merchant token"]), sha256_hex(s["second merchant token"])} <= set(run["tokens"])
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in run["tokens"])
    leaked = [name for name, value in s.items() if value in run["dump"]]
    assert not leaked, f"raw secrets found in the database: {leaked}"


def test_merchant_tokens_expire_and_revoke_devices_revoke(run: dict) -> None:
    assert (run["merchant_me"], run["merchant_path_me"], run["merchant_page"]) == (200, 200, 200)
    assert run["merchant_me_expired"] == 401
    assert run["fresh_me"] == 200 and run["fresh_me_revoked"] == 401
    assert run["revoked_device"] == 401


def test_security_headers_on_pages_of_the_production_command(run: dict) -> None:
    for path, headers in run["page_headers"].items():
        csp = headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, (path, csp)
        assert headers.get("x-frame-options") == "DENY", path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "no-referrer", path


def test_cors_closed_by_default(run: dict) -> None:
    get, preflight = run["cors_get"], run["cors_preflight"]
    assert get.status_code == 200 and "access-control-allow-origin" not in get.headers
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code in (400, 401, 403, 404, 405), preflight.status_code


def test_no_secret_in_the_log(run: dict) -> None:
    log = run["log"]
    assert "GET /api/v1/merchant/me" in log or "/healthz" in log  # the access log is really there
    leaked = {name: next(line for line in log.splitlines() if value in line)[:200]
              for name, value in run["secrets"].items() if value in log}
    assert not leaked, f"secrets in the service log: {leaked}"


def test_no_password_or_key_in_the_log(run: dict) -> None:
    """Apart from the link tokens above: passwords, API keys and session tokens never reach the log."""
    log = run["log"]
    leaked = [name for name, value in run["secrets"].items() if "merchant token" not in name and value in log]
    assert not leaked, leaked
    assert "Traceback" not in log, log[-3000:]

