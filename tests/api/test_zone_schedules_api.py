"""Zone schedules through the service (issue 16 item 5): a zones file with a time zone and permits uploaded
over the API is what the console exports for the edge and ``analyze``; the zone editor keeps the schedules
when an operator saves; a bad schedule is a 422 naming the zone. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from detector.zones.schema import parse_zones

PERMITS = [{"categories": ["out_of_store_trading"], "hours": ["10:00-22:00"]},
           {"categories": ["street_vending"], "hours": ["22:00-02:00"], "days": ["fri", "sat"]},
           {"categories": ["stacked_materials"], "dates": ["2026-12-24"]}]


def zones_file(cam: str, permits: list) -> str:
    return yaml.safe_dump({"camera": cam, "timezone": "Asia/Shanghai", "zones": [
        {"id": "z-cafe", "kind": "storefront", "polygon": [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]],
         "forbid": ["out_of_store_trading", "street_vending", "stacked_materials"], "permits": permits}]})


@pytest.fixture()
def web(client):  # type: ignore[no-untyped-def]
    """The session's client, its cookies (the sign-in below) cleared afterwards for the other tests."""
    yield client
    client.cookies.clear()


def login(client, world) -> str:  # type: ignore[no-untyped-def]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": f"supervisor-{world.tag}", "password": "correct horse battery",
                                    "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code in (302, 303), r.text
    return csrf


def test_schedules_round_trip_through_api_export_and_editor(web, world) -> None:  # type: ignore[no-untyped-def]
    client = web
    cam = f"cam-sched-{world.tag}"
    r = client.put(f"/api/v1/cameras/{cam}/zones", content=zones_file(cam, PERMITS), headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    camera_id = r.json()["id"]
    login(client, world)
    exported = parse_zones(yaml.safe_load(client.get(f"/cameras/{camera_id}/zones.yaml").text))
    assert exported.timezone == "Asia/Shanghai"
    assert [p.model_dump(mode="json", exclude_defaults=True) for p in exported.zones[0].permits] == PERMITS

    # the editor gets the schedules with the zone, and saving the zone (moved) keeps them
    page = client.get(f"/cameras/{camera_id}/zones").text
    data = json.loads(re.search(r'<script type="application/json" id="zones-data">(.*?)</script>', page, re.S).group(1))
    assert data[0]["permits"] == PERMITS
    data[0]["polygon"] = [[0.1, 0.5], [0.45, 0.5], [0.45, 0.9], [0.1, 0.9]]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post(f"/cameras/{camera_id}/zones", data={"zones_json": json.dumps(data), "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code in (302, 303), r.text
    again = parse_zones(yaml.safe_load(client.get(f"/cameras/{camera_id}/zones.yaml").text))
    assert again.timezone == "Asia/Shanghai" and again.zones[0].polygon[1] == (0.45, 0.5)
    assert [p.model_dump(mode="json", exclude_defaults=True) for p in again.zones[0].permits] == PERMITS

    # a bad schedule from the editor: 422 with the zone named, nothing saved
    data[0]["permits"] = [{"categories": ["street_vending"], "hours": ["25:00-26:00"]}]
    r = client.post(f"/cameras/{camera_id}/zones", data={"zones_json": json.dumps(data), "csrf_token": csrf})
    assert r.status_code == 422 and "z-cafe" in r.text
    kept = parse_zones(yaml.safe_load(client.get(f"/cameras/{camera_id}/zones.yaml").text))
    assert len(kept.zones[0].permits) == 3


def test_bad_schedules_over_the_api_are_422(client, world) -> None:  # type: ignore[no-untyped-def]
    cam = f"cam-sched-bad-{world.tag}"
    for permits, fault in (([{"categories": ["street_vending"], "hours": ["22-02"]}], "HH:MM-HH:MM"),
                           ([{"categories": ["street_vending"], "days": ["funday"]}], "funday"),
                           ([{"categories": ["street_vending"], "when": "always"}], "when")):
        r = client.put(f"/api/v1/cameras/{cam}/zones", content=zones_file(cam, permits), headers=world.auth("admin"))
        assert r.status_code == 422 and "z-cafe" in r.json()["detail"] and fault in r.json()["detail"], r.text
    body = zones_file(cam, []).replace("Asia/Shanghai", "Asia/Atlantis")
    r = client.put(f"/api/v1/cameras/{cam}/zones", content=body, headers=world.auth("admin"))
    assert r.status_code == 422 and "unknown time zone" in r.json()["detail"]
