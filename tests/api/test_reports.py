"""``GET /api/v1/reports`` on SQLite and PostgreSQL: one road's figures (flagged, confirmed, rejected,
operator-judged precision, weekly trend, breakdowns), the XLSX and PDF it downloads (parsed here), and
clear 4xx for what it cannot answer.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from apikit import event, post_event
from openpyxl import load_workbook
from pypdf import PdfReader

from detector.categories import Category


def test_road_report_figures_and_downloads(client, world):
    now = datetime.now(UTC).replace(microsecond=0)
    ids = []
    for i, category in enumerate(  # one case each: same-category episodes would attach to one case
        (Category.EXPOSED_GARBAGE, Category.STREET_VENDING, Category.STACKED_MATERIALS)):
        ev = event(world.cam_a, world.zone_a, category=category, started_at=now - timedelta(minutes=30 - i * 10))
        ids.append(post_event(client, world.tokens["edge_x"], ev).json()["case_id"])
    for case_id, action in zip(ids, ("confirm", "confirm", "reject"), strict=True):
        assert client.post(f"/api/v1/cases/{case_id}/actions/{action}", json={},
                           headers=world.auth("operator")).status_code == 200
    day = now.date()
    query = {"from": str(day - timedelta(days=1)), "to": str(day + timedelta(days=1)), "scope": "road",
             "name": world.road}
    r = client.get("/api/v1/reports", params=query, headers=world.auth("operator"))
    assert r.status_code == 200, r.text
    report = r.json()
    totals = report["totals"]
    assert (totals["flagged"], totals["confirmed"], totals["rejected"]) == (3, 2, 1)
    assert totals["precision"] == round(2 / 3, 4) and totals["rejected_share"] == round(1 / 3, 4)
    assert {r["key"]: r["flagged"] for r in report["by_category"]} == {"exposed_garbage": 1, "street_vending": 1,
                                                                        "stacked_materials": 1}
    assert [r["key"] for r in report["by_road"]] == [world.road]
    assert sum(w["flagged"] for w in report["weeks"]) == 3

    xlsx = client.get("/api/v1/reports", params={**query, "format": "xlsx", "lang": "en"},
                      headers=world.auth("operator"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=4, values_only=True) if row and row[0]}
    assert values["Flagged"] == 3 and values["Rejected (false alarms)"] == 1
    pdf = client.get("/api/v1/reports", params={**query, "format": "pdf", "lang": "en"},
                     headers=world.auth("operator"))
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).replace("\x00", "")
    assert "Street-front sanitation report" in " ".join(text.split()) or "Street-frontsanitationreport" in "".join(
        text.split())


def test_report_refusals_are_clear_4xx(client, world):
    r = client.get("/api/v1/reports", params={"scope": "road", "name": "No Such Road"}, headers=world.auth("operator"))
    assert r.status_code == 422 and "unknown road" in r.json()["detail"]
    r = client.get("/api/v1/reports", params={"scope": "district"}, headers=world.auth("operator"))
    assert r.status_code == 422 and "needs the district's name" in r.json()["detail"]
    r = client.get("/api/v1/reports", params={"from": "2026-05-02", "to": "2026-05-01"}, headers=world.auth("operator"))
    assert r.status_code == 422
    r = client.get("/api/v1/reports", params={"from": "2020-01-01", "to": "2026-01-01"}, headers=world.auth("operator"))
    assert r.status_code == 422 and "three years" in r.json()["detail"]
    assert client.get("/api/v1/reports", params={"format": "docx"}, headers=world.auth("operator")).status_code == 422


def test_missing_cjk_font_is_a_clear_message_not_a_download(tmp_path):
    import pytest

    from api.services.reports import FontMissing, Report, find_cjk_font, to_pdf

    with pytest.raises(FontMissing, match="does not exist"):
        find_cjk_font(tmp_path / "no-such-font.ttc")
    empty = Report(start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 12, 1, tzinfo=UTC), scope="city",
                   name=None, generated_at=datetime(2026, 12, 1, tzinfo=UTC), weeks=[], by_category=[], by_road=[],
                   by_merchant=[], offenders=[], totals={
                       "flagged": 0, "confirmed": 0, "rejected": 0, "self_rectified": 0, "escalated": 0,
                       "dispatched": 0, "closed": 0, "self_rectification_rate": None, "median_time_to_fix_s": None,
                       "precision": None, "rejected_share": None, "relearned": 0, "rounds": 0})
    with pytest.raises(FontMissing):
        to_pdf(empty, "zh-CN", tmp_path / "no-such-font.ttc")
    assert to_pdf(empty, "zh-CN").startswith(b"%PDF")  # Debian's fonts-noto-cjk, found on disk
