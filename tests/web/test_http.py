"""Page behaviour that needs no browser: language negotiation, queue filters/sort/pagination, stale
actions, logout, the zones YAML, and the doctests of the web helpers."""

from __future__ import annotations

import doctest
import re

import httpx
import pytest
import yaml

import api.i18n
import api.web.security
from api.web import queue as queue_module
from detector.zones.schema import parse_zones
from tests.web.conftest import WebServer, form_client


@pytest.mark.parametrize("module", [api.i18n, api.web.security])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0 and result.attempted > 0


def test_language_from_accept_language_query_and_cookie(web_server: WebServer) -> None:
    base = web_server.base_url
    assert "工作人员登录" in httpx.get(base + "/login").text  # default zh-CN
    assert "Staff sign-in" in httpx.get(base + "/login", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert "工作人员登录" in httpx.get(base + "/login", headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"}).text
    client = httpx.Client(base_url=base)
    assert "Staff sign-in" in client.get("/login?lang=en").text
    assert "Staff sign-in" in client.get("/login").text  # remembered in a cookie
    assert '<html lang="en">' in client.get("/login").text


def _row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-case="(\d+)"', html)]


def test_queue_filters_sort_and_pages(web_server: WebServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = form_client(web_server, "op")
    everything = _row_ids(client.get("/queue/rows").text)
    assert sorted(everything) == sorted(web_server.cases.values())
    assert _row_ids(client.get("/queue/rows?sort=oldest").text) == sorted(everything)
    conf = _row_ids(client.get("/queue/rows?sort=confidence").text)
    assert conf[0] == web_server.cases["queue_confirm"]  # 0.93, the highest
    on_cam2 = _row_ids(client.get("/queue/rows?camera=cam-02").text)
    assert set(on_cam2) == {web_server.cases[n] for n in ("to_escalate", "merchant_fix", "keyboard", "self_fixed")}
    assert _row_ids(client.get("/queue/rows?overdue=1").text) == []  # every deadline is hours away
    closed = _row_ids(client.get("/queue/rows?state=closed").text)
    assert closed == [web_server.cases["self_fixed"]]
    assert web_server.cases["self_fixed"] not in _row_ids(client.get("/queue/rows?state=open").text)
    # Bad filter values are refused with a 422 that says which (the rest of the filters still apply).
    refused = client.get("/queue/rows?state=nope&road=abc&page=-3&sort=evil")
    assert refused.status_code == 422 and "state" in refused.text and "sort" in refused.text
    monkeypatch.setattr(queue_module, "PAGE_SIZE", 3)
    pages = [_row_ids(client.get(f"/queue/rows?sort=oldest&page={n}").text) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p] == sorted(everything)
    assert "第 2 / 3 页" in client.get("/queue/rows?page=2").text


def test_stale_or_illegal_action_is_explained_not_applied(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, "op")
    case_id = web_server.cases["bystander"]
    r = client.post(f"/cases/{case_id}/action", data={"action": "confirm", "version": "999", "csrf_token": csrf})
    assert r.status_code == 303 and "flash=" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert "无法执行" in page and "reload" in page
    r = client.post(f"/cases/{case_id}/action", data={"action": "close", "csrf_token": csrf})
    assert "flash=" in r.headers["location"]
    r = client.post(f"/cases/{case_id}/action", data={"action": "explode", "csrf_token": csrf})
    assert "flash=" in r.headers["location"]
    assert web_server.case_state("bystander") == "detected"
    # An operator may not escalate (supervisors do): refused with a message, nothing changes.
    r = client.post(f"/cases/{web_server.cases['merchant_other']}/action",
                    data={"action": "escalate", "csrf_token": csrf})
    assert "flash=" in r.headers["location"]
    assert client.get(f"/cases/{999999}").status_code == 404
    # Messages ride in the URL signed: a crafted link cannot put its own words on the page.
    assert "Call 110-EVIL" not in client.get(f"/cases/{case_id}?flash=Call+110-EVIL").text


def test_logout_ends_the_session(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, "op")
    assert client.get("/queue").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/queue").status_code == 303


def test_zones_yaml_is_valid_for_the_edge(web_server: WebServer) -> None:
    client, csrf = form_client(web_server, "admin")
    cam2 = web_server.camera_ids["cam-02"]
    r = client.get(f"/cameras/{cam2}/zones.yaml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    zones = parse_zones(yaml.safe_load(r.text), "download")
    assert zones.camera == "cam-02" and {z.id for z in zones.zones} == {"z-m003", "z-m004"}
    assert {z.merchant for z in zones.zones} == {"m-003", "m-004"}
    # A bad polygon from the editor is refused with the schema's one-line reason; nothing is saved.
    bad = '[{"id": "z-bad", "kind": "storefront", "polygon": [[0.1, 0.1], [0.2, 0.2]], "forbid": []}]'
    r = client.post(f"/cameras/{cam2}/zones", data={"zones_json": bad, "csrf_token": csrf})
    assert r.status_code == 422 and "at least 3 points" in r.text
    r = client.post(f"/cameras/{cam2}/zones", data={"zones_json": "{not json", "csrf_token": csrf})
    assert r.status_code == 422 and "malformed" in r.text
    assert {z.id for z in parse_zones(yaml.safe_load(client.get(f"/cameras/{cam2}/zones.yaml").text)).zones} == {
        "z-m003", "z-m004"}
    # An operator may look but not change zones.
    op, op_csrf = form_client(web_server, "op")
    r = op.post(f"/cameras/{cam2}/zones", data={"zones_json": "[]", "csrf_token": op_csrf})
    assert r.status_code == 403


def test_session_cookie_flags() -> None:
    from fastapi.responses import Response

    from api.web.security import SessionCookies, new_session, set_session_cookie

    for secure in (False, True):
        response = Response()
        set_session_cookie(response, SessionCookies("k" * 32, 3600), new_session(1), secure=secure)
        header = response.headers["set-cookie"]
        assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
        assert ("Secure" in header) is secure
