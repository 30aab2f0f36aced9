"""Registration: roads, cameras and their zones (from zones files), merchants, edge devices and staff
accounts. The routes, the bootstrap command, the demo and the tests all register through here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Camera, Case, EdgeDevice, Merchant, Road, User, Zone
from api.schemas.entities import MerchantCreate
from api.security import EDGE_PREFIX, Passwords, new_secret, sha256_hex
from api.services.errors import Conflict, Invalid
from detector.zones.schema import ZonesFile


def get_or_create_road(session: Session, name: str | None) -> Road | None:
    if not name:
        return None
    road = session.scalar(select(Road).where(Road.name == name))
    if road is None:
        road = Road(name=name)
        session.add(road)
        session.flush()
    return road


def get_or_create_merchant(session: Session, code: str, now: datetime, name: str | None = None,
                           **fields: str | None) -> Merchant:
    merchant = session.scalar(select(Merchant).where(Merchant.code == code))
    if merchant is None:
        merchant = Merchant(code=code, name=name or code, offence_count=0, created_at=now, **fields)
        session.add(merchant)
        session.flush()
    return merchant


def upsert_camera(session: Session, code: str, now: datetime, name: str | None = None, road: str | None = None,
                  location: str | None = None) -> Camera:
    camera = session.scalar(select(Camera).where(Camera.code == code))
    road_row = get_or_create_road(session, road)
    if camera is None:
        camera = Camera(code=code, name=name or code, road_id=road_row.id if road_row else None, location=location,
                        active=True, created_at=now)
        session.add(camera)
        session.flush()
    else:
        camera.name = name or camera.name
        camera.road_id = road_row.id if road_row else camera.road_id
        camera.location = location or camera.location
    return camera


def apply_zones(session: Session, zones_file: ZonesFile, now: datetime, camera_name: str | None = None,
                road: str | None = None, location: str | None = None) -> Camera:
    """Create/update the camera and its zones; zones no longer in the file are removed unless cases use them."""
    camera = upsert_camera(session, zones_file.camera, now, camera_name, road, location)
    existing = {z.code: z for z in session.scalars(select(Zone).where(Zone.camera_id == camera.id))}
    for z in zones_file.zones:
        merchant = get_or_create_merchant(session, z.merchant, now) if z.merchant else None
        row = existing.pop(z.id, None) or Zone(camera_id=camera.id, code=z.id)
        row.kind = str(z.kind)
        row.polygon = [list(p) for p in z.polygon]
        row.forbid = [str(c) for c in z.forbid]
        row.merchant_id = merchant.id if merchant else None
        row.dwell_s = zones_file.dwell_s(z)
        row.clear_s = zones_file.clear_s(z)
        row.permits = [p.model_dump(mode="json", exclude_defaults=True) for p in z.permits] or None  # schedules
        row.known_objects = [k.model_dump(mode="json", exclude_none=True) for k in z.known_objects] or None
        session.add(row)
    camera.timezone = zones_file.timezone
    for stale in existing.values():
        if session.scalar(select(Case.id).where(Case.zone_id == stale.id).limit(1)) is None:
            session.delete(stale)
    session.flush()
    return camera


def create_device(session: Session, name: str, camera_codes: list[str], now: datetime) -> tuple[EdgeDevice, str]:
    """A device and its API key (returned once; only the sha256 is stored)."""
    key = new_secret(EDGE_PREFIX)
    cameras = list(session.scalars(select(Camera).where(Camera.code.in_(camera_codes)))) if camera_codes else []
    missing = set(camera_codes) - {c.code for c in cameras}
    if missing:
        raise ValueError(f"unknown camera(s): {', '.join(sorted(missing))}")
    device = EdgeDevice(name=name, key_prefix=key[:10], key_hash=sha256_hex(key), active=True, created_at=now,
                        cameras=cameras)
    session.add(device)
    session.flush()
    return device, key


def create_user(session: Session, passwords: Passwords, username: str, password: str, role: str, now: datetime,
                full_name: str | None = None) -> User:
    user = User(username=username, password_hash=passwords.hash(password), role=role, full_name=full_name,
                active=True, created_at=now)
    session.add(user)
    session.flush()
    return user


def register_merchant(session: Session, body: MerchantCreate, now: datetime) -> Merchant:
    """A new merchant from the staff API (409 if the code is taken)."""
    if session.scalar(select(Merchant.id).where(Merchant.code == body.code)) is not None:
        raise Conflict(f"merchant '{body.code}' exists")
    merchant = Merchant(**body.model_dump(), offence_count=0, created_at=now)
    session.add(merchant)
    session.flush()
    return merchant


def register_device(session: Session, name: str, camera_codes: list[str], now: datetime) -> tuple[EdgeDevice, str]:
    """A new edge device from the admin API: 409 if the name is taken, 422 naming unknown cameras."""
    if session.scalar(select(EdgeDevice.id).where(EdgeDevice.name == name)) is not None:
        raise Conflict(f"device '{name}' exists")
    try:
        return create_device(session, name, camera_codes, now)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def set_device_cameras(session: Session, device: EdgeDevice, camera_codes: list[str]) -> EdgeDevice:
    rows = list(session.scalars(select(Camera).where(Camera.code.in_(camera_codes))))
    missing = set(camera_codes) - {c.code for c in rows}
    if missing:
        raise Invalid(f"unknown camera(s): {', '.join(sorted(missing))}")
    device.cameras = rows
    return device


def register_user(session: Session, passwords: Passwords, username: str, password: str, role: str, now: datetime,
                  full_name: str | None = None) -> User:
    """A new staff account from the admin API (409 if the username is taken)."""
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user '{username}' exists")
    return create_user(session, passwords, username, password, role, now, full_name)
