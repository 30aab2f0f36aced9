"""The case service's tables (SQLAlchemy 2.0 typed declarative).

External ids (``code``) are what edge boxes and zones files use (``cam-01``, ``z-m0012``, ``m-0012``);
integer primary keys stay internal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from api.db.types import UTCDateTime

# BigInteger ids on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ENFORCEMENT_STREET = "enforcement_street"
    ENFORCEMENT_DISTRICT = "enforcement_district"
    ENFORCEMENT_CITY = "enforcement_city"
    ADMIN = "admin"


class CaseState(StrEnum):
    DETECTED = "detected"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    NOTIFIED = "notified"
    MERCHANT_REPORTED_FIXED = "merchant_reported_fixed"
    VERIFIED = "verified"
    CLOSED = "closed"
    ESCALATED = "escalated"
    RECHECK = "recheck"
    REOPENED = "reopened"


#: States in which a case is still being worked (a new episode attaches to such a case).
OPEN_STATES: tuple[CaseState, ...] = (
    CaseState.DETECTED, CaseState.CONFIRMED, CaseState.NOTIFIED, CaseState.MERCHANT_REPORTED_FIXED,
    CaseState.ESCALATED, CaseState.RECHECK, CaseState.REOPENED)


class Road(Base):
    __tablename__ = "roads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    district: Mapped[str | None] = mapped_column(String(200))


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    road_id: Mapped[int | None] = mapped_column(ForeignKey("roads.id"))
    location: Mapped[str | None] = mapped_column(String(300), doc="Street address or 'lat,lon'")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    timezone: Mapped[str | None] = mapped_column(String(64), doc="IANA time zone of the zones' schedules")
    road: Mapped[Road | None] = relationship(lazy="joined")
    zones: Mapped[list[Zone]] = relationship(back_populates="camera", cascade="all, delete-orphan")


class Merchant(Base):
    __tablename__ = "merchants"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    contact: Mapped[str | None] = mapped_column(String(300), doc="Phone or e-mail")
    webhook_url: Mapped[str | None] = mapped_column(String(500), doc="Where this merchant's notices are POSTed")
    offence_count: Mapped[int] = mapped_column(Integer, default=0, doc="Confirmed cases, all time")
    last_offence_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Registry fields (migration 0005, api/services/registry_import.py).
    licence_number: Mapped[str | None] = mapped_column(String(100), doc="Business licence number")
    phone: Mapped[str | None] = mapped_column(String(40), doc="Contact phone, E.164 (+8613800138000)")
    road_id: Mapped[int | None] = mapped_column(ForeignKey("roads.id", name="fk_merchants_road_id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"),
                                         doc="Inactive merchants stay on record but are not assigned new zones")
    updated_at: Mapped[datetime | None]
    road: Mapped[Road | None] = relationship()  # lazy: cases load merchants on the ingest path


class Zone(Base):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("camera_id", "code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    polygon: Mapped[list[Any]]
    forbid: Mapped[list[Any]]
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    dwell_s: Mapped[float | None] = mapped_column(Float)
    clear_s: Mapped[float | None] = mapped_column(Float)
    permits: Mapped[list[Any] | None] = mapped_column(doc="Schedules: the zones file's permits (categories, hours, days, dates)")
    known_objects: Mapped[list[Any] | None] = mapped_column(doc="Objects an operator said are not a violation here")
    camera: Mapped[Camera] = relationship(back_populates="zones")
    merchant: Mapped[Merchant | None] = relationship(lazy="joined")


class EdgeDevice(Base):
    __tablename__ = "edge_devices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), doc="First characters of the key, to recognise it")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="sha256 of the high-entropy API key")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    cameras: Mapped[list[Camera]] = relationship(secondary="device_cameras", lazy="selectin")


class DeviceCamera(Base):
    __tablename__ = "device_cameras"
    device_id: Mapped[int] = mapped_column(ForeignKey("edge_devices.id", ondelete="CASCADE"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(200), doc="argon2id")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every session (browser cookie, API token) carries the epoch it was issued in; signing out or an admin's
    # revoke moves it on, which ends all of the user's sessions at once (server-side, on every replica).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"),
                                               doc="sessions issued in an older epoch are refused")
    created_at: Mapped[datetime]


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The operator queue: filter by state, newest first, keyset on (created_at, id).
        Index("ix_cases_state_created", "state", "created_at", "id"),
        Index("ix_cases_created", "created_at", "id"),
        Index("ix_cases_updated", "updated_at", "id"),
        Index("ix_cases_confidence", "confidence", "id"),
        Index("ix_cases_last_seen", "last_seen_at", "id"),
        Index("ix_cases_category_created", "category", "created_at", "id"),
        Index("ix_cases_camera_created", "camera_id", "created_at", "id"),
        Index("ix_cases_road_created", "road_id", "created_at", "id"),
        Index("ix_cases_merchant_created", "merchant_id", "created_at", "id"),
        Index("ix_cases_assignee_state", "assignee_id", "state"),
        # The scheduler: cases with a deadline, earliest first (partial on PostgreSQL and SQLite alike).
        Index("ix_cases_due", "due_at", postgresql_where=text("due_at IS NOT NULL"),
              sqlite_where=text("due_at IS NOT NULL")),
        # Attach-to-open-case lookup.
        Index("ix_cases_open_lookup", "camera_id", "zone_id", "category", "last_seen_at"),
        Index("ix_cases_left_notified", "left_notified_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    road_id: Mapped[int | None] = mapped_column(ForeignKey("roads.id"), doc="Copied from the camera: fast filters")
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("edge_devices.id"))
    confidence: Mapped[float] = mapped_column(Float)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, doc="0 none, 1 street, 2 district, 3 city")
    max_escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    self_rectified: Mapped[bool] = mapped_column(Boolean, default=False)
    model_name: Mapped[str | None] = mapped_column(String(100))
    model_version: Mapped[str | None] = mapped_column(String(100))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    due_at: Mapped[datetime | None] = mapped_column(doc="Next deadline the scheduler acts on")
    confirmed_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    left_notified_at: Mapped[datetime | None] = mapped_column(doc="When the case first moved on from notified")
    fixed_reported_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None] = mapped_column(doc="First escalation (L1)")
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    camera_cleared_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None]
    merchant_note: Mapped[str | None] = mapped_column(Text)

    camera: Mapped[Camera] = relationship(lazy="joined")
    zone: Mapped[Zone] = relationship(lazy="joined")
    merchant: Mapped[Merchant | None] = relationship(lazy="joined")
    road: Mapped[Road | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic locking


class CaseEvent(Base):
    """Append-only audit trail: every state change and every notable fact about a case."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(150), doc="user:<name>, device:<name>, merchant:<code>, system")
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    escalation_level: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class Episode(Base):
    """One violation episode as its camera reports it; its id is unique on its camera only (an event may
    touch episodes of its own camera, never another camera's of the same id)."""

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("camera_id", "episode_id", name="uq_episodes_camera_episode"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", name="fk_episodes_camera_id"))
    episode_id: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    last_observed_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    max_confidence: Mapped[float] = mapped_column(Float, default=0.0)


class IngestedEvent(Base):
    """Every accepted edge event, keyed by its device and idempotency key (a repeat is a no-op; keys are
    the device's own: another device's key neither collides with nor reveals this one)."""

    __tablename__ = "ingested_events"
    __table_args__ = (UniqueConstraint("device_id", "idempotency_key", name="uq_ingested_events_device_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    episode_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(30))
    seq: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(ForeignKey("edge_devices.id"))
    observed_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class Evidence(Base):
    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20), doc="edge or merchant")
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(120), doc="Sanitised; never used as a path")
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, doc="Bytes when stored in the DB")
    storage_key: Mapped[str | None] = mapped_column(String(200), doc="Relative path when stored in a directory")
    created_at: Mapped[datetime] = mapped_column(index=True)
    purged_at: Mapped[datetime | None]


class RegistryImport(Base):
    """One merchant-registry import: who, which file, what it changed (the registry's own audit trail)."""

    __tablename__ = "registry_imports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(150))
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)


class EvidenceAccess(Base):
    """Every time someone sees an evidence original (unblurred): who, when, through what (PRIVACY.md)."""

    __tablename__ = "evidence_access"
    __table_args__ = (Index("ix_evidence_access_case", "case_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(150), doc="user:<name>")
    via: Mapped[str] = mapped_column(String(20), doc="api, console or snapshot")
    at: Mapped[datetime]


class MerchantToken(Base):
    __tablename__ = "merchant_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    merchant: Mapped[Merchant] = relationship(lazy="joined")


class Notification(Base):
    """Outbox: written in the same transaction as the state change, sent by the scheduler."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(40), doc="merchant_notice, escalation, ...")
    recipient: Mapped[str] = mapped_column(String(200), doc="merchant:<code> or level:<n>")
    channel: Mapped[str] = mapped_column(String(20), doc="webhook or log")
    target: Mapped[str | None] = mapped_column(String(500), doc="Webhook URL")
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending", doc="pending, sent, dead")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class CameraHealth(Base):
    """The latest health report of a camera from its edge box, and the alert it raised (one row per camera)."""

    __tablename__ = "camera_health"
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("edge_devices.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(doc="Service time of the last report")
    report_every_s: Mapped[float] = mapped_column(Float, doc="The edge's report interval: staleness is judged by it")
    online: Mapped[bool] = mapped_column(Boolean, doc="The edge reads frames from the camera")
    last_frame_age_s: Mapped[float | None] = mapped_column(Float)
    analysis_fps: Mapped[float | None] = mapped_column(Float, doc="Analysed frames per second achieved")
    decode_errors: Mapped[int] = mapped_column(Integer, default=0)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    model_name: Mapped[str | None] = mapped_column(String(100))
    model_version: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    view_score: Mapped[float | None] = mapped_column(Float, doc="Likeness of the latest picture to the reference")
    alert: Mapped[str | None] = mapped_column(String(40), doc="offline or view_changed; None when healthy")
    alert_since: Mapped[datetime | None]
    picture_requested_at: Mapped[datetime | None] = mapped_column(doc="An operator asked for a fresh picture")
    proposals: Mapped[list[Any] | None] = mapped_column(doc="Commissioning: static objects proposed by the edge")


class CameraPicture(Base):
    """A clean (unannotated) frame of a camera sent by its edge box; the first one is its reference view."""

    __tablename__ = "camera_pictures"
    __table_args__ = (Index("ix_camera_pictures_camera", "camera_id", "taken_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(doc="When the edge grabbed the frame")
    received_at: Mapped[datetime]
    content_type: Mapped[str] = mapped_column(String(60))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    reference: Mapped[bool] = mapped_column(Boolean, default=False, doc="The view later pictures are compared with")
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
