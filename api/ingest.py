"""Turning edge events into cases: idempotent, one case per episode, new episodes attach to an open case.

An event touches only its own camera (which its device must report for): idempotency keys are looked up
among the sending device's own events, episode ids among its camera's episodes. A repeat answers as a
repeat; the same key with other data is a 409.

The HTTP layer (``api/routes/events.py``) parses and checks the upload; `ingest` does the rest in the
caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, select
from sqlalchemy.orm import Session, aliased, lazyload

from api.core.config import Settings
from api.db.models import (
    OPEN_STATES,
    Camera,
    Case,
    CaseState,
    DeviceCamera,
    EdgeDevice,
    Episode,
    IngestedEvent,
    Zone,
)
from api.evidence import CheckedFile, store
from api.workflow import Workflow
from detector.events import EventType, ViolationEvent


class IngestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class IngestResult:
    case_id: int
    state: str
    created: bool = False
    duplicate: bool = False
    attached: bool = False
    evidence_ids: list[int] = field(default_factory=list)


#: How stale ``edge_devices.last_seen_at`` may get before an event refreshes it. Writing it on every event
#: took a row lock on the device row per event (serialising one box's events) for a value read in minutes.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)

# The per-event lookups, built once: building a select() costs more CPU than running the cached statement.
# Idempotency keys are the device's own (another device's key neither collides nor answers) and episode
# ids the camera's own (an event touches only its camera's episodes): both are computable from public facts.
_EARLIER = aliased(IngestedEvent)
_EARLIER_CASE = aliased(Case)
_DUPLICATE = (select(_EARLIER.case_id, _EARLIER_CASE.state, _EARLIER.payload)
              .outerjoin(_EARLIER_CASE, _EARLIER_CASE.id == _EARLIER.case_id)
              .where(_EARLIER.device_id == bindparam("device_id"), _EARLIER.idempotency_key == bindparam("key")))
# Camera, the event's zone on it, whether this device reports for it, this device's earlier copy of this
# event and the episode's row on this camera if it has one: one round trip instead of six (and no load of
# every camera of the device, which `EdgeDevice.cameras` does).
_TARGET = (select(Camera.id, Camera.road_id, Zone.id, Zone.merchant_id, Zone.forbid, DeviceCamera.device_id,
                  _EARLIER.case_id, _EARLIER_CASE.state, _EARLIER.payload,
                  select(Episode.id).where(Episode.camera_id == Camera.id,
                                           Episode.episode_id == bindparam("episode_id"))
                  .scalar_subquery().label("episode_pk"))
           .select_from(Camera)
           .outerjoin(Zone, and_(Zone.camera_id == Camera.id, Zone.code == bindparam("zone")))
           .outerjoin(DeviceCamera, and_(DeviceCamera.camera_id == Camera.id,
                                         DeviceCamera.device_id == bindparam("device_id")))
           .outerjoin(_EARLIER, and_(_EARLIER.device_id == bindparam("device_id"),
                                     _EARLIER.idempotency_key == bindparam("key")))
           .outerjoin(_EARLIER_CASE, _EARLIER_CASE.id == _EARLIER.case_id)
           .where(Camera.code == bindparam("camera")).limit(1))
# A case row alone: its camera, zone, merchant and road are joined eagerly by default (the queue needs them),
# ingest needs none of them (the workflow loads the merchant when it confirms).
_CASE_ONLY = (lazyload("*"),)
_INSERT_INGESTED = insert(IngestedEvent.__table__)
_OPEN_CASE = (select(Case).where(Case.camera_id == bindparam("camera_id"), Case.zone_id == bindparam("zone_id"),
                                 Case.category == bindparam("category"),
                                 Case.state.in_([s.value for s in OPEN_STATES]),
                                 Case.last_seen_at >= bindparam("seen_since"),
                                 Case.first_seen_at <= bindparam("first_until"))
              .order_by(Case.last_seen_at.desc(), Case.id.desc()).limit(1).options(*_CASE_ONLY))


@dataclass(frozen=True)
class Target:
    """Where an event happened, as the ids a case row needs."""

    camera_id: int
    road_id: int | None
    zone_id: int
    merchant_id: int | None
    forbid: list[Any]
    duplicate: IngestResult | None  # this event was stored before: the answer to repeat
    episode_pk: int | None  # the row of the event's episode, if the episode is known


def find_duplicate(session: Session, device: EdgeDevice, event: ViolationEvent) -> IngestResult | None:
    """This device's earlier copy of the event, as the answer to repeat (`IngestError` 409 when the key
    was used for other data)."""
    row = session.execute(_DUPLICATE, {"device_id": device.id, "key": event.idempotency_key}).first()
    return None if row is None else _repeat(event, *row)


#: Fields a repeat may differ in: evidence (the edge resends an event without files that vanished from
#: its disk or that the service refused), nothing else.
_MAY_DIFFER = {"evidence"}


def _repeat(event: ViolationEvent, case_id: int, state: str | None, payload: dict[str, Any]) -> IngestResult:
    stored = {k: v for k, v in payload.items() if k not in _MAY_DIFFER}
    if stored != event.model_dump(mode="json", exclude=_MAY_DIFFER):
        # Answering "duplicate" would drop the new data without a word: refuse it instead.
        raise IngestError(409, f"idempotency key '{event.idempotency_key}' was used before by this device for a "
                               "different event; a repeat must carry the same data, new data needs a new key")
    return IngestResult(case_id=case_id, state=state or "unknown", duplicate=True)


def resolve_target(session: Session, device: EdgeDevice, event: ViolationEvent) -> Target:
    """Where the event happened, or the `IngestError` that refuses it (checked before anything else: a
    repeat from a device that may not report for the camera must not learn a case id)."""
    row = session.execute(_TARGET, {"camera": event.camera, "zone": event.zone, "device_id": device.id,
                                    "key": event.idempotency_key, "episode_id": event.episode_id}).first()
    if row is None:
        raise IngestError(422, f"unknown camera '{event.camera}': register it (and its zones) first")
    (camera_id, road_id, zone_id, merchant_id, forbid, assigned, duplicate_case_id, duplicate_state,
     duplicate_payload, episode_pk) = row
    if assigned is None:
        raise IngestError(403, f"device '{device.name}' may not report for camera '{event.camera}'")
    if zone_id is None:
        raise IngestError(422, f"unknown zone '{event.zone}' on camera '{event.camera}'")
    if str(event.category) not in forbid:
        raise IngestError(422, f"category '{event.category}' is not forbidden in zone '{event.zone}'")
    duplicate = None if duplicate_case_id is None else _repeat(event, duplicate_case_id, duplicate_state,
                                                               duplicate_payload)
    return Target(camera_id=camera_id, road_id=road_id, zone_id=zone_id, merchant_id=merchant_id, forbid=forbid,
                  duplicate=duplicate, episode_pk=episode_pk)


def touch_device(device: EdgeDevice, now: datetime) -> None:
    """Record that the device was heard from, at most once per `LAST_SEEN_RESOLUTION` (see there)."""
    if device.last_seen_at is None or not (now - LAST_SEEN_RESOLUTION < device.last_seen_at <= now):
        device.last_seen_at = now


def ingest(session: Session, settings: Settings, now_fn, device: EdgeDevice, event: ViolationEvent,
           files: list[CheckedFile]) -> IngestResult:
    """Apply one event. Raises `IngestError` for refusals; the caller commits."""
    target = resolve_target(session, device, event)
    if target.duplicate is not None:
        return target.duplicate
    now = now_fn()
    flow = Workflow(session, settings, now, actor=f"device:{device.name}")
    touch_device(device, now)
    result = IngestResult(case_id=0, state="")

    episode = None if target.episode_pk is None else session.get(Episode, target.episode_pk)
    if episode is not None:
        case = session.get(Case, episode.case_id, options=_CASE_ONLY)
        assert case is not None
    else:
        case = _open_case(session, settings, target, event)
        if case is None:
            case = flow.create_case(
                category=str(event.category), camera_id=target.camera_id, zone_id=target.zone_id,
                road_id=target.road_id, merchant_id=target.merchant_id, device_id=device.id,
                confidence=event.confidence, model_name=event.model.name, model_version=event.model.version,
                first_seen_at=event.started_at, last_seen_at=event.observed_at,
                note=f"episode {event.episode_id}, confidence {event.confidence:.2f}")
            result.created = True
        else:
            flow.audit(case, "episode_attached", f"new episode {event.episode_id} started "
                       f"{event.started_at.isoformat()}")
            result.attached = True
        episode = Episode(camera_id=target.camera_id, episode_id=event.episode_id, case_id=case.id,
                          started_at=event.started_at, last_observed_at=event.observed_at, last_seq=event.seq,
                          max_confidence=event.confidence)
        session.add(episode)
        if (case.state == CaseState.MERCHANT_REPORTED_FIXED and case.fixed_reported_at is not None
                and event.observed_at > case.fixed_reported_at):
            flow.escalate(case, "camera sees the violation again after the merchant reported it fixed")

    episode.last_observed_at = max(episode.last_observed_at, event.observed_at)
    episode.last_seq = max(episode.last_seq, event.seq)
    episode.max_confidence = max(episode.max_confidence, event.confidence)
    case.last_seen_at = max(case.last_seen_at, event.observed_at)
    case.confidence = max(case.confidence, event.confidence)

    if event.type == EventType.UPDATED and case.state == CaseState.MERCHANT_REPORTED_FIXED and (
            case.fixed_reported_at is not None and event.observed_at > case.fixed_reported_at):
        flow.escalate(case, "camera still sees the violation after the merchant reported it fixed")
    elif event.type == EventType.CLEARED:
        episode.ended_at = event.ended_at or event.observed_at
        case.camera_cleared_at = episode.ended_at
        if case.state in (CaseState.MERCHANT_REPORTED_FIXED, CaseState.ESCALATED, CaseState.RECHECK):
            flow.verify(case, f"camera reports the zone clear at {episode.ended_at.isoformat()}")
        else:
            flow.audit(case, "camera_cleared", f"episode {event.episode_id} cleared")

    threshold = settings.auto_confirm_threshold
    if threshold is not None and case.state == CaseState.DETECTED and case.confidence >= threshold:
        Workflow(session, settings, now, actor="system:auto-confirm").confirm(
            case, f"confidence {case.confidence:.2f} >= {threshold:.2f}")

    for f in files:
        row = store(session, settings, case, f, source="edge", now=now)
        session.flush()
        result.evidence_ids.append(row.id)
    case.updated_at = now
    # A plain INSERT: the row is never read back in this session, so it needs none of the ORM's
    # bookkeeping (RETURNING id, identity map), which cost more than the statement itself.
    session.execute(_INSERT_INGESTED, {
        "idempotency_key": event.idempotency_key, "case_id": case.id, "episode_id": event.episode_id,
        "type": str(event.type), "seq": event.seq, "device_id": device.id, "observed_at": event.observed_at,
        "received_at": now, "payload": event.model_dump(mode="json")})
    session.flush()
    result.case_id = case.id
    result.state = case.state
    return result


def _open_case(session: Session, settings: Settings, target: Target, event: ViolationEvent) -> Case | None:
    window = timedelta(seconds=settings.attach_window_s)
    return session.scalar(_OPEN_CASE, {"camera_id": target.camera_id, "zone_id": target.zone_id,
                                       "category": str(event.category), "seen_since": event.started_at - window,
                                       "first_until": event.started_at + window})
