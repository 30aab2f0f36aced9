"""Schemas for the reference data: roads, cameras, zones, merchants, devices, users, model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.db.models import Role
from api.schemas.camera_health import CameraHealthPublic
from api.schemas.types import CleanStr

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="External id (letters, digits, _.-)")]


class ORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RoadBase(BaseModel):
    name: Annotated[CleanStr, Field(min_length=1, max_length=200, title="Name", description="Road name")]
    district: Annotated[CleanStr | None, Field(max_length=200, title="District",
                                               description="District the road belongs to")] = None


class RoadCreate(RoadBase):
    pass


class RoadPublic(RoadBase, ORM):
    id: int


class CameraBase(BaseModel):
    code: Annotated[Code, Field(title="Camera id", description="Id the edge box uses (e.g. cam-01)")]
    name: Annotated[CleanStr, Field(min_length=1, max_length=200, title="Name", description="Human name")]
    road: Annotated[CleanStr | None, Field(max_length=200, title="Road",
                                           description="Road name (created if new)")] = None
    location: Annotated[CleanStr | None, Field(max_length=300, title="Location",
                                               description="Address or 'lat,lon'")] = None


class CameraCreate(CameraBase):
    pass


class ZonePublic(ORM):
    id: int
    code: str
    kind: str
    polygon: list[Any]
    forbid: list[str]
    merchant: str | None = Field(default=None, description="Merchant code")
    dwell_s: float | None = None
    clear_s: float | None = None


class CameraPublic(ORM):
    id: int
    code: str
    name: str
    road: str | None = None
    location: str | None = None
    active: bool
    zones: list[ZonePublic] = []
    health: CameraHealthPublic | None = None  # staff views: the edge's latest report, the alert, the picture


class MerchantBase(BaseModel):
    code: Annotated[Code, Field(title="Merchant id", description="Id used by zones files (e.g. m-0012)")]
    name: Annotated[CleanStr, Field(min_length=1, max_length=200, title="Name", description="Shop name")]
    address: Annotated[CleanStr | None, Field(max_length=300, title="Address", description="Street address")] = None
    contact: Annotated[CleanStr | None, Field(max_length=300, title="Contact", description="Phone or e-mail")] = None
    webhook_url: Annotated[CleanStr | None, Field(max_length=500, title="Webhook URL",
                                                  description="Where notices are POSTed")] = None


class MerchantCreate(MerchantBase):
    pass


class MerchantPublic(MerchantBase, ORM):
    id: int
    offence_count: int
    last_offence_at: datetime | None = None


class MerchantLink(BaseModel):
    merchant: str
    token: Annotated[str, Field(description="Shown once; only its hash is stored")]
    link: str
    expires_at: datetime


class DeviceCreate(BaseModel):
    name: Annotated[Code, Field(description="Device name (unique)")]
    cameras: Annotated[list[Annotated[CleanStr, Field(max_length=100)]], Field(
        max_length=10_000, title="Cameras", description="Camera codes this device may report for")] = []


class DevicePublic(ORM):
    id: int
    name: str
    key_prefix: str
    active: bool
    cameras: list[str]
    last_seen_at: datetime | None = None


class DeviceCreated(DevicePublic):
    api_key: Annotated[str, Field(description="Shown once; only its sha256 is stored")]


class UserCreate(BaseModel):
    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{2,100}$", description="Login name")]
    password: Annotated[CleanStr, Field(min_length=8, max_length=200, description="At least 8 characters")]
    role: Annotated[Role, Field(description="operator, supervisor, enforcement_street/_district/_city, admin")]
    full_name: Annotated[CleanStr | None, Field(max_length=200, description="Display name")] = None


class UserPublic(ORM):
    id: int
    username: str
    role: str
    full_name: str | None = None
    active: bool


class LoginRequest(BaseModel):
    username: Annotated[CleanStr, Field(max_length=200, title="Username", description="Login name")]
    password: Annotated[str, Field(max_length=1000, title="Password",
                                   description="Never stored or compared in the database (argon2 verify)")]


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str


class ModelVersionCreate(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    name: Annotated[CleanStr, Field(max_length=100, description="Model name (e.g. frontage-n)")]
    version: Annotated[CleanStr, Field(max_length=100, description="Version label")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the weights file")]
    metrics: Annotated[dict[str, Any], Field(description="Evaluation metrics (mAP50, recall, ...)")] = {}
    current: Annotated[bool, Field(description="Make this the version edge boxes should run")] = False


class ModelVersionPublic(ORM):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())
    id: int
    name: str
    version: str
    sha256: str
    metrics: dict[str, Any]
    current: bool
    file_name: str | None = None
    created_at: datetime
