"""Cameras, their latest snapshot with the zones drawn, the zone editor (saves through `api.services.registration.apply_zones`,
the same path as ``PUT /api/v1/cameras/{code}/zones``) and the zones YAML the edge uses.

The editor also edits each zone's schedules (``permits:``, detector/zones/schedule.py) and the camera's time
zone they are read in; they are validated by the zones file's own schema (`parse_zones`), so a bad window is
the same clear message an uploaded file gets, and nothing is saved.
"""

from __future__ import annotations

import io
import json
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, HTTPException, Path
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from api.db.models import OPEN_STATES, Camera, Case, Evidence, Merchant, Zone
from api.deps import PathId, may_edit_zones
from api.routes.camera_health import picture_response
from api.services.cameras import health_public, latest_picture
from api.services.evidence import evidence_response
from api.services.known_objects import accept_proposal, open_proposals, zones_document
from api.services.privacy import audit_original
from api.services.registration import apply_zones
from api.web.context import DbDep, Page, StaffPage
from api.web.security import apply_security_headers
from detector.categories import ALL_CATEGORIES
from detector.zones.schedule import WEEKDAYS
from detector.zones.schema import ZoneKind, ZonesFileError, parse_zones

router = APIRouter()

PLACEHOLDER_SIZE = (1280, 720)


def _camera(db: DbDep, camera_id: int) -> Camera:
    camera = db.get(Camera, camera_id)
    if camera is None:
        raise HTTPException(404, f"camera {camera_id} not found")
    return camera


def latest_frame(db: DbDep, camera_id: int) -> Evidence | None:
    return db.scalar(select(Evidence).join(Case, Case.id == Evidence.case_id)
                     .where(Case.camera_id == camera_id, Evidence.source == "edge", Evidence.kind == "frame",
                            Evidence.content_type.in_(["image/jpeg", "image/png"]), Evidence.purged_at.is_(None))
                     .order_by(Evidence.created_at.desc(), Evidence.id.desc()).limit(1))


def _image_size(page: Page, row: Evidence | None) -> tuple[int, int]:
    if row is None:
        return PLACEHOLDER_SIZE
    from PIL import Image

    from api.evidence import read

    data = read(page.request.app.state.settings, row)
    try:
        with Image.open(io.BytesIO(data or b"")) as img:  # header only
            return img.size
    except Exception:
        return PLACEHOLDER_SIZE


@router.get("/cameras", include_in_schema=False)
def cameras(page: StaffPage, db: DbDep) -> Response:
    rows = list(db.scalars(select(Camera).options(selectinload(Camera.zones)).order_by(Camera.code)).unique())
    zone_counts = dict(db.execute(select(Zone.camera_id, func.count()).group_by(Zone.camera_id)).all())
    open_counts = dict(db.execute(select(Case.camera_id, func.count())
                                  .where(Case.state.in_([s.value for s in OPEN_STATES]))
                                  .group_by(Case.camera_id)).all())
    health = {c.id: health_public(db, c, page.now()) for c in rows}
    return page.render("cameras.html", active="cameras", cameras=rows, zone_counts=zone_counts,
                       open_counts=open_counts, health=health)


def zones_for_editor(camera: Camera) -> list[dict[str, Any]]:
    return [{"id": z.code, "kind": z.kind, "merchant": z.merchant.code if z.merchant else "",
             "polygon": [[float(x), float(y)] for x, y in z.polygon], "forbid": list(z.forbid),
             "dwell_s": z.dwell_s, "clear_s": z.clear_s, "permits": list(z.permits or []),
             "known_objects": list(z.known_objects or [])}
            for z in sorted(camera.zones, key=lambda z: z.code)]


#: Messages the editor's script writes itself (the permit list); the rest of the page is rendered here.
_SCRIPT_LABELS = ("zones.permit_edit", "zones.permit_delete", "zones.permit_all_day", "zones.permit_every_day",
                  "zones.permit_none", *(f"weekday.{d}" for d in WEEKDAYS))


def _editor(page: Page, db: DbDep, camera: Camera, zones: list[dict[str, Any]], flash: str | None = None,
            flash_kind: str = "ok", status_code: int = 200, timezone: str | None = None) -> Response:
    frame = latest_frame(db, camera.id)
    picture = latest_picture(db, camera.id)  # the edge's clean current frame, else a case's evidence frame
    width, height = (picture.width, picture.height) if picture is not None else _image_size(page, frame)
    merchants = list(db.scalars(select(Merchant).order_by(Merchant.code).limit(1000)))
    assert page.user is not None
    return page.render(
        "zones.html", status_code=status_code, active="cameras", camera=camera, zones=zones,
        frame=picture or frame, picture=picture,
        width=width, height=height, merchants=merchants, kinds=[k.value for k in ZoneKind],
        categories=[c.value for c in ALL_CATEGORIES], can_edit=may_edit_zones(page.user), weekdays=WEEKDAYS,
        timezone=(camera.timezone or "UTC") if timezone is None else timezone,
        zones_json=json.dumps(zones, ensure_ascii=False).replace("<", "\\u003c"), flash=flash, flash_kind=flash_kind,
        proposals=open_proposals(db, camera),
        labels_json=json.dumps({"zones.points": page.t("zones.points", count="{count}"),
                                **{key: page.t(key) for key in _SCRIPT_LABELS},
                                **{f"category.{c.value}": page.t.category(c.value) for c in ALL_CATEGORIES}},
                               ensure_ascii=False).replace("<", "\\u003c"))


@router.get("/cameras/{camera_id}/zones", include_in_schema=False)
def zone_editor(camera_id: PathId, page: StaffPage, db: DbDep) -> Response:
    camera = _camera(db, camera_id)
    saved = page.request.query_params.get("saved")
    return _editor(page, db, camera, zones_for_editor(camera),
                   flash=page.t("zones.saved", count=saved) if saved and saved.isdigit() else None)


def _editor_payload(camera: Camera, raw: str, timezone: str) -> dict[str, Any]:
    """The editor's JSON -> a zones-file mapping (validated by `parse_zones` afterwards)."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError:
        raise ZonesFileError("the editor sent malformed data: reload the page") from None
    if not isinstance(items, list):
        raise ZonesFileError("the editor sent malformed data: reload the page")
    zones = []
    for item in items:
        if not isinstance(item, dict):
            raise ZonesFileError("the editor sent malformed data: reload the page")
        zone: dict[str, Any] = {k: item.get(k) for k in ("id", "kind", "polygon", "forbid")}
        if item.get("merchant"):
            zone["merchant"] = item["merchant"]
        for key in ("dwell_s", "clear_s"):
            value = item.get(key)
            if value not in (None, ""):
                zone[key] = value
        for key in ("permits", "known_objects"):  # schedules (edited here), remembered objects (kept)
            if item.get(key):
                zone[key] = item[key]
        zones.append(zone)
    return {"camera": camera.code, "timezone": timezone.strip() or "UTC", "zones": zones}


def _zone_edit(page: StaffPage, db: DbDep, camera_id: int, csrf_token: str) -> Camera | Response:
    """The camera of a zone-editing POST, or the answer that refuses it (bad CSRF; a role that may not edit zones:
    the same rule as PUT /api/v1/cameras/{code}/zones)."""
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    camera = _camera(db, camera_id)
    assert page.user is not None
    if not may_edit_zones(page.user):
        return _editor(page, db, camera, zones_for_editor(camera), flash=page.t("error.forbidden"),
                       flash_kind="error", status_code=403)
    return camera


@router.post("/cameras/{camera_id}/zones", include_in_schema=False)
def save_zones(camera_id: PathId, page: StaffPage, db: DbDep, zones_json: Annotated[str, Form(max_length=500_000)],
               csrf_token: Annotated[str, Form()] = "",
               timezone: Annotated[str | None, Form(max_length=64)] = None) -> Response:
    camera = _zone_edit(page, db, camera_id, csrf_token)
    if isinstance(camera, Response):
        return camera
    try:
        # No time zone field (an older page): the camera keeps its own.
        data = _editor_payload(camera, zones_json, (camera.timezone or "UTC") if timezone is None else timezone)
        unknown = sorted({z["merchant"] for z in data["zones"] if z.get("merchant")}
                         - set(db.scalars(select(Merchant.code))))
        if unknown:
            raise ZonesFileError(f"unknown merchant(s): {', '.join(unknown)}")
        zones_file = parse_zones(data, f"zones for {camera.code}")
    except ZonesFileError as exc:
        try:
            kept = json.loads(zones_json)
        except json.JSONDecodeError:
            kept = zones_for_editor(camera)
        return _editor(page, db, camera, kept if isinstance(kept, list) else [], status_code=422,
                       flash=page.t("zones.invalid", detail=str(exc)), flash_kind="error", timezone=timezone)
    apply_zones(db, zones_file, page.now())
    db.commit()
    return page.redirect(f"/cameras/{camera.id}/zones?saved={len(zones_file.zones)}")


@router.post("/cameras/{camera_id}/zones/{zone_code}/known/{known_id}/delete", include_in_schema=False)
def delete_known_object(camera_id: PathId, zone_code: Annotated[str, Path(max_length=64)],
                        known_id: Annotated[str, Path(max_length=64)], page: StaffPage, db: DbDep,
                        csrf_token: Annotated[str, Form()] = "") -> Response:
    """Forget a remembered object (issue 16): the zone's detections there count again from the next sync."""
    camera = _zone_edit(page, db, camera_id, csrf_token)
    if isinstance(camera, Response):
        return camera
    zone = next((z for z in camera.zones if z.code == zone_code), None)
    if zone is None:
        raise HTTPException(404, f"zone {zone_code!r} not found on camera {camera.code}")
    zone.known_objects = [k for k in zone.known_objects or [] if k.get("id") != known_id] or None
    db.commit()
    return page.redirect(f"/cameras/{camera.id}/zones")


@router.post("/cameras/{camera_id}/proposals/{proposal_id}/accept", include_in_schema=False)
def accept_proposed_object(camera_id: PathId, proposal_id: Annotated[str, Path(max_length=64)], page: StaffPage,
                           db: DbDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Commissioning (issue 16): accept a static object the edge proposed as a known object of its zone."""
    camera = _zone_edit(page, db, camera_id, csrf_token)
    if isinstance(camera, Response):
        return camera
    accept_proposal(db, camera, proposal_id, f"user:{page.user.username}", page.now())
    db.commit()
    return page.redirect(f"/cameras/{camera.id}/zones")


@router.get("/cameras/{camera_id}/zones.yaml", include_in_schema=False)
def zones_yaml(camera_id: PathId, page: StaffPage, db: DbDep) -> Response:
    camera = _camera(db, camera_id)
    zones_file = zones_document(camera)  # the same document the edge fetches (api/routes/camera_health.py)
    # exclude_defaults: a permit's empty hours/days/dates mean "all day / every day / any date", as in a hand file
    zones = [z.model_dump(mode="json", exclude_defaults=True) for z in zones_file.zones]
    body: dict[str, Any] = {"camera": zones_file.camera, "zones": zones}
    if zones_file.timezone != "UTC":  # the schedules' local time (detector/zones/schedule.py)
        body = {"camera": zones_file.camera, "timezone": zones_file.timezone, "zones": zones}
    # Only the serialiser writes the file: the camera's free-text name (a newline in it once added keys) is
    # no longer formatted into a header comment.
    text = "# zones exported by Frontage\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True,
                                                             default_flow_style=None)
    response = Response(text, media_type="application/yaml", headers={
        "Content-Disposition": f'attachment; filename="{camera.code}.yaml"'})
    return apply_security_headers(response)


@router.get("/cameras/{camera_id}/snapshot", include_in_schema=False)
def snapshot(camera_id: PathId, page: StaffPage, db: DbDep) -> Response:
    camera = _camera(db, camera_id)
    if (picture := latest_picture(db, camera.id)) is not None:  # the edge's clean current frame comes first
        return picture_response(picture)
    frame = latest_frame(db, camera.id)
    if frame is not None:
        response = evidence_response(page.request.app.state.settings, frame)
        audit_original(db, frame, f"user:{page.user.username}", page.now(), via="snapshot")  # PRIVACY.md
        return response
    w, h = PLACEHOLDER_SIZE
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
           f'<rect width="{w}" height="{h}" fill="#d9dee4"/>'
           f'<text x="{w // 2}" y="{h // 2}" font-size="48" text-anchor="middle" fill="#6b7480" '
           f'font-family="sans-serif">{camera.code}</text></svg>')
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store",
                                                              "Content-Security-Policy": "default-src 'none'"})
