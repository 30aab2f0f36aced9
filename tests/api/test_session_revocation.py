"""Issue 13 item 5: signing out ends the session on the server (a per-user session epoch in the users table,
SQLite and PostgreSQL): the old browser cookie no longer opens pages or posts actions, and API tokens can be
revoked (by their holder, or all of a user's by an admin).
"""

from __future__ import annotations

import re

import pytest
from apikit import event, post_event
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


@pytest.fixture()
def browser(app) -> TestClient:  # type: ignore[no-untyped-def]
    """A separate cookie jar (the session-wide `client` must keep none)."""
    with TestClient(app, follow_redirects=False) as c:
        yield c
    app.state.login_limiter.reset()


def _sign_in(browser: TestClient, username: str) -> str:
    r = browser.post("/login", data={"username": username, "password": PASSWORD,
                                     "csrf_token": _csrf(browser.get("/login").text), "next": "/queue"})
    assert r.status_code == 303, r.text
    return _csrf(browser.get("/queue").text)


def test_logout_ends_the_browser_session(browser: TestClient, client, world) -> None:  # type: ignore[no-untyped-def]
    csrf = _sign_in(browser, f"operator-{world.tag}")
    case_id = post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a)).json()["case_id"]
    old_cookie = browser.cookies.get("frontage_session")
    assert browser.get("/queue").status_code == 200
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
    # The cookie from before the sign-out, replayed (a copy an attacker kept).
    browser.cookies.clear()
    browser.cookies.set("frontage_session", old_cookie)
    r = browser.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.status_code
    r = browser.post(f"/cases/{case_id}/action", data={"action": "reject", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # (signing out ended every session of that user, its API token too: read as the admin)
    state = client.get(f"/api/v1/cases/{case_id}", headers=world.auth("admin")).json()["state"]
    assert state == "detected"


def test_api_token_can_be_revoked_by_its_holder(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/auth/login", json={"username": f"enforcement_city-{world.tag}", "password": PASSWORD})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_admin_revokes_every_session_of_a_user(client, world, browser: TestClient) -> None:  # type: ignore[no-untyped-def]
    user = f"supervisor-{world.tag}"
    _sign_in(browser, user)
    api = {"Authorization": f"Bearer {world.tokens['supervisor']}"}
    assert client.get("/api/v1/auth/me", headers=api).status_code == 200
    r = client.post(f"/api/v1/auth/users/{user}/revoke-sessions", headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/auth/me", headers=api).status_code == 401
    assert browser.get("/queue").status_code == 303
    # Only staff with the admin role may do that; an operator gets 403 and revokes nothing.
    r = client.post(f"/api/v1/auth/users/admin-{world.tag}/revoke-sessions", headers=world.auth("operator"))
    assert r.status_code == 403
    assert client.get("/api/v1/auth/me", headers=world.auth("admin")).status_code == 200
    # A fresh sign-in works again.
    assert client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
