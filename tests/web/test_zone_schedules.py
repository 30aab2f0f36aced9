"""Zone schedules edited in the console (issue 16): the operator adds, edits and deletes a zone's permits and
sets the camera's time zone in the zone editor, in a real browser against the real service; what is saved is
what the console's ``zones.yaml`` download and the edge's ``GET /api/v1/device/cameras/{code}/zones.yaml``
carry, and a bad window is the schema's clear message on the page with nothing saved.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect
from sqlalchemy import select

from api.db.models import Camera, EdgeDevice, Zone
from api.db.session import session_scope
from api.services.registration import apply_zones, create_device
from detector.zones.schedule import Permit
from detector.zones.schema import parse_zones
from tests.web.conftest import WebServer, form_client, login

CODE = "cam-sched-07"
DEVICE = "edge-sched-07"


@pytest.fixture()
def schedule_camera(web_server: WebServer):  # type: ignore[no-untyped-def]
    """A camera (one zone, UTC, no permits) and an edge device of this test alone, removed afterwards."""
    now = datetime.now(UTC)
    with session_scope(web_server.app.state.session_factory) as s:
        apply_zones(s, parse_zones({"camera": CODE, "zones": [
            {"id": "z-night", "kind": "sidewalk", "polygon": [[0.1, 0.6], [0.5, 0.6], [0.5, 0.95], [0.1, 0.95]],
             "forbid": ["street_vending", "exposed_garbage"]}]}), now, camera_name="夜市口", road="解放路")
        _, key = create_device(s, DEVICE, [CODE], now)
    with session_scope(web_server.app.state.session_factory) as s:
        camera_id = s.scalar(select(Camera.id).where(Camera.code == CODE))
    yield camera_id, key
    with session_scope(web_server.app.state.session_factory) as s:
        for row in (s.scalar(select(Camera).where(Camera.code == CODE)),
                    s.scalar(select(EdgeDevice).where(EdgeDevice.name == DEVICE))):
            if row is not None:
                s.delete(row)


def _saved_permits(web_server: WebServer) -> tuple[str | None, list | None]:
    with web_server.db() as s:
        camera = s.scalar(select(Camera).where(Camera.code == CODE))
        zone = s.scalar(select(Zone).where(Zone.camera_id == camera.id, Zone.code == "z-night"))
        return camera.timezone, zone.permits


@pytest.mark.browser
def test_operator_edits_a_zone_schedule(context, web_server: WebServer, schedule_camera, artifacts_dir: Path) -> None:
    """A zone editor (admin) adds two permits and the time zone, saves, breaks one window, deletes them."""
    camera_id, key = schedule_camera
    page = context.new_page()
    login(page, "admin", next_path=f"/cameras/{camera_id}/zones")
    expect(page.locator("#permit-list li[data-permit]")).to_have_count(0)
    expect(page.locator("#zone-timezone")).to_have_value("UTC")

    # Friday's and Saturday's night market, 22:00-02:00 local, and a whole-day permit on Christmas Eve.
    page.fill("#zone-timezone", "Asia/Shanghai")
    page.check(".permit-category[value=street_vending]")
    page.fill("#permit-from", "22:00")
    page.fill("#permit-to", "02:00")
    page.check(".permit-day[value=fri]")
    page.check(".permit-day[value=sat]")
    page.click("#permit-add")
    page.check(".permit-category[value=exposed_garbage]")
    page.fill("#permit-dates", "2026-12-24")
    page.click("#permit-add")
    expect(page.locator("#permit-list li[data-permit]")).to_have_count(2)
    expect(page.locator("#permit-list li[data-permit='0']")).to_contain_text("22:00-02:00")
    page.screenshot(path=str(artifacts_dir / "zone-schedule-added.png"), full_page=True)
    page.click("#zone-save")
    expect(page.locator(".flash")).to_contain_text("已保存 1 个区域")
    expect(page.locator("#permit-list li[data-permit]")).to_have_count(2)  # shown again from the database

    expected = [Permit(categories=["street_vending"], hours=["22:00-02:00"], days=["fri", "sat"]),
                Permit(categories=["exposed_garbage"], dates=[date(2026, 12, 24)])]
    download = parse_zones(yaml.safe_load(page.request.get(f"/cameras/{camera_id}/zones.yaml").text()), "download")
    edge = httpx.Client(base_url=web_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    r = edge.get(f"/api/v1/device/cameras/{CODE}/zones.yaml")
    edge.close()
    assert r.status_code == 200, r.text
    fetched = parse_zones(yaml.safe_load(r.text), "edge")
    for zones_file in (download, fetched):
        assert zones_file.timezone == "Asia/Shanghai"
        assert zones_file.zones[0].permits == expected

    # An operator (no zone editing) sees the schedule read-only.
    viewer_ctx = context.browser.new_context(base_url=web_server.base_url, locale="zh-CN")
    viewer = viewer_ctx.new_page()
    login(viewer, "op", next_path=f"/cameras/{camera_id}/zones")
    expect(viewer.locator("#permit-view li")).to_have_count(2)
    expect(viewer.locator("#permit-view li").first).to_contain_text("22:00-02:00")
    expect(viewer.locator("#permit-add")).to_have_count(0)
    viewer_ctx.close()

    # A bad window (start equals end): the schema's message on the page, a 4xx, and nothing saved.
    page.click("#permit-list li[data-permit='0'] button.permit-edit")
    expect(page.locator("#permit-from")).to_have_value("22:00")
    page.fill("#permit-to", "22:00")
    page.click("#permit-apply")
    with page.expect_response(lambda resp: resp.request.method == "POST") as posted:
        page.click("#zone-save")
    assert posted.value.status == 422
    expect(page.locator(".flash")).to_contain_text("the window is empty")
    expect(page.locator("#permit-list li[data-permit='0']")).to_contain_text("22:00-22:00")  # the edit is kept
    page.screenshot(path=str(artifacts_dir / "zone-schedule-bad-window.png"), full_page=True)
    tz, permits = _saved_permits(web_server)
    assert tz == "Asia/Shanghai" and [Permit.model_validate(p) for p in permits or []] == expected

    # An unknown time zone is refused the same way.
    page.fill("#zone-timezone", "Mars/Olympus")
    page.click("#permit-list li[data-permit='0'] button.permit-delete")
    page.click("#zone-save")
    expect(page.locator(".flash")).to_contain_text("unknown time zone 'Mars/Olympus'")
    assert _saved_permits(web_server)[0] == "Asia/Shanghai"

    # Fix it, delete the rest: the zone permits nothing again.
    page.fill("#zone-timezone", "Asia/Shanghai")
    page.click("#permit-list li[data-permit='0'] button.permit-delete")
    expect(page.locator("#permit-list li[data-permit]")).to_have_count(0)
    page.click("#zone-save")
    expect(page.locator(".flash")).to_contain_text("已保存 1 个区域")
    download = parse_zones(yaml.safe_load(page.request.get(f"/cameras/{camera_id}/zones.yaml").text()), "download")
    assert download.zones[0].permits == [] and _saved_permits(web_server) == ("Asia/Shanghai", None)


ZONE = {"id": "z-night", "kind": "sidewalk", "polygon": [[0.1, 0.6], [0.5, 0.6], [0.5, 0.95], [0.1, 0.95]],
        "forbid": ["street_vending", "exposed_garbage"]}


@pytest.mark.parametrize(("permits", "timezone", "message"), [
    ("22:00-02:00", "UTC", "zone 'z-night', permits"),
    ([5], "UTC", "zone 'z-night', permits"),
    ([{"categories": ["fireworks"]}], "UTC", "categories"),
    ([{"categories": []}], "UTC", "at least 1 item"),
    ([{"categories": ["street_vending"], "hours": ["25:00-26:00"]}], "UTC", "expected HH:MM-HH:MM"),
    ([{"categories": ["street_vending"], "hours": "10:00-22:00"}], "UTC", "hours"),
    ([{"categories": ["street_vending"], "days": ["someday"]}], "UTC", "day 'someday'"),
    ([{"categories": ["street_vending"], "dates": ["2026-02-30"]}], "UTC", "dates"),
    ([{"categories": ["street_vending"], "nights": ["fri"]}], "UTC", "nights"),
    ([{"categories": ["street_vending"]}], "", "UTC"),  # an empty time zone is UTC: this one is saved
    ([{"categories": ["street_vending"]}], "Europe/Nowhere", "unknown time zone"),
])
def test_crafted_schedules_are_a_clear_4xx(web_server: WebServer, schedule_camera, permits: object, timezone: str,
                                           message: str) -> None:
    """What a hand-made POST can send in place of the editor's permits: a 422 naming the fault, nothing saved."""
    camera_id, _ = schedule_camera
    client, csrf = form_client(web_server, "admin")
    r = client.post(f"/cameras/{camera_id}/zones", data={
        "csrf_token": csrf, "timezone": timezone, "zones_json": json.dumps([ZONE | {"permits": permits}])})
    client.close()
    if timezone == "":
        assert r.status_code == 303, r.text
        assert _saved_permits(web_server) == ("UTC", [{"categories": ["street_vending"]}])
        return
    assert r.status_code == 422, r.text
    flash = re.search(r'<p class="flash error"[^>]*>(.*?)</p>', r.text, re.S)
    assert flash is not None and message in html.unescape(flash.group(1)), r.text[:2000]
    assert _saved_permits(web_server) == ("UTC", None)


@pytest.mark.browser
def test_editing_keeps_a_hand_written_permits_other_windows(context, web_server: WebServer, schedule_camera) -> None:
    """A permit from a zones file with two windows: the form edits the first, the second is kept, not lost."""
    camera_id, _ = schedule_camera
    with session_scope(web_server.app.state.session_factory) as s:
        apply_zones(s, parse_zones({"camera": CODE, "timezone": "Asia/Shanghai", "zones": [ZONE | {"permits": [
            {"categories": ["out_of_store_trading"], "hours": ["06:00-08:00", "18:00-20:00"]}]}]}), datetime.now(UTC))
    page = context.new_page()
    login(page, "sup", next_path=f"/cameras/{camera_id}/zones")
    page.click("#permit-list li[data-permit='0'] button.permit-edit")
    expect(page.locator("#permit-to")).to_have_value("08:00")
    page.fill("#permit-from", "07:00")
    page.click("#permit-apply")
    page.click("#zone-save")
    expect(page.locator(".flash")).to_contain_text("已保存 1 个区域")
    assert _saved_permits(web_server) == ("Asia/Shanghai", [
        {"categories": ["out_of_store_trading"], "hours": ["07:00-08:00", "18:00-20:00"]}])
