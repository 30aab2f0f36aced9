"""The pages in a real browser (Playwright driving Debian's headless Chromium) against the real service.

Each test leaves a screenshot in test-artifacts/<test>/ for a human to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from api.db.models import Case, Zone
from detector.zones.schema import parse_zones
from tests.web.conftest import WebServer, jpeg_photo, login, watch_problems

pytestmark = pytest.mark.browser


def test_login_and_filter_the_queue(context, web_server: WebServer, artifacts_dir: Path) -> None:
    page = context.new_page()
    page.goto("/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue"))
    page.fill("input[name=username]", "op")
    page.fill("input[name=password]", "wrong password")
    page.click("button.primary")
    expect(page.locator(".flash.error")).to_contain_text("用户名或密码不正确")
    login(page, "op")
    expect(page.locator("h1")).to_have_text("案件队列")
    rows = page.locator("table.queue tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == len({*web_server.cases.values()})
    # Filter without a full reload: the page stays, only the results are replaced.
    page.evaluate("window.__marker = 1")
    page.select_option("select[name=category]", "exposed_garbage")
    expect(page).to_have_url(re.compile(r"category=exposed_garbage"))
    expect(rows).to_have_count(3)
    for text in rows.all_inner_texts():
        assert "垃圾暴露" in text
    page.select_option("select[name=road]", label="人民路")
    expect(rows).to_have_count(1)
    assert page.evaluate("window.__marker") == 1
    page.screenshot(path=str(artifacts_dir / "queue-filtered.png"), full_page=True)
    page.click("a.button[href='/queue']")
    expect(rows).to_have_count(len(web_server.cases))


def test_confirm_a_case(context, web_server: WebServer, artifacts_dir: Path) -> None:
    page = context.new_page()
    login(page, "op", next_path=f"/cases/{web_server.cases['queue_confirm']}")
    expect(page.locator("img.frame").first).to_be_visible()
    assert page.locator("img.frame").first.evaluate("img => img.naturalWidth") == 960
    expect(page.locator(".crop img")).to_have_count(1)
    if web_server.evidence_ids["queue_confirm"].__len__() == 3:
        expect(page.locator("video")).to_have_count(1)
    # Only the actions allowed in "detected" are offered.
    buttons = page.locator("#case-actions button[name=action]")
    assert sorted(buttons.evaluate_all("bs => bs.map(b => b.value)")) == ["confirm", "reject"]
    page.click("button[data-action=confirm]")
    expect(page.locator("#case-state")).to_have_text("已通知商户")
    expect(page.locator(".flash")).to_contain_text("确认违规")
    expect(page.locator("#timeline li")).to_have_count(3)  # created, confirm, notify
    page.screenshot(path=str(artifacts_dir / "case-confirmed.png"), full_page=True)
    assert web_server.case_state("queue_confirm") == "notified"


def test_reject_as_false_positive_from_the_queue_keyboard(context, web_server: WebServer,
                                                          artifacts_dir: Path) -> None:
    page = context.new_page()
    login(page, "op")
    target = web_server.cases["queue_reject"]
    page.goto("/queue?state=detected&sort=oldest")
    rows = page.locator("table.queue tbody tr")
    ids = [int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.case)")]
    for _ in range(ids.index(target) + 1):
        page.keyboard.press("j")
    expect(page.locator("tr.selected")).to_have_attribute("data-case", str(target))
    page.screenshot(path=str(artifacts_dir / "queue-selected.png"), full_page=True)
    page.keyboard.press("r")
    expect(page.locator(".flash")).to_contain_text("驳回")
    assert web_server.case_state("queue_reject") == "rejected"
    page.goto(f"/cases/{target}")
    expect(page.locator("#case-state")).to_have_text("已驳回")
    expect(page.locator("#case-actions")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "case-rejected.png"), full_page=True)


def test_escalate_a_case(context, web_server: WebServer, artifacts_dir: Path) -> None:
    page = context.new_page()
    case_id = web_server.cases["to_escalate"]
    login(page, "sup", next_path=f"/cases/{case_id}")
    expect(page.locator("#case-state")).to_have_text("已通知商户")
    page.fill("textarea[name=note]", "商户拒不整改")
    page.click("button[data-action=escalate]")
    expect(page.locator("#case-state")).to_have_text("已升级")
    expect(page.locator(".badge.level")).to_contain_text("L1")
    expect(page.locator("#timeline")).to_contain_text("商户拒不整改")
    page.screenshot(path=str(artifacts_dir / "case-escalated.png"), full_page=True)
    with web_server.db() as s:
        case = s.get(Case, case_id)
        assert case.state == "escalated" and case.escalation_level == 1


def test_draw_and_save_a_zone(context, web_server: WebServer, artifacts_dir: Path) -> None:
    page = context.new_page()
    camera_id = web_server.camera_ids["cam-01"]
    login(page, "admin", next_path=f"/cameras/{camera_id}/zones")
    snapshot = page.locator("#zone-snapshot")
    expect(snapshot).to_be_visible()
    assert snapshot.evaluate("img => img.naturalWidth") == 960  # the latest evidence frame, not the placeholder
    expect(page.locator("#zone-svg g.zone")).to_have_count(2)
    page.click("#zone-new")
    page.fill("#zone-id", "z-m003-side")
    page.locator("#zone-id").dispatch_event("change")
    page.select_option("#zone-kind", "sidewalk")
    page.select_option("#zone-merchant", "m-003")
    page.uncheck(".zone-forbid[value=out_of_store_trading]")
    page.check(".zone-forbid[value=disorderly_parking]")
    page.fill("#zone-dwell", "45")
    page.locator("#zone-dwell").dispatch_event("change")
    svg = page.locator("#zone-svg")
    box = svg.bounding_box()
    assert box is not None
    points = [(0.75, 0.6), (0.95, 0.6), (0.97, 0.9), (0.78, 0.9)]
    for x, y in points:
        svg.click(position={"x": box["width"] * x, "y": box["height"] * y})
    expect(page.locator("#zone-svg g.zone.selected circle.handle")).to_have_count(4)
    # Drag the last point a little to the left.
    handle = page.locator("#zone-svg g.zone.selected circle.handle").nth(3)
    hb = handle.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.76, box["y"] + box["height"] * 0.9, steps=5)
    page.mouse.up()
    expect(page.locator("#zone-svg g.zone.selected circle.handle")).to_have_count(4)
    page.screenshot(path=str(artifacts_dir / "zone-drawn.png"), full_page=True)
    page.click("#zone-save")
    expect(page.locator(".flash")).to_contain_text("已保存 3 个区域")
    expect(page.locator("#zone-svg g.zone")).to_have_count(3)
    page.screenshot(path=str(artifacts_dir / "zone-saved.png"), full_page=True)

    with web_server.db() as s:
        zone = s.query(Zone).filter_by(camera_id=camera_id, code="z-m003-side").one()
        assert zone.kind == "sidewalk" and zone.merchant.code == "m-003" and zone.dwell_s == 45
        assert sorted(zone.forbid) == ["disorderly_parking", "exposed_garbage"]
        assert len(zone.polygon) == 4
        for (x, y), (ex, ey) in zip(zone.polygon, [*points[:3], (0.76, 0.9)], strict=True):
            assert abs(x - ex) < 0.02 and abs(y - ey) < 0.02
    # The zones file for the edge: valid under the edge's own schema, with the new zone in it.
    text = page.request.get(f"/cameras/{camera_id}/zones.yaml").text()
    zones_file = parse_zones(yaml.safe_load(text), "download")
    assert zones_file.camera == "cam-01"
    assert {z.id for z in zones_file.zones} == {"z-m001", "z-m002", "z-m003-side"}


def test_merchant_reports_a_fix_on_a_phone(browser, web_server: WebServer, artifacts_dir: Path,
                                           tmp_path: Path) -> None:
    ctx = browser.new_context(base_url=web_server.base_url, viewport={"width": 390, "height": 844},
                              device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    problems = watch_problems(ctx)
    try:
        page = ctx.new_page()
        token = web_server.merchant_tokens["m-004"]
        page.goto(f"/m/{token}")
        expect(page.locator("h1")).to_contain_text("同心五金")
        assert page.locator("a[href='/queue'], a[href='/dashboard'], a[href='/cameras']").count() == 0
        card = page.locator(f"#case-{web_server.cases['merchant_fix']}")
        expect(card.locator("img.frame")).to_be_visible()
        assert card.locator("img.frame").evaluate("img => img.naturalWidth") == 960
        # The page fits the phone: nothing wider than the viewport.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts_dir / "merchant-before.png"), full_page=True)
        card.locator("input[type=file]").set_input_files(str(jpeg_photo(tmp_path / "after.jpg")))
        expect(card.locator("img.preview")).to_be_visible()  # the chosen photo, shown before sending
        page.screenshot(path=str(artifacts_dir / "merchant-photo-chosen.png"), full_page=True)
        card.locator("textarea[name=note]").fill("自行车已移走")
        card.locator("button.primary").click()
        expect(page.locator(".flash")).to_contain_text("已收到您的整改上报")
        expect(page.locator(f"#case-{web_server.cases['merchant_fix']} .badge")).to_have_text("已上报整改，等待核实")
        expect(page.locator(f"#case-{web_server.cases['merchant_fix']} figure img")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "merchant-fixed.png"), full_page=True)
        with web_server.db() as s:
            case = s.get(Case, web_server.cases["merchant_fix"])
            assert case.state == "merchant_reported_fixed" and case.merchant_note == "自行车已移走"
        assert not problems, problems
    finally:
        ctx.close()


def test_dashboard_and_cameras_in_english(context, web_server: WebServer, artifacts_dir: Path) -> None:
    page = context.new_page()
    login(page, "op", next_path="/dashboard")
    expect(page.locator("h1")).to_have_text("统计")
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("svg.chart.line")).to_have_count(1)
    expect(page.locator("svg.chart.bars")).to_have_count(3)  # roads, categories, repeat offenders
    expect(page.locator("svg.chart.line circle.dot")).to_have_count(1)
    expect(page.locator("#kpi-rate")).to_have_text(re.compile(r"^(100|50)%$"))  # 50% once a case is escalated
    expect(page.locator("svg.chart.bars").first).to_contain_text("解放路")
    assert int(page.locator("#kpi-flagged").inner_text()) == len(web_server.cases)
    page.screenshot(path=str(artifacts_dir / "dashboard-en.png"), full_page=True)
    page.goto("/cameras")  # the language choice is remembered (cookie)
    expect(page.locator("h1")).to_have_text("Cameras and zones")
    expect(page.locator("article.camera")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "cameras-en.png"), full_page=True)
    page.goto("/cameras?lang=zh-CN")
    expect(page.locator("h1")).to_have_text("摄像头与区域")
