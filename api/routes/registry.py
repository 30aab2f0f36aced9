"""``/api/v1/registry``: the merchant registry as a file (import, export) and one merchant at a time
(search, edit, deactivate). The work is in `api.services.registry_import` and `api.services.registry`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.db.models import Merchant
from api.deps import AdminUser, ClockDep, SessionDep, SettingsDep, StaffUser, get_or_404
from api.services import registry
from api.services.registry_import import (
    ImportReport,
    RegistryFileError,
    export_csv,
    export_xlsx,
    import_registry,
    registry_rows,
)

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])


class RegistryPage(BaseModel):
    total: int = Field(title="Total", description="Merchants matching the search")
    items: list[registry.RegistryMerchant] = Field(title="Items", description="This page of them")


@router.post("/merchants/import", response_model=ImportReport, summary="Import the merchant registry (CSV or XLSX)",
             responses={422: {"description": "Rows rejected (the report lists each) or the file unreadable; "
                                             "nothing imported"}, 413: {"description": "File too large"}})
async def import_merchants(
    session: SessionDep, settings: SettingsDep, clock: ClockDep, user: AdminUser,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX; columns in docs/REGISTRY.md")],
    dry_run: Annotated[bool, Form(description="Validate and count only; write nothing")] = False,
) -> Response:
    data = await file.read(settings.registry_max_bytes + 1)
    if len(data) > settings.registry_max_bytes:
        raise HTTPException(413, f"the file is larger than {settings.registry_max_bytes} bytes")
    if not data:
        raise HTTPException(422, "the file is empty")

    def run() -> ImportReport:
        return import_registry(session, data, file.filename or "registry", actor=f"user:{user.username}",
                               now=clock.now(), phone_region=settings.registry_phone_region,
                               max_rows=settings.registry_max_rows, dry_run=dry_run)

    try:
        report = await run_in_threadpool(run)
    except RegistryFileError as exc:
        raise HTTPException(exc.status, exc.message) from None
    if report.rejected:
        return JSONResponse({"detail": f"{len(report.rejected)} problem(s) in {len({e.row for e in report.rejected})} "
                                       "row(s); nothing was imported", "report": report.model_dump(mode="json")},
                            status_code=422)
    return JSONResponse(report.model_dump(mode="json"))


@router.get("/merchants/export", summary="The whole registry as CSV (UTF-8 with BOM) or XLSX",
            response_class=Response)
def export_merchants(session: SessionDep, user: StaffUser,
                     format: Annotated[Literal["csv", "xlsx"], Query(description="csv or xlsx")] = "csv") -> Response:
    rows = registry_rows(session)
    if format == "xlsx":
        return Response(export_xlsx(rows),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="frontage-merchants.xlsx"'})
    return Response(export_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="frontage-merchants.csv"'})


@router.get("/merchants", response_model=RegistryPage, summary="Search the registry")
def search_merchants(
    session: SessionDep, user: StaffUser,
    q: Annotated[str | None, Query(max_length=100, description="Part of code, name, licence, phone or address")] = None,
    road: Annotated[str | None, Query(max_length=200, description="Road name")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or deactivated (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
) -> RegistryPage:
    total, rows = registry.search(session, q, road, active, limit, offset)
    return RegistryPage(total=total, items=[registry.describe(session, m, with_zones=False) for m in rows])


@router.get("/merchants/{code}", response_model=registry.RegistryMerchant, summary="One merchant with its zones")
def get_registry_merchant(code: str, session: SessionDep, user: StaffUser) -> registry.RegistryMerchant:
    return registry.describe(session, get_or_404(session, Merchant.code, code, "merchant"))


@router.patch("/merchants/{code}", response_model=registry.RegistryMerchant,
              summary="Edit a merchant (send active=false to deactivate)")
def edit_registry_merchant(code: str, body: registry.RegistryMerchantUpdate, session: SessionDep,
                           settings: SettingsDep, clock: ClockDep, user: AdminUser) -> registry.RegistryMerchant:
    merchant = get_or_404(session, Merchant.code, code, "merchant")
    try:
        registry.update(session, merchant, body, clock.now(), settings.registry_phone_region)
    except registry.UpdateError as exc:
        raise HTTPException(422, f"{exc.field}: {exc.message}") from None
    session.flush()
    return registry.describe(session, merchant)
