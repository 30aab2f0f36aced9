"""Edge devices: admin creates them (the API key is shown once), assigns cameras, revokes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from api.db.models import Camera, EdgeDevice
from api.deps import AdminUser, ClockDep, SessionDep, get_or_404
from api.schemas.entities import DeviceCreate, DeviceCreated, DevicePublic
from api.seed import create_device

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


def device_public(d: EdgeDevice) -> DevicePublic:
    return DevicePublic(id=d.id, name=d.name, key_prefix=d.key_prefix, active=d.active,
                        cameras=sorted(c.code for c in d.cameras), last_seen_at=d.last_seen_at)


@router.get("", response_model=list[DevicePublic])
def list_devices(session: SessionDep, user: AdminUser) -> list[DevicePublic]:
    return [device_public(d) for d in session.scalars(select(EdgeDevice).order_by(EdgeDevice.name))]


@router.post("", response_model=DeviceCreated, status_code=201)
def add_device(body: DeviceCreate, session: SessionDep, user: AdminUser, clock: ClockDep) -> DeviceCreated:
    if session.scalar(select(EdgeDevice.id).where(EdgeDevice.name == body.name)) is not None:
        raise HTTPException(409, f"device '{body.name}' exists")
    try:
        device, key = create_device(session, body.name, body.cameras, clock.now())
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return DeviceCreated(**device_public(device).model_dump(), api_key=key)


def _device(session: SessionDep, name: str) -> EdgeDevice:
    return get_or_404(session, EdgeDevice.name, name, "device")


@router.put("/{name}/cameras", response_model=DevicePublic)
def set_device_cameras(name: str, cameras: list[str], session: SessionDep, user: AdminUser) -> DevicePublic:
    device = _device(session, name)
    rows = list(session.scalars(select(Camera).where(Camera.code.in_(cameras))))
    missing = set(cameras) - {c.code for c in rows}
    if missing:
        raise HTTPException(422, f"unknown camera(s): {', '.join(sorted(missing))}")
    device.cameras = rows
    return device_public(device)


@router.post("/{name}/revoke", response_model=DevicePublic)
def revoke_device(name: str, session: SessionDep, user: AdminUser) -> DevicePublic:
    device = _device(session, name)
    device.active = False
    return device_public(device)
