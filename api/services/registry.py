"""The merchant registry one merchant at a time: search, edit, deactivate (the console page and the API).

The same checks as the file import (`api.services.registry_import`) apply to an edit, so a record that
could not be imported cannot be typed in either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.db.models import Camera, Merchant, Road, Zone
from api.services.registry_import import LICENCE_RE, check_url, normalise_phone


class RegistryZone(BaseModel):
    camera_id: int = Field(title="Camera database id", description="For the camera picture link")
    camera: str = Field(title="Camera", description="Camera code")
    zone: str = Field(title="Zone", description="Zone code")
    polygon: list[list[float]] = Field(title="Polygon", description="Normalised [x, y] points on the picture")


class RegistryMerchant(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str = Field(title="Code", description="Merchant code (zones files use it)")
    name: str = Field(title="Shop name", description="Name on the shop front")
    licence_number: str | None = Field(default=None, title="Licence number", description="Business licence number")
    phone: str | None = Field(default=None, title="Phone", description="Contact phone, E.164")
    notification_address: str | None = Field(default=None, title="Notification address",
                                             description="URL the merchant's notices are POSTed to")
    address: str | None = Field(default=None, title="Address", description="Street address")
    road: str | None = Field(default=None, title="Road", description="Road the shop is on")
    active: bool = Field(title="Active", description="False: deactivated (closed, moved away)")
    offence_count: int = Field(title="Offences", description="Confirmed cases, all time")
    zones: list[RegistryZone] = Field(default_factory=list, title="Zones",
                                      description="The merchant's responsibility zones")
    updated_at: datetime | None = Field(default=None, title="Updated", description="Last change in the registry")


class RegistryMerchantUpdate(BaseModel):
    """Fields to change; a field left out stays as it is (send null to clear an optional one)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str | None, Field(min_length=1, max_length=200, title="Shop name",
                                      description="Name on the shop front")] = None
    licence_number: Annotated[str | None, Field(max_length=100, title="Licence number",
                                                description="Letters, digits and -")] = None
    phone: Annotated[str | None, Field(max_length=40, title="Phone", description="Any common spelling")] = None
    notification_address: Annotated[str | None, Field(max_length=500, title="Notification address",
                                                      description="http(s) URL")] = None
    address: Annotated[str | None, Field(max_length=300, title="Address", description="Street address")] = None
    road: Annotated[str | None, Field(max_length=200, title="Road", description="Road name (created if new)")] = None
    active: Annotated[bool | None, Field(title="Active", description="False deactivates the merchant")] = None


def describe(session: Session, merchant: Merchant, with_zones: bool = True) -> RegistryMerchant:
    zones = []
    if with_zones:
        for zone, camera in session.execute(select(Zone, Camera).join(Camera, Camera.id == Zone.camera_id)
                                            .where(Zone.merchant_id == merchant.id).order_by(Camera.code, Zone.code)):
            zones.append(RegistryZone(camera_id=camera.id, camera=camera.code, zone=zone.code,
                                      polygon=[[float(x), float(y)] for x, y in zone.polygon]))
    road = session.get(Road, merchant.road_id) if merchant.road_id else None
    return RegistryMerchant(code=merchant.code, name=merchant.name, licence_number=merchant.licence_number,
                            phone=merchant.phone, notification_address=merchant.webhook_url,
                            address=merchant.address, road=road.name if road else None, active=merchant.active,
                            offence_count=merchant.offence_count, zones=zones, updated_at=merchant.updated_at)


def search(session: Session, q: str | None = None, road: str | None = None, active: bool | None = None,
           limit: int = 50, offset: int = 0) -> tuple[int, list[Merchant]]:
    """Merchants whose code, name, licence, phone or address contains ``q``; total count and one page."""
    query = select(Merchant)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Merchant.code.ilike(like), Merchant.name.ilike(like),
                                Merchant.licence_number.ilike(like), Merchant.phone.ilike(like),
                                Merchant.address.ilike(like)))
    if road:
        query = query.join(Road, Road.id == Merchant.road_id).where(Road.name == road)
    if active is not None:
        query = query.where(Merchant.active.is_(active))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Merchant.code).limit(limit).offset(offset)))
    return total, rows


class UpdateError(ValueError):
    """A field of an edit that the registry does not accept (answered 422 with the field named)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def update(session: Session, merchant: Merchant, change: RegistryMerchantUpdate, now: datetime,
           phone_region: str = "CN") -> bool:
    """Apply an edit; returns whether anything changed."""
    values = change.model_dump(exclude_unset=True)
    if "name" in values and not values["name"]:
        raise UpdateError("name", "a merchant needs a name")
    wanted: dict[str, object] = {}
    for key, value in values.items():
        value = value.strip() if isinstance(value, str) else value
        if value == "":
            value = None
        try:
            if key == "phone" and value is not None:
                value = normalise_phone(str(value), phone_region)
            elif key == "notification_address" and value is not None:
                value = check_url(str(value))
            elif key == "licence_number" and value is not None and not LICENCE_RE.match(str(value)):
                raise ValueError("letters, digits and - only")
        except ValueError as exc:
            raise UpdateError(key, str(exc)) from None
        if key == "road":
            road = None
            if value is not None:
                road = session.scalar(select(Road).where(Road.name == value))
                if road is None:
                    road = Road(name=str(value))
                    session.add(road)
                    session.flush()
            wanted["road_id"] = road.id if road else None
        elif key == "notification_address":
            wanted["webhook_url"] = value
        elif key == "active":
            if value is None:
                raise UpdateError("active", "must be true or false")
            wanted["active"] = value
        else:
            wanted[key] = value
    changed = False
    for attr, value in wanted.items():
        if getattr(merchant, attr) != value:
            setattr(merchant, attr, value)
            changed = True
    if changed:
        merchant.updated_at = now
    return changed
