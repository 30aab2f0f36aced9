"""The pages' security over plain HTTP (no browser needed): login required, CSRF, merchant isolation,
headers, login lockout. (The message catalogs: tests/web/test_i18n.py.)"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import PASSWORD, WebServer, form_client

STAFF_PAGES = ["/queue", "/queue/rows", "/dashboard", "/cameras", "/cameras/1/zones", "/cameras/1/zones.yaml",
               "/cameras/1/snapshot", "/cases/1", "/cases/1/next", "/evidence/1"]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_need_login(web_server: WebServer, path: str) -> None:
    r = httpx.get(web_server.base_url + path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


def test_forms_need_login_and_change_nothing(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, None)
    case_id = web_server.cases["bystander"]
    before = web_server.case_state("bystander")
    for path, data in [(f"/cases/{case_id}/action", {"action": "reject"}),
                       ("/cameras/1/zones", {"zones_json": "[]"})]:
        r = client.post(path, data={**data, "csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), (path, r.status_code)
    assert web_server.case_state("bystander") == before
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303


def test_post_without_csrf_is_refused(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, "op")
    case_id = web_server.cases["bystander"]
    r = client.post(f"/cases/{case_id}/action", data={"action": "reject"})
    assert r.status_code == 403 and "表单已过期" in r.text  # a page that says what to do, not a traceback
    r = client.post(f"/cases/{case_id}/action", data={"action": "reject", "csrf_token": csrf + "x"})
    assert r.status_code == 403
    assert web_server.case_state("bystander") == "detected"
    # The login form itself is CSRF-bound as well (no login CSRF).
    fresh = httpx.Client(base_url=web_server.base_url)
    r = fresh.post("/login", data={"username": "op", "password": PASSWORD})
    assert r.status_code == 403


def test_security_headers_on_pages(web_server: WebServer) -> None:
    client, _ = form_client(web_server, "op")
    for path in ("/login", "/queue", f"/cases/{web_server.cases['bystander']}", "/dashboard", "/cameras",
                 f"/m/{web_server.merchant_tokens['m-004']}"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in r.text  # no inline script anywhere
    cookie = client.cookies.jar
    session_cookie = next(c for c in cookie if c.name == "frontage_session")
    assert session_cookie.has_nonstandard_attr("HttpOnly")


def test_merchant_token_cannot_open_staff_pages(web_server: WebServer) -> None:
    token = web_server.merchant_tokens["m-002"]
    for path in ("/queue", f"/cases/{web_server.cases['merchant_other']}", "/dashboard", "/cameras"):
        for r in (httpx.get(web_server.base_url + path, headers={"Authorization": f"Bearer {token}"}),
                  httpx.get(web_server.base_url + path, params={"token": token})):
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), path


def test_merchant_cannot_reach_another_merchants_case(web_server: WebServer) -> None:
    token = web_server.merchant_tokens["m-002"]  # 美佳超市
    client = httpx.Client(base_url=web_server.base_url)
    page = client.get(f"/m/{token}")
    assert page.status_code == 200
    assert "美佳超市" in page.text and "同心五金" not in page.text  # m-004 is someone else
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    other_case = web_server.cases["merchant_fix"]  # belongs to m-004
    before = web_server.case_state("merchant_fix")
    r = client.post(f"/m/{token}/cases/{other_case}/fixed", data={"csrf_token": csrf},
                    files={"photo": ("p.jpg", b"\xff\xd8\xff\xe0junk", "image/jpeg")})
    assert r.status_code == 404
    assert web_server.case_state("merchant_fix") == before
    for eid in web_server.evidence_ids["merchant_fix"]:
        assert client.get(f"/m/{token}/evidence/{eid}").status_code == 404
    own = web_server.evidence_ids["merchant_other"][0]
    assert client.get(f"/m/{token}/evidence/{own}").status_code == 200
    # An unknown token shows a friendly page, not a traceback, and no staff navigation.
    r = client.get("/m/fm_not-a-real-token")
    assert r.status_code == 404 and "/queue" not in r.text


def test_login_lockout_after_repeated_failures(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, None)
    statuses = []
    for _ in range(6):
        r = client.post("/login", data={"username": "sup", "password": "wrong", "csrf_token": csrf,
                                        "next": "/queue"})
        statuses.append(r.status_code)
    assert statuses[:4] == [401] * 4 and statuses[4:] == [429, 429]
    # Locked even with the right password now, and the page says so in one line.
    r = client.post("/login", data={"username": "sup", "password": PASSWORD, "csrf_token": csrf, "next": "/queue"})
    assert r.status_code == 429 and "分钟后再试" in r.text
    # Other users (same address) are not locked out.
    r = client.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": csrf, "next": "/queue"})
    assert r.status_code == 303
    web_server.app.state.login_limiter.reset()  # the browser tests sign in as sup


def test_open_redirect_is_not_followed(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, None)
    r = client.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": csrf,
                                    "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/queue"


def test_zones_yaml_is_serialised_not_formatted(web_server: WebServer) -> None:
    """A camera name with a newline must not inject keys into the exported zones file (issue 13 item 9)."""
    import yaml

    from api.db.models import Camera

    with web_server.db() as s:
        camera = s.get(Camera, web_server.camera_ids["cam-02"])
        assert camera is not None
        old_name, camera.name = camera.name, "North\nevil: injected\nzones: []\n# "
        s.commit()
    try:
        client, _ = form_client(web_server, "admin")
        r = client.get(f"/cameras/{web_server.camera_ids['cam-02']}/zones.yaml")
        assert r.status_code == 200
        data = yaml.safe_load(r.text)
        assert set(data) == {"camera", "zones"} and data["camera"] == "cam-02"
        assert len(data["zones"]) == 2
    finally:
        with web_server.db() as s:
            camera = s.get(Camera, web_server.camera_ids["cam-02"])
            camera.name = old_name  # type: ignore[union-attr]
            s.commit()


def test_supervisor_may_edit_zones_through_the_api_as_in_the_editor(web_server: WebServer) -> None:
    """One permission rule for the zone editor and ``PUT /api/v1/cameras/{code}/zones``."""
    r = httpx.post(web_server.base_url + "/api/v1/auth/login", json={"username": "sup", "password": PASSWORD})
    assert r.status_code == 200, r.text
    sup = {"Authorization": f"Bearer {r.json()['access_token']}"}
    camera = httpx.get(web_server.base_url + "/api/v1/cameras/cam-01", headers=sup).json()
    zones = {"camera": "cam-01", "zones": [
        {k: v for k, v in z.items() if k in ("polygon", "forbid", "kind", "merchant", "dwell_s") and v is not None}
        | {"id": z["code"]} for z in camera["zones"]]}
    r = httpx.put(web_server.base_url + "/api/v1/cameras/cam-01/zones", headers=sup, json=zones)
    assert r.status_code == 200, r.text
    r = httpx.post(web_server.base_url + "/api/v1/auth/login", json={"username": "op", "password": PASSWORD})
    op = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert httpx.put(web_server.base_url + "/api/v1/cameras/cam-01/zones", headers=op, json=zones).status_code == 403


def test_session_cookie_is_secure_over_https_behind_the_proxy(web_server: WebServer) -> None:
    """The test server trusts 127.0.0.1 as its proxy (uvicorn's forwarded_allow_ips default)."""
    r = httpx.get(web_server.base_url + "/login", headers={"X-Forwarded-Proto": "https"})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("frontage_session="))
    assert "secure" in cookie.lower()
    r = httpx.get(web_server.base_url + "/login")
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("frontage_session="))
    assert "secure" not in cookie.lower()
