"""Edge devices: admin creates them (the API key is shown once), assigns cameras, revokes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi import Path as PathParam
from pydantic import Field
from sqlalchemy import select

from api.db.models import EdgeDevice
from api.deps import AdminUser, ClockDep, SessionDep, get_or_404
from api.schemas.entities import DeviceCreate, DeviceCreated, DevicePublic
from api.schemas.types import CleanStr
from api.services.registration import register_device
from api.services.registration import set_device_cameras as assign_cameras

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

#: A device name in a URL path (control characters refused before any lookup).
DeviceName = Annotated[CleanStr, PathParam(max_length=100, description="Device name")]
CameraCodes = Annotated[list[Annotated[CleanStr, Field(max_length=100)]],
                        Body(max_length=10_000, description="Camera codes this device may report for")]


def device_public(d: EdgeDevice) -> DevicePublic:
    return DevicePublic(id=d.id, name=d.name, key_prefix=d.key_prefix, active=d.active,
                        cameras=sorted(c.code for c in d.cameras), last_seen_at=d.last_seen_at)


@router.get("", response_model=list[DevicePublic])
def list_devices(session: SessionDep, user: AdminUser) -> list[DevicePublic]:
    return [device_public(d) for d in session.scalars(select(EdgeDevice).order_by(EdgeDevice.name))]


@router.post("", response_model=DeviceCreated, status_code=201)
def add_device(body: DeviceCreate, session: SessionDep, user: AdminUser, clock: ClockDep) -> DeviceCreated:
    device, key = register_device(session, body.name, body.cameras, clock.now())
    return DeviceCreated(**device_public(device).model_dump(), api_key=key)


def _device(session: SessionDep, name: str) -> EdgeDevice:
    return get_or_404(session, EdgeDevice.name, name, "device")


@router.put("/{name}/cameras", response_model=DevicePublic)
def set_device_cameras(name: DeviceName, cameras: CameraCodes, session: SessionDep, user: AdminUser) -> DevicePublic:
    return device_public(assign_cameras(session, _device(session, name), cameras))


@router.post("/{name}/revoke", response_model=DevicePublic)
def revoke_device(name: DeviceName, session: SessionDep, user: AdminUser) -> DevicePublic:
    device = _device(session, name)
    device.active = False
    return device_public(device)
