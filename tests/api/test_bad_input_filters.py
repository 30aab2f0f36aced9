"""Issue 13 item 7: inputs that used to reach PostgreSQL (or Python's datetime) and came back as 500s.

Each must be a 4xx with a readable one-line ``detail`` on both databases. NUL and other control characters
in strings are refused by `api.schemas.types.CleanStr` before any query; numbers must be finite and in range;
datetimes must survive conversion to UTC; a cursor must be the service's own.
"""

from __future__ import annotations

import base64
import json

import pytest

NUL = "a\x00b"


def _cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _assert_clear_4xx(r, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail and "Traceback" not in detail, detail
    for needle in needles:
        assert needle in detail, detail


@pytest.mark.parametrize("params,needle", [
    ({"road": NUL}, "road"),
    ({"camera": NUL}, "camera"),
    ({"merchant": NUL}, "merchant"),
    ({"assignee": NUL}, "assignee"),
    ({"category": NUL}, "category"),
    ({"road": "a\x1bb"}, "control character"),
    ({"sort": "confidence", "cursor": _cursor(["abc", 1])}, "cursor"),
    ({"sort": "-created_at", "cursor": _cursor(["not a time", 1])}, "cursor"),
    ({"sort": "confidence", "cursor": _cursor([float("inf"), 1])}, "cursor"),
    ({"cursor": _cursor(["2026-01-01T00:00:00+00:00", 2**70])}, "cursor"),
    ({"cursor": _cursor(["2026-01-01T00:00:00+00:00", True])}, "cursor"),
    ({"min_age_s": "1e308"}, "min_age_s"),
    ({"max_age_s": "inf"}, "max_age_s"),
    ({"min_age_s": "nan"}, "min_age_s"),
    ({"escalation_level": str(2**70)}, "escalation_level"),
], ids=["road-nul", "camera-nul", "merchant-nul", "assignee-nul", "category-nul", "road-escape", "cursor-abc",
        "cursor-bad-time", "cursor-inf", "cursor-id-2^70", "cursor-id-bool", "min-age-1e308", "max-age-inf",
        "min-age-nan", "level-2^70"])
def test_queue_filters_refuse_bad_values(client, world, params: dict, needle: str) -> None:
    r = client.get("/api/v1/cases", params=params, headers=world.auth("operator"))
    _assert_clear_4xx(r, needle)


def test_login_with_nul_username_is_refused(client, world) -> None:
    r = client.post("/api/v1/auth/login", json={"username": NUL, "password": "correct horse battery"})
    _assert_clear_4xx(r)
    r = client.post("/api/v1/auth/login", data={"username": NUL, "password": "correct horse battery"})
    _assert_clear_4xx(r)


@pytest.mark.parametrize("path", [f"/api/v1/merchants/{NUL}", f"/api/v1/merchants/{NUL}/links",
                                  "/api/v1/devices/a\x00b/revoke"])
def test_path_codes_with_nul_are_refused(client, world, path: str) -> None:
    method = "GET" if path.count("/") == 4 else "POST"
    r = client.request(method, path.replace("\x00", "%00"), headers=world.auth("admin"))
    _assert_clear_4xx(r)


@pytest.mark.parametrize("path,body", [
    ("/api/v1/merchants", {"code": "m-nul", "name": NUL}),
    ("/api/v1/merchants", {"code": "m-nul", "name": "ok", "address": "1\x07 Bell Street"}),
    ("/api/v1/auth/users", {"username": "nul-user", "password": "long enough pw", "role": "operator",
                            "full_name": NUL}),
    ("/api/v1/roads", {"name": NUL}),
    ("/api/v1/roads", {"name": "Road", "district": NUL}),
    ("/api/v1/devices", {"name": "dev-nul", "cameras": [NUL]}),
    ("/api/v1/cases/bulk/reject", {"case_ids": [1], "note": NUL}),
], ids=["merchant-name", "merchant-address-bel", "user-full-name", "road-name", "road-district", "device-camera",
        "bulk-note"])
def test_new_entities_with_control_characters_are_refused(client, world, path: str, body: dict) -> None:
    r = client.post(path, json=body, headers=world.auth("admin"))
    _assert_clear_4xx(r, "control character")


def test_action_note_keeps_newlines_but_not_nul(client, world) -> None:
    from apikit import event, post_event

    case_id = post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a)).json()["case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/actions/confirm", json={"note": NUL}, headers=world.auth("operator"))
    _assert_clear_4xx(r, "control character")
    assert client.get(f"/api/v1/cases/{case_id}", headers=world.auth("operator")).json()["state"] == "detected"
    r = client.post(f"/api/v1/cases/{case_id}/actions/reject", json={"note": "two\nlines\tand a tab"},
                    headers=world.auth("operator"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("params,needle", [
    ({"from": "0001-01-01T00:00:00+05:00"}, "from"),
    ({"to": "9999-12-31T23:59:59-05:00"}, "to"),
    ({"from": "1000-01-01T00:00:00Z"}, "from"),
    ({"from": "2026-01-01T00:00:00"}, "time zone"),
], ids=["from-year-1-plus-5h", "to-year-9999-minus-5h", "from-year-1000", "naive"])
def test_stats_refuses_datetimes_out_of_range(client, world, params: dict, needle: str) -> None:
    r = client.get("/api/v1/stats", params=params, headers=world.auth("operator"))
    _assert_clear_4xx(r, needle)


@pytest.mark.parametrize("method,path", [("GET", f"/m/fm_x/evidence/{2**70}"), ("POST", f"/m/fm_x/cases/{2**70}/fixed")])
def test_merchant_page_ids_beyond_64_bits_are_refused(client, method: str, path: str) -> None:
    r = client.request(method, path)
    _assert_clear_4xx(r)
