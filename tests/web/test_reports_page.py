"""The report page in a real browser (Playwright, Debian's headless Chromium) against the real service:
it renders with its charts in Chinese and in English, and its PDF and XLSX downloads open (parsed here with
pypdf and openpyxl). Screenshots in test-artifacts/<test>/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.web.conftest import WebServer, form_client, login

pytestmark = pytest.mark.browser

TITLES = {"zh-CN": "沿街市容秩序报告", "en": "Street-front sanitation report"}
FLAGGED = {"zh-CN": "发现", "en": "Flagged"}


def _squash(text: str) -> str:
    # pypdf reads fpdf2's CJK (TTC) text with a NUL between characters; viewers show it as written.
    return "".join(text.replace("\x00", "").split())


def _check_downloads(page, lang: str, cases: int, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with page.expect_download() as pdf_info:
        page.click("#download-pdf")
    pdf_path = artifacts_dir / f"report-{lang}.pdf"
    pdf_info.value.save_as(pdf_path)
    reader = PdfReader(pdf_path)
    text = _squash("".join(p.extract_text() for p in reader.pages))
    assert _squash(TITLES[lang]) in text, text[:300]
    assert _squash(FLAGGED[lang]) in text and "解放路" in text  # Chinese road names in both languages
    assert any(page_.images for page_ in reader.pages)  # the charts are in it

    with page.expect_download() as xlsx_info:
        page.click("#download-xlsx")
    xlsx_path = artifacts_dir / f"report-{lang}.xlsx"
    xlsx_info.value.save_as(xlsx_path)
    book = load_workbook(xlsx_path)
    kpis = book.worksheets[0]
    values = {row[0]: row[1] for row in kpis.iter_rows(min_row=4, values_only=True) if row and row[0]}
    assert values[FLAGGED[lang]] == cases
    assert len(book.worksheets) >= 5


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_report_page_charts_and_downloads(context, web_server: WebServer, artifacts_dir: Path, lang: str) -> None:
    today = datetime.now(UTC).date()
    query = f"from={today - timedelta(days=30)}&to={today}&lang={lang}"
    page = context.new_page()
    login(page, "op", next_path=f"/reports?{query}")
    expect(page.locator("h1")).to_have_text(TITLES[lang])
    for chart in ("#chart-trend", "#chart-category"):
        expect(page.locator(chart)).to_be_visible()
        assert page.locator(chart).evaluate("img => img.complete && img.naturalWidth > 0")
    flagged = page.locator("#kpis tr").filter(has_text=FLAGGED[lang]).first.locator("td")
    expect(flagged).to_have_text(str(len(web_server.cases)))
    expect(page.locator("table.report-rows[data-kind=road]")).to_contain_text("解放路")
    page.screenshot(path=str(artifacts_dir / f"report-{lang}.png"), full_page=True)
    page.emulate_media(media="print")
    expect(page.locator("form.no-print")).to_be_hidden()  # the printed page is the report alone
    page.emulate_media(media="screen")
    _check_downloads(page, lang, len(web_server.cases), artifacts_dir)

    # A road's report holds only that road's cases.
    page.goto(f"/reports?{query}&scope=road&name=人民路")
    expect(page.locator("#report-scope")).to_contain_text("人民路")
    rows = page.locator("table.report-rows[data-kind=road] tbody tr")
    expect(rows).to_have_count(1)


def test_report_bad_requests_are_4xx(web_server: WebServer) -> None:
    client, _ = form_client(web_server, "op")
    try:
        r = client.get("/reports?scope=road&name=nowhere")
        assert r.status_code == 422 and "nowhere" in r.text
        assert client.get("/reports?from=2026-13-01").status_code == 422
        assert client.get("/reports?from=2026-11-02&to=2026-11-01").status_code == 422
        assert client.get("/reports/report.doc").status_code in (404, 422)
    finally:
        client.close()
    anonymous = httpx.get(f"{web_server.base_url}/reports/report.pdf", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]


def test_merchant_page_shows_its_standing(web_server: WebServer) -> None:
    token = web_server.merchant_tokens["m-004"]
    html = httpx.get(f"{web_server.base_url}/m/{token}?lang=en").text
    assert 'id="standing"' in html and "Your standing" in html
    assert 'data-level="green"' in html and "stay green" in html  # one notified case, nothing escalated
    zh = httpx.get(f"{web_server.base_url}/m/{token}?lang=zh-CN").text
    assert "您的信用等级" in zh and "良好" in zh
