"""The merchant registry console page in a real browser (Playwright, Debian's headless Chromium): search,
the merchant's zones drawn on its camera's picture, edit (a bad phone refused with the reason), deactivate
and reactivate, and a survey upload whose bad row is listed while nothing is imported. Screenshots in
test-artifacts/<test>/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.conftest import WebServer, login

pytestmark = pytest.mark.browser


def test_search_edit_deactivate_and_zones_on_the_picture(context, web_server: WebServer, artifacts_dir: Path) -> None:
    page = context.new_page()
    login(page, "admin", next_path="/registry?lang=en")
    expect(page.locator("h1")).to_have_text("Merchant registry")
    page.fill("input[name=q]", "小李")
    page.click("form[role=search] button[type=submit]")
    expect(page.locator("#registry tbody tr")).to_have_count(1)
    page.click("#registry a:text('m-003')")
    expect(page.locator("h1")).to_contain_text("小李水果店")
    camera = page.locator("figure.registry-camera[data-camera='cam-02']")
    expect(camera.locator("polygon.zone-outline")).to_have_count(1)
    assert camera.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(artifacts_dir / "registry-merchant.png"), full_page=True)

    page.fill("input[name=phone]", "12")
    page.click("#save")
    expect(page.locator(".flash.error")).to_contain_text("not a valid phone number")
    page.fill("input[name=phone]", "138 0013 8000")
    page.click("#save")
    expect(page.locator(".flash")).to_have_text("Saved.")
    expect(page.locator("input[name=phone]")).to_have_value("+8613800138000")

    page.click("#toggle-active")
    expect(page.locator("#merchant-status")).to_have_text("Deactivated")
    page.goto("/registry?status=inactive")
    expect(page.locator("#registry tbody tr")).to_have_count(1)
    page.goto("/registry/m-003")
    page.click("#toggle-active")
    expect(page.locator("#merchant-status")).to_have_text("Active")


def test_survey_upload_lists_bad_rows_and_imports_nothing(context, web_server: WebServer, artifacts_dir: Path,
                                                          tmp_path: Path) -> None:
    survey = tmp_path / "survey.csv"
    survey.write_text("code,name,phone,zones\nm-new-1,新店,13800138000,cam-01/z-m001\nm-new-2,,,\n"
                      "m-new-3,另一家,138,cam-09/z-x\n", encoding="utf-8-sig")
    page = context.new_page()
    login(page, "admin", next_path="/registry?lang=en")
    page.set_input_files("form.registry-import input[type=file]", str(survey))
    page.click("form.registry-import button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("nothing was imported")
    rows = page.locator("#rejected tbody tr")
    expect(rows).to_have_count(3)  # row 3: name; row 4: phone and zone
    expect(page.locator("#rejected")).to_contain_text("unknown zone 'cam-09/z-x'")
    page.screenshot(path=str(artifacts_dir / "registry-rejected.png"), full_page=True)
    page.fill("input[name=q]", "m-new")
    page.click("form[role=search] button[type=submit]")
    expect(page.locator("#registry tbody tr")).to_have_count(0)

    # An operator may look but not change the registry.
    other = context.browser.new_context(base_url=web_server.base_url)
    try:
        op = other.new_page()
        login(op, "op", next_path="/registry/m-001?lang=en")
        expect(op.locator("#save")).to_have_count(0)
        expect(op.locator("form.registry-import")).to_have_count(0)
    finally:
        other.close()
