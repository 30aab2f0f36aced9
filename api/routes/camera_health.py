"""Camera health and pictures: the edge reports (device key), staff read them and ask for a fresh picture.

The picture is a clean frame (no boxes, no zones) stored like evidence: checked by content, size and pixel
count before it is kept. Staff-only, as evidence originals are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response

from api.db.models import Camera, CameraPicture
from api.deps import ClockDep, CurrentDevice, SessionDep, SettingsDep, StaffUser, get_or_404
from api.evidence import EvidenceError
from api.schemas.camera_health import (
    CameraHealthAnswer,
    CameraHealthPublic,
    CameraHealthReport,
    CameraPicturePublic,
)
from api.services import cameras as service

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


def picture_response(picture: CameraPicture) -> Response:
    return Response(picture.data, media_type=picture.content_type, headers={
        "Content-Disposition": f'inline; filename="{picture.camera_id}-{picture.id}.jpg"',
        "X-Content-Type-Options": "nosniff", "ETag": f'"{picture.sha256}"', "Cache-Control": "private, no-cache",
        "X-Taken-At": picture.taken_at.isoformat()})
