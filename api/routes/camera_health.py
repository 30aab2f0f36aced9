"""Camera health and pictures: the edge reports (device key), staff read them and ask for a fresh picture.

The picture is a clean frame (no boxes, no zones) stored like evidence: checked by content, size and pixel
count before it is kept. Staff-only, as evidence originals are.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

import yaml
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.db.models import Camera, CameraPicture, Case
from api.deps import (
    ClockDep,
    CurrentDevice,
    OperatorUser,
    PathId,
    SessionDep,
    SettingsDep,
    StaffUser,
    get_or_404,
)
from api.evidence import EvidenceError
from api.schemas.camera_health import (
    CameraHealthAnswer,
    CameraHealthPublic,
    CameraHealthReport,
    CameraPicturePublic,
)
from api.schemas.types import CleanStr
from api.services import cameras as service
from api.services.known_objects import remember_objects, zones_document

router = APIRouter(prefix="/api/v1", tags=["cameras"])


@router.put("/device/cameras/{code}/health", response_model=CameraHealthAnswer, tags=["devices"],
            summary="The calling edge reports one of its cameras' health; the answer may ask for a picture")
def report_health(code: str, body: CameraHealthReport, session: SessionDep, device: CurrentDevice,
                  settings: SettingsDep, clock: ClockDep) -> CameraHealthAnswer:
    camera = service.camera_for_device(session, device, code)
    return CameraHealthAnswer(picture_requested=service.record_report(session, settings, clock.now(), device,
                                                                      camera, body))


@router.put("/device/cameras/{code}/picture", response_model=CameraPicturePublic, status_code=201, tags=["devices"],
            summary="The calling edge sends a clean current frame of one of its cameras (JPEG or PNG body)")
async def put_picture(code: str, request: Request, session: SessionDep, device: CurrentDevice, settings: SettingsDep,
                      clock: ClockDep, x_taken_at: Annotated[datetime | None, Header()] = None) -> CameraPicture:
    camera = service.camera_for_device(session, device, code)  # the key and the camera before a byte is read
    data = await request.body()
    if x_taken_at is not None and x_taken_at.tzinfo is None:
        raise HTTPException(422, "X-Taken-At needs a time zone (e.g. 2026-05-01T10:00:00Z)")
    try:
        return service.store_picture(session, settings, clock.now(), device, camera, data, x_taken_at)
    except EvidenceError as exc:
        raise HTTPException(exc.status, exc.message) from None


def _camera(session: SessionDep, code: str) -> Camera:
    return get_or_404(session, Camera.code, code, "camera")


@router.get("/cameras/{code}/health", response_model=CameraHealthPublic)
def get_health(code: str, session: SessionDep, user: StaffUser, clock: ClockDep) -> CameraHealthPublic:
    return service.health_public(session, _camera(session, code), clock.now())


@router.get("/cameras/{code}/picture", summary="The camera's latest clean picture (image bytes)",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: {"description": "none yet"}})
def get_picture(code: str, session: SessionDep, user: StaffUser) -> Response:
    picture = service.latest_picture(session, _camera(session, code).id)
    if picture is None:
        raise HTTPException(404, f"camera '{code}' has sent no picture yet")
    return picture_response(picture)


@router.post("/cameras/{code}/picture-request", status_code=202, response_model=CameraHealthPublic,
             summary="Ask the camera's edge for a fresh picture (sent with its next health report)")
def ask_picture(code: str, session: SessionDep, user: StaffUser, clock: ClockDep) -> CameraHealthPublic:
    camera = _camera(session, code)
    service.request_picture(session, camera, clock.now())
    return service.health_public(session, camera, clock.now())


class RememberObject(BaseModel):
    note: Annotated[CleanStr | None, Field(title="Note", description="What the object is (phone booth, poster)",
                                           max_length=200)] = None


@router.post("/cases/{case_id}/remember-object", tags=["cases"],
             summary="Not a violation here: remember a rejected case's objects as known objects of its zone")
def remember_object(case_id: PathId, session: SessionDep, user: OperatorUser, settings: SettingsDep,
                    clock: ClockDep, body: RememberObject | None = None) -> dict:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"case {case_id} not found")
    known = remember_objects(session, settings, case, f"user:{user.username}", clock.now(),
                             body.note if body else None)
    return {"camera": case.camera.code, "zone": case.zone.code, "known_objects": known}


@router.get("/device/cameras/{code}/zones.yaml", tags=["devices"],
            summary="The zones file of one of the calling edge's cameras (schedules and known objects included)",
            responses={200: {"content": {"application/yaml": {}}}, 304: {"description": "unchanged (ETag)"}})
def device_zones(code: str, request: Request, session: SessionDep, device: CurrentDevice) -> Response:
    camera = service.camera_for_device(session, device, code)
    zones = zones_document(camera)
    text = yaml.safe_dump(zones.model_dump(mode="json", exclude_defaults=True) | {"camera": zones.camera},
                          sort_keys=False, allow_unicode=True)
    etag = f'"{hashlib.sha256(text.encode()).hexdigest()}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(text, media_type="application/yaml", headers={"ETag": etag, "Cache-Control": "no-cache"})


def picture_response(picture: CameraPicture) -> Response:
    return Response(picture.data, media_type=picture.content_type, headers={
        "Content-Disposition": f'inline; filename="{picture.camera_id}-{picture.id}.jpg"',
        "X-Content-Type-Options": "nosniff", "ETag": f'"{picture.sha256}"', "Cache-Control": "private, no-cache",
        "X-Taken-At": picture.taken_at.isoformat()})
