"""Authorization matrix: every API endpoint x (anonymous, merchant A, merchant B, edge X, edge Y, operator,
enforcement, admin) with the expected status; plus a check that the matrix covers every endpoint.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from apikit import event, evidence_ref, jpeg, post_event

WHO = ("anonymous", "merchant_a", "merchant_b", "edge_x", "edge_y", "operator", "enforcement", "admin")
_n = itertools.count()


def expect(anonymous=401, merchant=403, edge=403, operator=200, enforcement=200, admin=200,
           **overrides: int) -> dict[str, int]:
    table = {"anonymous": anonymous, "merchant_a": merchant, "merchant_b": merchant, "edge_x": edge,
             "edge_y": edge, "operator": operator, "enforcement": enforcement, "admin": admin}
    table.update(overrides)
    return table


PUBLIC = expect(200, 200, 200, 200, 200, 200)
STAFF = expect()
OPS = expect(enforcement=403)
ADMIN = expect(operator=403, enforcement=403)
ADMIN_CREATE = expect(operator=403, enforcement=403, admin=201)
MERCHANT = expect(merchant=200, operator=403, enforcement=403, admin=403)


@pytest.fixture()
def setting(client, world):
    """Two notified cases (A's with edge evidence), and a registered model version."""
    frame = jpeg()
    ev = event(world.cam_a, world.zone_a, evidence=[evidence_ref("frame.jpg", frame)])
    case_a = post_event(client, world.tokens["edge_x"], ev, files={"frame.jpg": ("frame.jpg", frame, "image/jpeg")})
    case_a = case_a.json()
    case_b = post_event(client, world.tokens["edge_y"], event(world.cam_b, world.zone_b)).json()["case_id"]
    for cid in (case_a["case_id"], case_b):
        client.post(f"/api/v1/cases/{cid}/actions/confirm", headers=world.auth("operator"))
    data = b"fake onnx weights " + world.tag.encode()
    model = client.post("/api/v1/models", json={"name": f"frontage-{world.tag}", "version": "1",
                                                 "sha256": hashlib.sha256(data).hexdigest(), "current": True},
                        headers=world.auth("admin")).json()
    client.put(f"/api/v1/models/{model['id']}/file", content=data, headers=world.auth("admin"))
    return {"case_a": case_a["case_id"], "evidence_a": case_a["evidence_ids"][0], "case_b": case_b,
            "model": model["id"]}


def fresh_case(client, world) -> int:
    from datetime import UTC, datetime, timedelta

    t = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=next(_n))  # far apart: never attaches
    return post_event(client, world.tokens["edge_x"], event(world.cam_a, world.zone_a, started_at=t)).json()["case_id"]


def endpoints(client, world, s) -> list[tuple[str, str, Callable[[dict[str, str]], Any], dict[str, int]]]:
    c, w = client, world
    uniq = lambda: f"{w.tag}-{next(_n)}"  # noqa: E731
    zones_yaml = (f"camera: {w.cam_a}\nzones:\n  - id: {w.zone_a}\n    merchant: {w.merchant_a}\n    kind: storefront\n"
                  "    polygon: [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9]]\n    forbid: [out_of_store_trading, exposed_garbage,"
                  " disorderly_parking, stacked_materials, street_vending]\n"
                  f"  - id: {w.zone_free}\n    kind: sidewalk\n    polygon: [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9]]\n"
                  "    forbid: [out_of_store_trading, exposed_garbage, disorderly_parking, stacked_materials,"
                  " street_vending]\n")
    return [
        ("GET", "/healthz", lambda h: c.get("/healthz", headers=h), PUBLIC),
        ("GET", "/readyz", lambda h: c.get("/readyz", headers=h), PUBLIC),
        ("GET", "/metrics", lambda h: c.get("/metrics", headers=h), PUBLIC),
        ("POST", "/api/v1/auth/login", lambda h: c.post("/api/v1/auth/login", headers=h, json={
            "username": f"operator-{w.tag}", "password": "correct horse battery"}), PUBLIC),
        ("GET", "/api/v1/auth/me", lambda h: c.get("/api/v1/auth/me", headers=h), STAFF),
        ("GET", "/api/v1/auth/users", lambda h: c.get("/api/v1/auth/users", headers=h), ADMIN),
        ("POST", "/api/v1/auth/users", lambda h: c.post("/api/v1/auth/users", headers=h, json={
            "username": f"u-{uniq()}", "password": "long enough pw", "role": "operator"}), ADMIN_CREATE),
        ("POST", "/api/v1/events", lambda h: c.post("/api/v1/events", headers={**h, "Content-Type": "application/json"},
                                                    content=event(w.cam_a, w.zone_a).model_dump_json()),
         expect(edge_x=200, edge_y=403, operator=403, enforcement=403, admin=403)),
        # A batch is answered 200 for any device; edge_y's entry for cam_a is a 403 inside (see test_api_ingest_batch).
        ("POST", "/api/v1/events/batch", lambda h: c.post("/api/v1/events/batch", headers=h, json={
            "events": [event(w.cam_a, w.zone_a).model_dump(mode="json")]}),
         expect(edge_x=200, edge_y=200, operator=403, enforcement=403, admin=403)),
        ("GET", "/api/v1/cases", lambda h: c.get("/api/v1/cases", headers=h), STAFF),
        ("GET", "/api/v1/cases/{case_id}", lambda h: c.get(f"/api/v1/cases/{s['case_a']}", headers=h), STAFF),
        ("POST", "/api/v1/cases/{case_id}/actions/{action}",
         lambda h: c.post(f"/api/v1/cases/{fresh_case(c, w)}/actions/reject", headers=h), OPS),
        ("POST", "/api/v1/cases/{case_id}/claim",
         lambda h: c.post(f"/api/v1/cases/{fresh_case(c, w)}/claim", headers=h), OPS),
        ("POST", "/api/v1/cases/{case_id}/assign",
         lambda h: c.post(f"/api/v1/cases/{fresh_case(c, w)}/assign", headers=h, json={"username": None}),
         expect(operator=403, enforcement=403)),
        ("POST", "/api/v1/cases/bulk/{action}",
         lambda h: c.post("/api/v1/cases/bulk/reject", headers=h, json={"case_ids": [fresh_case(c, w)]}), OPS),
        ("GET", "/api/v1/evidence/{evidence_id}", lambda h: c.get(f"/api/v1/evidence/{s['evidence_a']}", headers=h),
         STAFF),
        ("GET", "/api/v1/roads", lambda h: c.get("/api/v1/roads", headers=h), STAFF),
        ("POST", "/api/v1/roads", lambda h: c.post("/api/v1/roads", headers=h, json={"name": f"r-{uniq()}"}),
         ADMIN_CREATE),
        ("GET", "/api/v1/cameras", lambda h: c.get("/api/v1/cameras", headers=h), STAFF),
        ("POST", "/api/v1/cameras", lambda h: c.post("/api/v1/cameras", headers=h, json={
            "code": f"c-{uniq()}", "name": "new cam"}), ADMIN_CREATE),
        ("GET", "/api/v1/cameras/{code}", lambda h: c.get(f"/api/v1/cameras/{w.cam_a}", headers=h), STAFF),
        ("PUT", "/api/v1/cameras/{code}/zones", lambda h: c.put(f"/api/v1/cameras/{w.cam_a}/zones", headers=h,
                                                               content=zones_yaml), ADMIN),
        ("GET", "/api/v1/device/cameras", lambda h: c.get("/api/v1/device/cameras", headers=h),
         expect(edge=200, operator=403, enforcement=403, admin=403)),
        ("PUT", "/api/v1/device/cameras/{code}/health", lambda h: c.put(
            f"/api/v1/device/cameras/{w.cam_a}/health", headers=h, json={"online": True}),
         expect(edge_x=200, operator=403, enforcement=403, admin=403)),
        ("PUT", "/api/v1/device/cameras/{code}/picture", lambda h: c.put(
            f"/api/v1/device/cameras/{w.cam_a}/picture", headers=h | {"Content-Type": "image/jpeg"}, content=jpeg()),
         expect(edge_x=201, operator=403, enforcement=403, admin=403)),
        ("GET", "/api/v1/cameras/{code}/health", lambda h: c.get(f"/api/v1/cameras/{w.cam_a}/health", headers=h),
         STAFF),
        ("GET", "/api/v1/cameras/{code}/picture", lambda h: c.get(f"/api/v1/cameras/{w.cam_a}/picture", headers=h),
         STAFF),
        ("GET", "/api/v1/device/cameras/{code}/zones.yaml",
         lambda h: c.get(f"/api/v1/device/cameras/{w.cam_a}/zones.yaml", headers=h),
         expect(edge_x=200, operator=403, enforcement=403, admin=403)),
        ("POST", "/api/v1/cases/{case_id}/remember-object",  # 409: the case is not rejected
         lambda h: c.post(f"/api/v1/cases/{s['case_a']}/remember-object", headers=h),
         expect(operator=409, enforcement=403, admin=409)),
        ("POST", "/api/v1/cameras/{code}/picture-request",
         lambda h: c.post(f"/api/v1/cameras/{w.cam_a}/picture-request", headers=h),
         expect(operator=202, enforcement=202, admin=202)),
        ("GET", "/api/v1/devices", lambda h: c.get("/api/v1/devices", headers=h), ADMIN),
        ("POST", "/api/v1/devices", lambda h: c.post("/api/v1/devices", headers=h, json={
            "name": f"d-{uniq()}", "cameras": [w.cam_a]}), ADMIN_CREATE),
        ("PUT", "/api/v1/devices/{name}/cameras", lambda h: c.put(f"/api/v1/devices/{w.device_y}/cameras", headers=h,
                                                                  json=[w.cam_b]), ADMIN),
        ("POST", "/api/v1/devices/{name}/revoke", lambda h: c.post(f"/api/v1/devices/no-such-{uniq()}/revoke",
                                                                   headers=h), expect(operator=403, enforcement=403,
                                                                                      admin=404)),
        ("GET", "/api/v1/models", lambda h: c.get("/api/v1/models", headers=h), STAFF),
        ("POST", "/api/v1/models", lambda h: c.post("/api/v1/models", headers=h, json={
            "name": f"m-{uniq()}", "version": "1", "sha256": "a" * 64}), ADMIN_CREATE),
        ("GET", "/api/v1/models/current", lambda h: c.get("/api/v1/models/current", headers=h), expect(edge=200)),
        ("POST", "/api/v1/models/{model_id}/current", lambda h: c.post(f"/api/v1/models/{s['model']}/current",
                                                                       headers=h), ADMIN),
        ("GET", "/api/v1/models/{model_id}/file", lambda h: c.get(f"/api/v1/models/{s['model']}/file", headers=h),
         expect(edge=200)),
        ("PUT", "/api/v1/models/{model_id}/file", lambda h: c.put(f"/api/v1/models/{s['model']}/file", headers=h,
                                                                  content=b"wrong bytes"),
         expect(operator=403, enforcement=403, admin=422)),
        ("GET", "/api/v1/stats", lambda h: c.get("/api/v1/stats", headers=h), STAFF),
        ("GET", "/api/v1/admin/clock", lambda h: c.get("/api/v1/admin/clock", headers=h), ADMIN),
        ("POST", "/api/v1/admin/clock", lambda h: c.post("/api/v1/admin/clock", headers=h, json={"advance_s": 0}),
         ADMIN),
        ("POST", "/api/v1/admin/scheduler/run", lambda h: c.post("/api/v1/admin/scheduler/run", headers=h), ADMIN),
        ("GET", "/api/v1/merchants", lambda h: c.get("/api/v1/merchants", headers=h), STAFF),
        ("POST", "/api/v1/merchants", lambda h: c.post("/api/v1/merchants", headers=h, json={
            "code": f"m-{uniq()}", "name": "New shop"}), ADMIN_CREATE),
        ("GET", "/api/v1/merchants/{code}", lambda h: c.get(f"/api/v1/merchants/{w.merchant_a}", headers=h), STAFF),
        ("POST", "/api/v1/merchants/{code}/links", lambda h: c.post(f"/api/v1/merchants/{w.merchant_b}/links",
                                                                    headers=h), expect(enforcement=403, operator=201,
                                                                                       admin=201)),
        ("POST", "/api/v1/merchants/{code}/links/revoke",
         lambda h: c.post("/api/v1/merchants/nobody/links/revoke", headers=h),
         expect(enforcement=403, operator=404, admin=404)),
        ("GET", "/api/v1/merchant/me", lambda h: c.get("/api/v1/merchant/me", headers=h), MERCHANT),
        ("GET", "/api/v1/merchant/cases", lambda h: c.get("/api/v1/merchant/cases", headers=h), MERCHANT),
        ("GET", "/api/v1/merchant/cases/{case_id}", lambda h: c.get(f"/api/v1/merchant/cases/{s['case_a']}",
                                                                    headers=h), expect(
            merchant_a=200, merchant_b=404, operator=403, enforcement=403, admin=403)),
        ("POST", "/api/v1/merchant/cases/{case_id}/report-fixed",
         lambda h: c.post(f"/api/v1/merchant/cases/{s['case_b']}/report-fixed", headers=h, data={"note": "done"}),
         expect(merchant_a=404, merchant_b=200, operator=403, enforcement=403, admin=403)),
        ("GET", "/api/v1/merchant/history", lambda h: c.get("/api/v1/merchant/history", headers=h), MERCHANT),
        ("GET", "/api/v1/merchant/evidence/{evidence_id}",
         lambda h: c.get(f"/api/v1/merchant/evidence/{s['evidence_a']}", headers=h), expect(
             merchant_a=200, merchant_b=404, operator=403, enforcement=403, admin=403)),
        ("POST", "/api/v1/auth/users/{username}/revoke-sessions",
         lambda h: c.post("/api/v1/auth/users/nobody-at-all/revoke-sessions", headers=h), expect(
             operator=403, enforcement=403, admin=404)),
        # Merchant registry, standing, city dispatch (merchants-city).
        ("GET", "/api/v1/registry/merchants", lambda h: c.get("/api/v1/registry/merchants", headers=h), STAFF),
        ("GET", "/api/v1/registry/merchants/export",
         lambda h: c.get("/api/v1/registry/merchants/export", headers=h), STAFF),
        ("GET", "/api/v1/registry/merchants/{code}",
         lambda h: c.get(f"/api/v1/registry/merchants/{w.merchant_a}", headers=h), STAFF),
        ("PATCH", "/api/v1/registry/merchants/{code}",
         lambda h: c.patch(f"/api/v1/registry/merchants/{w.merchant_a}", headers=h, json={"address": "1 Road"}), ADMIN),
        ("POST", "/api/v1/registry/merchants/import",
         lambda h: c.post("/api/v1/registry/merchants/import", headers=h, files={
             "file": ("r.csv", f"code,name\nm-{uniq()},Shop\n".encode(), "text/csv")}), ADMIN),
        ("GET", "/api/v1/registry/merchants/{code}/standing",
         lambda h: c.get(f"/api/v1/registry/merchants/{w.merchant_a}/standing", headers=h), STAFF),
        ("GET", "/api/v1/merchant/standing", lambda h: c.get("/api/v1/merchant/standing", headers=h), MERCHANT),
        ("GET", "/api/v1/reports", lambda h: c.get("/api/v1/reports", headers=h), STAFF),
        ("POST", "/api/v1/dispatch/cases/{case_id}",  # admin: 409, the case is notified, not escalated
         lambda h: c.post(f"/api/v1/dispatch/cases/{s['case_a']}", headers=h), expect(
             operator=403, enforcement=403, admin=409)),
        # Last: signing out ends the caller's sessions (this world's tokens), so nothing may run after it.
        ("POST", "/api/v1/auth/logout", lambda h: c.post("/api/v1/auth/logout", headers=h),
         expect(operator=204, enforcement=204, admin=204)),
    ]


def test_authorization_matrix(client, world, setting):
    failures = []
    rows = endpoints(client, world, setting)
    for method, path, call, expected in rows:
        for who in WHO:
            status = call(world.auth(who)).status_code
            if status != expected[who]:
                failures.append(f"{method} {path} as {who}: {status}, expected {expected[who]}")
    assert not failures, "\n".join(failures)


def test_matrix_covers_every_endpoint(app, client, world, setting):
    covered = {(m, p) for m, p, _, _ in endpoints(client, world, setting)}
    declared = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops
                if p.startswith(("/api/", "/healthz", "/readyz", "/metrics"))}
    assert declared - covered == set()
