"""The wire contract between an edge box and the case service.

An edge box reports each violation *episode* (one object category present in one zone for longer than
the zone's dwell time) as a short sequence of events::

    violation_started  (seq 0)  -> violation_updated (seq 1..n, optional) -> violation_cleared (last)

Transport (``detector.uplink`` sends, ``api/routes/events.py`` receives)::

    POST /api/v1/events
    Authorization: Bearer <edge device API key>
    Content-Type: multipart/form-data
        part "event": the JSON of one ViolationEvent
        one file part per EvidenceRef, the part's *name* equal to EvidenceRef.name
    (or Content-Type: application/json with the bare event when it carries no evidence files)

    200/201 -> accepted (a repeat of an idempotency_key this device sent before answers 200 with the same case)
    409     -> this device used the key before for a different event (refused for good, like any 4xx)
    4xx     -> refused for good (the outbox parks it as dead, with the reason)
    5xx / network error -> retried with backoff

Keys are the device's own and episode ids its camera's own: another device's key or another camera's
episode id neither collides with nor touches anything of theirs.

This module is imported by the case service too, so it must stay light: pydantic and the stdlib only.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from detector.categories import Category

SCHEMA_VERSION = 1

#: Largest ``seq`` (the service keeps it in a 32-bit column; an episode has a handful of events).
MAX_SEQ = 2**31 - 1
#: Timestamps outside these years are refused: no camera frame is older, and near year 1 or 9999 an
#: offset cannot even be converted to UTC (the database column) without overflowing.
MIN_YEAR, MAX_YEAR = 1970, 2199

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text and the ids end up in logs and page titles: refuse them at the door.
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, tab, newline, ...)")
    return value


#: Text of the contract: no control characters (the string's own limits are added where it is used).
Text = Annotated[str, AfterValidator(_no_control_characters)]


class EventType(StrEnum):
    STARTED = "violation_started"
    UPDATED = "violation_updated"
    CLEARED = "violation_cleared"


class EvidenceKind(StrEnum):
    FRAME = "frame"  # full frame JPEG with the zone and boxes drawn
    CROP = "crop"  # JPEG crop around the offending objects
    CLIP = "clip"  # short MP4 around the start
    RAW = "raw"  # the same frame with nothing drawn on it: what re-learning trains on


class EvidenceRef(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="File part name in the upload")]
    kind: EvidenceKind
    content_type: Annotated[str, Field(description="image/jpeg or video/mp4")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=0, description="Bytes")]


class EventDetection(BaseModel):
    # allow_inf_nan off: an Infinity in a box is no position, and JSON columns cannot store it
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    class_name: Annotated[Text, Field(max_length=64)]
    category: Category
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    box: Annotated[list[float], Field(min_length=4, max_length=4, description="xyxy, normalised 0-1 to the frame")]
    track_id: Annotated[int | None, Field(ge=-(2**63), le=2**63 - 1)] = None


class PrivacyBox(BaseModel):
    """A person or a vehicle in the evidence frame (not a violation object): the service blurs the head or
    the plate region before the frame is shown outside the staff console (api/services/privacy.py)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["person", "vehicle"]
    box: Annotated[list[float], Field(min_length=4, max_length=4, description="xyxy, normalised 0-1 to the frame")]


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: Annotated[Text, Field(max_length=100)]
    version: Annotated[Text, Field(max_length=100)]
    sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None


class ViolationEvent(BaseModel):
    """One event of one violation episode, as sent by an edge box.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 5, 1, 10, 2, 15, tzinfo=timezone.utc)
    >>> ev = ViolationEvent.for_episode(
    ...     type=EventType.STARTED, seq=0, camera="cam-01", zone="z-m0012", merchant="m-0012",
    ...     category=Category.OUT_OF_STORE_TRADING, started_at=t, observed_at=t, confidence=0.91,
    ...     model=ModelInfo(name="frontage-n", version="1"))
    >>> ev.episode_id == episode_id("cam-01", "z-m0012", "out_of_store_trading", t)
    True
    >>> ev.idempotency_key.endswith(":violation_started:0")
    True
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)

    schema_version: Annotated[int, Field(ge=1, le=1000)] = SCHEMA_VERSION
    type: EventType
    idempotency_key: Annotated[Text, Field(min_length=8, max_length=200, description="Unique per event of "
                                           "one device; a repeat is a no-op, the same key with other data a 409")]
    episode_id: Annotated[Text, Field(min_length=8, max_length=100, description="Unique per episode of one camera")]
    seq: Annotated[int, Field(ge=0, le=MAX_SEQ, description="0 for started, increasing within the episode")]
    device_id: Annotated[Text | None, Field(max_length=100)] = None
    camera: Annotated[Text, Field(min_length=1, max_length=100)]
    zone: Annotated[Text, Field(min_length=1, max_length=100)]
    merchant: Annotated[Text | None, Field(max_length=100)] = None
    category: Category
    started_at: datetime
    observed_at: Annotated[datetime, Field(description="When this event's frame was taken")]
    ended_at: datetime | None = None
    confidence: Annotated[float, Field(ge=0.0, le=1.0, description="Highest detection score in the episode so far")]
    detections: Annotated[list[EventDetection], Field(max_length=200)] = []
    # Optional and left out of the JSON when unset, so events of edges that do not send it stay byte-equal.
    privacy_boxes: Annotated[list[PrivacyBox] | None, Field(
        max_length=200, exclude_if=lambda v: v is None,
        description="People and vehicles in the evidence frame, to blur (None: the edge did not report them)")] = None
    evidence: Annotated[list[EvidenceRef], Field(max_length=8)] = []
    frame_size: Annotated[tuple[Annotated[int, Field(ge=0, le=1_000_000)], Annotated[int, Field(ge=0, le=1_000_000)]]
                          | None, Field(description="(width, height) of the camera frame")] = None
    model: ModelInfo

    @field_validator("started_at", "observed_at", "ended_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone (UTC recommended)")
        if not MIN_YEAR <= value.year <= MAX_YEAR:  # checked before the conversion, which could overflow
            raise ValueError(f"timestamps must lie in the years {MIN_YEAR} to {MAX_YEAR}")
        if not MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR:
            raise ValueError(f"timestamps must lie in the years {MIN_YEAR} to {MAX_YEAR} (in UTC)")
        return value

    @classmethod
    def for_episode(cls, *, type: EventType, seq: int, camera: str, zone: str, category: Category,
                    started_at: datetime, **fields: object) -> ViolationEvent:
        """Build an event whose episode id and idempotency key follow from the episode itself."""
        eid = episode_id(camera, zone, str(category), started_at)
        return cls(type=type, seq=seq, camera=camera, zone=zone, category=category, started_at=started_at,
                   episode_id=eid, idempotency_key=f"{eid}:{type}:{seq}", **fields)  # type: ignore[arg-type]


def episode_id(camera: str, zone: str, category: str, started_at: datetime) -> str:
    """Deterministic id: a restarted edge that re-detects the same start sends the same id."""
    raw = f"{camera}|{zone}|{category}|{started_at.isoformat()}"
    return "ep-" + hashlib.sha256(raw.encode()).hexdigest()[:24]
