"""The merchant registry in the console: ``/registry`` (search, import a CSV/XLSX survey with its per-row
report, export) and ``/registry/{code}`` (edit, deactivate, and the merchant's zones drawn on each camera's
latest picture). Admins change the registry; every staff role may look. The work is in
`api.services.registry` and `api.services.registry_import`, the same as the API's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.db.models import Merchant, Road, Role
from api.services import registry
from api.services.registry_import import (
    RegistryFileError,
    export_csv,
    export_xlsx,
    import_registry,
    registry_rows,
)
from api.web.context import DbDep, Page, StaffPage

router = APIRouter()
PAGE_SIZE = 50

TEXT: dict[str, dict[str, str]] = {
    "en": {"title": "Merchant registry", "search": "Search", "q": "Code, name, licence, phone or address",
           "road": "Road", "any": "(any)", "active": "Active", "inactive": "Deactivated", "status": "Status",
           "code": "Code", "name": "Shop name", "licence_number": "Licence number", "phone": "Phone",
           "notification_address": "Notification address (URL)", "address": "Address", "zones": "Zones",
           "offences": "Offences", "edit": "Edit", "save": "Save", "deactivate": "Deactivate",
           "reactivate": "Reactivate", "import": "Import a survey (CSV or XLSX)", "dry_run": "Check only",
           "upload": "Upload", "export_csv": "Export CSV", "export_xlsx": "Export XLSX", "found": "{n} merchants",
           "saved": "Saved.", "unchanged": "Nothing changed.", "rejected": "{n} problem(s): nothing was imported.",
           "row": "Row", "column": "Column", "reason": "Reason", "no_zones": "No zones assigned.",
           "imported": "Imported {rows} rows: {created} new, {updated} changed, {unchanged} unchanged.",
           "checked": "Checked {rows} rows: {created} would be new, {updated} would change.",
           "admin_only": "Only admins change the registry.", "back": "Back to the registry", "prev": "Previous",
           "next": "Next"},
    "zh-CN": {"title": "商户名录", "search": "搜索", "q": "编码、店名、执照号、电话或地址", "road": "道路",
              "any": "（全部）", "active": "在营", "inactive": "已停用", "status": "状态", "code": "编码",
              "name": "店名", "licence_number": "营业执照号", "phone": "联系电话",
              "notification_address": "通知地址（URL）", "address": "地址", "zones": "责任区", "offences": "违规次数",
              "edit": "编辑", "save": "保存", "deactivate": "停用", "reactivate": "恢复", "import": "导入普查表（CSV 或 XLSX）",
              "dry_run": "仅检查", "upload": "上传", "export_csv": "导出 CSV", "export_xlsx": "导出 XLSX",
              "found": "共 {n} 家商户", "saved": "已保存。", "unchanged": "没有变化。",
              "rejected": "发现 {n} 处问题：未导入任何数据。", "row": "行", "column": "列", "reason": "原因",
              "no_zones": "尚未分配责任区。",
              "imported": "已导入 {rows} 行：新增 {created}，修改 {updated}，未变 {unchanged}。",
              "checked": "已检查 {rows} 行：将新增 {created}，将修改 {updated}。",
              "admin_only": "只有管理员可以修改商户名录。", "back": "返回商户名录", "prev": "上一页", "next": "下一页"},
}


def _words(page: Page) -> dict[str, str]:
    return TEXT.get(page.lang, TEXT["zh-CN"])


def _list(page: Page, db: DbDep, q: str | None, road: str | None, status: str | None, offset: int,
          report: Any = None, flash: str | None = None, flash_kind: str = "ok", status_code: int = 200) -> Response:
    active = {"active": True, "inactive": False}.get(status or "")
    total, rows = registry.search(db, q, road, active, PAGE_SIZE, offset)
    roads = list(db.scalars(select(Road.name).order_by(Road.name)))
    return page.render("registry.html", status_code=status_code, active="registry", w=_words(page),
                       merchants=[registry.describe(db, m, with_zones=False) for m in rows], total=total, q=q or "",
                       road=road or "", status=status or "", roads=roads, offset=offset, page_size=PAGE_SIZE,
                       report=report, flash=flash, flash_kind=flash_kind,
                       is_admin=page.user is not None and page.user.role == Role.ADMIN)


@router.get("/registry", include_in_schema=False)
def registry_page(page: StaffPage, db: DbDep, q: Annotated[str | None, Query(max_length=100)] = None,
                  road: Annotated[str | None, Query(max_length=200)] = None,
                  status: Annotated[Literal["", "active", "inactive"] | None, Query()] = None,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    flash, kind = page.read_flash()
    return _list(page, db, q, road, status, offset, flash=flash, flash_kind=kind)


@router.post("/registry/import", include_in_schema=False)
async def registry_import(page: StaffPage, db: DbDep, file: Annotated[UploadFile, File()],
                          csrf_token: Annotated[str, Form()] = "", dry_run: Annotated[bool, Form()] = False) -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    w = _words(page)
    if page.user is None or page.user.role != Role.ADMIN:
        return _list(page, db, None, None, None, 0, flash=w["admin_only"], flash_kind="error", status_code=403)
    settings = page.request.app.state.settings
    data = await file.read(settings.registry_max_bytes + 1)

    def run() -> Response:
        if len(data) > settings.registry_max_bytes:
            return _list(page, db, None, None, None, 0, status_code=413, flash_kind="error",
                         flash=page.t("error.bad_input", detail=f"> {settings.registry_max_bytes} bytes"))
        try:
            report = import_registry(db, data, file.filename or "registry", actor=f"user:{page.user.username}",
                                     now=page.now(), phone_region=settings.registry_phone_region,
                                     max_rows=settings.registry_max_rows, dry_run=dry_run)
        except RegistryFileError as exc:
            return _list(page, db, None, None, None, 0, flash=exc.message, flash_kind="error",
                         status_code=exc.status)
        if report.rejected:
            return _list(page, db, None, None, None, 0, report=report, flash_kind="error", status_code=422,
                         flash=w["rejected"].format(n=len(report.rejected)))
        message = (w["checked"] if dry_run else w["imported"]).format(**report.model_dump())
        return _list(page, db, None, None, None, 0, report=report, flash=message)

    return await run_in_threadpool(run)


@router.get("/registry/export.{kind}", include_in_schema=False)
def registry_export(kind: Literal["csv", "xlsx"], page: StaffPage, db: DbDep) -> Response:
    rows = registry_rows(db)
    if kind == "xlsx":
        return page.finish(Response(export_xlsx(rows), headers={
            "Content-Disposition": 'attachment; filename="frontage-merchants.xlsx"'},
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    return page.finish(Response(export_csv(rows), media_type="text/csv; charset=utf-8",
                                headers={"Content-Disposition": 'attachment; filename="frontage-merchants.csv"'}))


def _detail(page: Page, db: DbDep, merchant: Merchant, flash: str | None = None, flash_kind: str = "ok",
            status_code: int = 200) -> Response:
    info = registry.describe(db, merchant)
    cameras: dict[int, dict[str, Any]] = {}
    for z in info.zones:
        cam = cameras.setdefault(z.camera_id, {"id": z.camera_id, "code": z.camera, "zones": []})
        cam["zones"].append({"code": z.zone, "points": " ".join(f"{x:.4f},{y:.4f}" for x, y in z.polygon)})
    return page.render("registry_merchant.html", status_code=status_code, active="registry", w=_words(page),
                       m=info, cameras=list(cameras.values()), flash=flash, flash_kind=flash_kind,
                       is_admin=page.user is not None and page.user.role == Role.ADMIN)


def _merchant(db: DbDep, code: str) -> Merchant | None:
    return db.scalar(select(Merchant).where(Merchant.code == code))


@router.get("/registry/{code}", include_in_schema=False)
def registry_merchant(code: str, page: StaffPage, db: DbDep) -> Response:
    merchant = _merchant(db, code)
    if merchant is None:
        return page.render("error.html", status_code=404, title="404", message=page.t("error.not_found"))
    flash, kind = page.read_flash()
    return _detail(page, db, merchant, flash, kind)


@router.post("/registry/{code}", include_in_schema=False)
def registry_save(code: str, page: StaffPage, db: DbDep, csrf_token: Annotated[str, Form()] = "",
                  name: Annotated[str, Form(max_length=200)] = "", licence_number: Annotated[str, Form(max_length=100)] = "",
                  phone: Annotated[str, Form(max_length=40)] = "", address: Annotated[str, Form(max_length=300)] = "",
                  notification_address: Annotated[str, Form(max_length=500)] = "",
                  road: Annotated[str, Form(max_length=200)] = "",
                  set_active: Annotated[Literal["", "true", "false"], Form()] = "") -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    merchant = _merchant(db, code)
    if merchant is None:
        return page.render("error.html", status_code=404, title="404", message=page.t("error.not_found"))
    w = _words(page)
    if page.user is None or page.user.role != Role.ADMIN:
        return _detail(page, db, merchant, w["admin_only"], "error", 403)
    try:
        if set_active:
            change = registry.RegistryMerchantUpdate(active=set_active == "true")
        else:
            change = registry.RegistryMerchantUpdate(name=name, licence_number=licence_number, phone=phone,
                                                     address=address, notification_address=notification_address,
                                                     road=road)
        changed = registry.update(db, merchant, change, page.now(), page.request.app.state.settings.registry_phone_region)
    except registry.UpdateError as exc:
        db.rollback()
        return _detail(page, db, merchant, page.t("error.bad_input", detail=f"{w.get(exc.field, exc.field)}: {exc.message}"),
                       "error", 422)
    except ValidationError as exc:
        return _detail(page, db, merchant, page.t("error.bad_input", detail=exc.errors()[0]["msg"]), "error", 422)
    return page.redirect(page.with_flash(f"/registry/{merchant.code}", w["saved"] if changed else w["unchanged"]))
