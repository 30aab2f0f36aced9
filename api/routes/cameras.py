"""Roads, cameras and their zones (zones are uploaded as the edge's zones file, YAML or JSON)."""

from __future__ import annotations

import yaml
from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api.db.models import Camera, Road
from api.deps import AdminUser, ClockDep, CurrentDevice, SessionDep, StaffUser, ZoneEditorUser, get_or_404
from api.schemas.camera_health import CameraHealthPublic
from api.schemas.entities import CameraCreate, CameraPublic, RoadCreate, RoadPublic, ZonePublic
from api.services.cameras import health_public
from api.services.registration import apply_zones, get_or_create_road, upsert_camera
from detector.zones.schema import ZonesFileError, parse_zones

router = APIRouter(prefix="/api/v1", tags=["cameras"])


def camera_public(camera: Camera, health: CameraHealthPublic | None = None) -> CameraPublic:
    return CameraPublic(
        id=camera.id, code=camera.code, name=camera.name, road=camera.road.name if camera.road else None,
        location=camera.location, active=camera.active, health=health,
        zones=[ZonePublic(id=z.id, code=z.code, kind=z.kind, polygon=z.polygon, forbid=z.forbid,
                          merchant=z.merchant.code if z.merchant else None, dwell_s=z.dwell_s, clear_s=z.clear_s)
               for z in sorted(camera.zones, key=lambda z: z.code)])


@router.get("/roads", response_model=list[RoadPublic])
def list_roads(session: SessionDep, user: StaffUser) -> list[Road]:
    return list(session.scalars(select(Road).order_by(Road.name)))


@router.post("/roads", response_model=RoadPublic, status_code=201)
def create_road(body: RoadCreate, session: SessionDep, user: AdminUser) -> Road:
    road = get_or_create_road(session, body.name)
    assert road is not None
    road.district = body.district
    return road


@router.get("/cameras", response_model=list[CameraPublic])
def list_cameras(session: SessionDep, user: StaffUser, clock: ClockDep) -> list[CameraPublic]:
    return [camera_public(c, health_public(session, c, clock.now()))
            for c in session.scalars(select(Camera).order_by(Camera.code)).unique()]


@router.post("/cameras", response_model=CameraPublic, status_code=201)
def create_camera(body: CameraCreate, session: SessionDep, user: AdminUser, clock: ClockDep) -> CameraPublic:
    camera = upsert_camera(session, body.code, clock.now(), body.name, body.road, body.location)
    session.refresh(camera)
    return camera_public(camera)


def _camera(session: SessionDep, code: str) -> Camera:
    return get_or_404(session, Camera.code, code, "camera")


@router.get("/cameras/{code}", response_model=CameraPublic)
def get_camera(code: str, session: SessionDep, user: StaffUser, clock: ClockDep) -> CameraPublic:
    camera = _camera(session, code)
    return camera_public(camera, health_public(session, camera, clock.now()))


@router.put("/cameras/{code}/zones", response_model=CameraPublic,
            summary="Replace a camera's zones with a zones file (YAML or JSON body); admins and supervisors")
async def put_zones(code: str, request: Request, session: SessionDep, user: ZoneEditorUser,
                    clock: ClockDep) -> CameraPublic:
    raw = await request.body()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise HTTPException(422, "the body is not valid YAML/JSON") from None
    if isinstance(data, dict):
        data.setdefault("camera", code)
    try:
        zones = parse_zones(data, f"zones for {code}")
    except ZonesFileError as exc:
        raise HTTPException(422, str(exc)) from None
    if zones.camera != code:
        raise HTTPException(422, f"the zones file is for camera '{zones.camera}', not '{code}'")
    camera = apply_zones(session, zones, clock.now())
    session.flush()
    session.refresh(camera)
    return camera_public(camera)


@router.get("/device/cameras", response_model=list[CameraPublic], tags=["devices"],
            summary="The cameras (and zones) the calling edge device reports for")
def device_cameras(device: CurrentDevice) -> list[CameraPublic]:
    return [camera_public(c) for c in device.cameras]
