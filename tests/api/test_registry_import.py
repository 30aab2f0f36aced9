"""Merchant registry import/export over HTTP, on SQLite and PostgreSQL: a 708-shop survey along nine roads,
files with bad rows (each rejected row reported, nothing half-imported), encodings, XLSX merged cells,
idempotent re-import, export round trip, and the one-merchant edit/deactivate API.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from api.db.models import Merchant, Zone
from api.db.session import session_scope
from api.services.registration import apply_zones
from detector.categories import Category
from detector.zones.schema import parse_zones

#: The demo's four roads and five more: the source city surveyed 708 shops along nine roads.
ROADS = ("Market Street", "Corner Lane", "Station Road", "River Walk", "解放路", "人民路", "中山路", "建设路", "和平街")
SHOPS = 708
HEADER = ["code", "name", "licence_number", "phone", "notification_address", "address", "road", "zones"]


def _survey_zones(app: Any, tag: str, shops: int = SHOPS) -> list[str]:
    """Cameras along the nine roads with one storefront zone per shop; returns 'camera/zone' per shop."""
    refs: list[str] = []
    per_camera = 20
    cats = [c.value for c in Category]
    now = app.state.clock.now()
    with session_scope(app.state.session_factory) as s:
        for cam_no in range((shops + per_camera - 1) // per_camera):
            camera = f"cam-{tag}-{cam_no:02d}"
            zones = []
            for k in range(min(per_camera, shops - cam_no * per_camera)):
                x = 0.04 * k
                zones.append({"id": f"z{k:02d}", "kind": "storefront", "forbid": cats,
                              "polygon": [[x, 0.5], [x + 0.04, 0.5], [x + 0.04, 0.9], [x, 0.9]]})
                refs.append(f"{camera}/z{k:02d}")
            apply_zones(s, parse_zones({"camera": camera, "zones": zones}), now, road=ROADS[cam_no % len(ROADS)])
    return refs


def _survey_rows(tag: str, refs: list[str]) -> list[list[str]]:
    rows = []
    for i, ref in enumerate(refs):
        road = ROADS[(i // 20) % len(ROADS)]
        rows.append([f"m-{tag}-{i:04d}", f"商户 {i} 号店", f"91330100MA{i:08d}", f"138 {i % 10000:04d} {i % 10000:04d}",
                     f"https://notify.example/{tag}/{i}" if i % 3 == 0 else "", f"{i + 1} {road}", road, ref])
    return rows


def _csv(rows: list[list[str]], header: list[str] = HEADER, bom: bool = False) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


def _upload(client: Any, world: Any, data: bytes, name: str = "registry.csv", who: str = "admin",
            dry_run: bool = False) -> Any:
    return client.post("/api/v1/registry/merchants/import", files={"file": (name, data, "application/octet-stream")},
                       data={"dry_run": "true" if dry_run else "false"}, headers=world.auth(who))


def _count(app: Any, tag: str) -> int:
    with session_scope(app.state.session_factory) as s:
        return s.scalar(select(func.count()).select_from(Merchant).where(Merchant.code.like(f"m-{tag}-%"))) or 0


def test_708_shop_survey_imports_and_reimport_changes_nothing(client, app, world):
    tag = uuid.uuid4().hex[:6]
    refs = _survey_zones(app, tag)
    data = _csv(_survey_rows(tag, refs), bom=True)  # as Excel's "CSV UTF-8" writes it
    r = _upload(client, world, data)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["created"], report["updated"], report["unchanged"]) == (SHOPS, SHOPS, 0, 0)
    assert report["rejected"] == [] and report["applied"] is True
    assert _count(app, tag) == SHOPS
    with session_scope(app.state.session_factory) as s:
        m = s.scalar(select(Merchant).where(Merchant.code == f"m-{tag}-0003"))
        assert m is not None and m.phone == "+8613800030003" and m.webhook_url == f"https://notify.example/{tag}/3"
        assert m.licence_number == "91330100MA00000003" and m.road is not None and m.road.name == ROADS[0]
        owned = s.scalars(select(Zone.code).where(Zone.merchant_id == m.id)).all()
        assert owned == ["z03"]

    again = _upload(client, world, data).json()
    assert (again["created"], again["updated"], again["unchanged"], again["zones_released"]) == (0, 0, SHOPS, 0)

    # Export, then import the export: the registry is unchanged (round trip, both formats).
    exported = client.get("/api/v1/registry/merchants/export", headers=world.auth("operator"))
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    mine = [row for row in lines if row["code"].startswith(f"m-{tag}-")]
    assert len(mine) == SHOPS and mine[3]["zones"] == refs[3] and mine[3]["active"] == "yes"
    back = _upload(client, world, exported.content, "export.csv").json()
    assert back["created"] == 0 and back["updated"] == 0, back
    xlsx = client.get("/api/v1/registry/merchants/export?format=xlsx", headers=world.auth("operator"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert [c.value for c in sheet[1]][:2] == ["code", "name"]
    back = _upload(client, world, xlsx.content, "export.xlsx").json()
    assert back["format"] == "xlsx" and back["created"] == 0 and back["updated"] == 0, back


def test_bad_rows_are_each_reported_and_nothing_is_imported(client, app, world):
    tag = uuid.uuid4().hex[:6]
    refs = _survey_zones(app, tag, shops=4)
    good = _survey_rows(tag, refs)
    rows = [
        good[0],                                                                   # row 2: good
        [f"m-{tag}-x1", "", "", "", "", "", ROADS[0], ""],                         # row 3: no name
        [f"m-{tag}-x2", "Shop", "", "", "", "", ROADS[0], f"cam-{tag}-00/z99"],    # row 4: unknown zone
        [good[0][0], "Same code again", "", "", "", "", ROADS[0], ""],             # row 5: duplicate code
        [f"m-{tag}-x3", "Shop", "", "12345", "", "", ROADS[0], ""],                # row 6: bad phone
        [f"m-{tag}-x4", "Shop", "", "", "ftp://x", "", ROADS[0], ""],              # row 7: not an http URL
        [f"m-{tag}-x5", "Shop", "", "", "", "", ROADS[0], refs[0]],                # row 8: zone of row 2 too
        ["bad code!", "Shop", "", "", "", "", ROADS[0], ""],                       # row 9: bad code
        good[1],                                                                   # row 10: good
    ]
    r = _upload(client, world, _csv(rows))
    assert r.status_code == 422, r.text
    body = r.json()
    assert "nothing was imported" in body["detail"]
    rejected = {(e["row"], e["column"]) for e in body["report"]["rejected"]}
    assert rejected == {(3, "name"), (4, "zones"), (5, "code"), (6, "phone"), (7, "notification_address"),
                        (8, "zones"), (9, "code")}
    messages = " | ".join(e["message"] for e in body["report"]["rejected"])
    for words in ("'name' is missing", "unknown zone", "duplicate code", "not a valid phone number",
                  "http(s)", "also given to row 2"):
        assert words in messages, messages
    assert _count(app, tag) == 0  # the good rows 2 and 10 were not written either

    # The same rows fixed: everything goes in.
    r = _upload(client, world, _csv([good[0], good[1]]))
    assert r.status_code == 200 and r.json()["created"] == 2


def test_file_level_problems_are_clear_4xx(client, app, world):
    tag = uuid.uuid4().hex[:6]
    rows = [[f"m-{tag}-0", "老王烧烤", "", "", "", "", "解放路", ""]]
    gbk = _csv(rows).decode("utf-8").encode("gb18030")
    r = _upload(client, world, gbk)
    assert r.status_code == 422 and "not UTF-8" in r.json()["detail"] and "CSV UTF-8" in r.json()["detail"]
    r = _upload(client, world, _csv(rows, header=["shop", "phone"]))
    assert r.status_code == 422 and "lacks the required column(s) code" in r.json()["detail"]
    r = _upload(client, world, b"PK\x03\x04not really a zip")
    assert r.status_code == 422 and "XLSX" in r.json()["detail"]
    r = _upload(client, world, b"code,name\n")
    assert r.status_code == 422 and "no rows" in r.json()["detail"]
    # UTF-16 with its BOM (Excel's "Unicode text") and Chinese headers are read.
    zh = _csv(rows, header=["商户编码", "店名", "营业执照号", "联系电话", "通知地址", "地址", "道路", "责任区"])
    r = _upload(client, world, zh.decode("utf-8").encode("utf-16"))
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    assert _upload(client, world, _csv(rows), who="operator").status_code == 403
    assert _count(app, tag) == 1


def test_xlsx_with_merged_cells_reports_the_rows(client, app, world):
    tag = uuid.uuid4().hex[:6]
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([f"m-{tag}-0", "Shop 0", "", 13800138000, "", "", "Market Street", ""])
    sheet.append([f"m-{tag}-1", "Shop 1", "", "", "", "", None, ""])
    sheet.append([f"m-{tag}-2", "Shop 2", "", "", "", "", "Corner Lane", ""])
    sheet.merge_cells("G2:G3")  # the road typed once for two shops
    buf = io.BytesIO()
    book.save(buf)
    r = _upload(client, world, buf.getvalue(), "survey.xlsx")
    assert r.status_code == 422, r.text
    rejected = r.json()["report"]["rejected"]
    assert sorted(e["row"] for e in rejected) == [2, 3] and all("G2:G3" in e["message"] for e in rejected)
    assert _count(app, tag) == 0
    sheet.unmerge_cells("G2:G3")
    sheet["G3"] = "Market Street"
    buf = io.BytesIO()
    book.save(buf)
    r = _upload(client, world, buf.getvalue(), "survey.xlsx")
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    with session_scope(app.state.session_factory) as s:
        assert s.scalar(select(Merchant.phone).where(Merchant.code == f"m-{tag}-0")) == "+8613800138000"


def test_dry_run_writes_nothing(client, app, world):
    tag = uuid.uuid4().hex[:6]
    r = _upload(client, world, _csv([[f"m-{tag}-0", "Shop", "", "", "", "", "", ""]]), dry_run=True)
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["applied"] is False
    assert _count(app, tag) == 0


@pytest.mark.parametrize("change, status", [({"phone": "0571-8888 8888"}, 200), ({"phone": "12"}, 422),
                                            ({"notification_address": "javascript:alert(1)"}, 422),
                                            ({"active": False}, 200), ({"owner": "x"}, 422)])
def test_edit_and_deactivate(client, world, change, status):
    r = client.patch(f"/api/v1/registry/merchants/{world.merchant_a}", json=change, headers=world.auth("admin"))
    assert r.status_code == status, r.text
    if status == 200:
        got = r.json()
        for key, value in change.items():
            assert got[key] == (value if key != "phone" else "+8657188888888")
        assert [z["zone"] for z in got["zones"]] == [world.zone_a]
    found = client.get("/api/v1/registry/merchants", params={"q": world.tag}, headers=world.auth("operator")).json()
    assert found["total"] == 2
    assert client.patch(f"/api/v1/registry/merchants/{world.merchant_a}", json={"active": False},
                        headers=world.auth("operator")).status_code == 403


def test_a_deactivated_merchants_case_goes_to_enforcement(client, world):
    from apikit import event, post_event

    r = client.patch(f"/api/v1/registry/merchants/{world.merchant_b}", json={"active": False},
                     headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    case_id = post_event(client, world.tokens["edge_y"], event(world.cam_b, world.zone_b)).json()["case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/actions/confirm", json={}, headers=world.auth("operator")).json()
    assert r["steps"] == [["confirm", "confirmed"], ["escalate", "escalated"]]  # no notice to a closed shop
    events = client.get(f"/api/v1/cases/{case_id}", headers=world.auth("operator")).json()["events"]
    assert any("deactivated in the registry" in (e["note"] or "") for e in events)


def test_xlsx_with_an_xml_entity_bomb_is_refused(client, world):
    import zipfile

    book = Workbook()
    book.active.append(HEADER)
    plain = io.BytesIO()
    book.save(plain)
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><worksheet xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&c;</t></is></c></row>'
            '</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = bomb.encode() if item.filename == "xl/worksheets/sheet1.xml" else src.read(item.filename)
            dst.writestr(item, data)
    r = _upload(client, world, out.getvalue(), "bomb.xlsx")
    assert r.status_code == 422 and "XLSX" in r.json()["detail"], r.text
