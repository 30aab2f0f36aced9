"""Turning edge events into cases: idempotent, one case per episode, new episodes attach to an open case.

The HTTP layer (``api/routes/events.py``) parses and checks the upload; `ingest` does the rest in the
caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import OPEN_STATES, Camera, Case, CaseState, EdgeDevice, Episode, IngestedEvent, Zone
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


def find_duplicate(session: Session, key: str) -> IngestResult | None:
    row = session.scalar(select(IngestedEvent).where(IngestedEvent.idempotency_key == key))
    if row is None:
        return None
    case = session.get(Case, row.case_id)
    return IngestResult(case_id=row.case_id, state=case.state if case else "unknown", duplicate=True)


def resolve_target(session: Session, device: EdgeDevice, event: ViolationEvent) -> tuple[Camera, Zone]:
    camera = session.scalar(select(Camera).where(Camera.code == event.camera))
    if camera is None:
        raise IngestError(422, f"unknown camera '{event.camera}': register it (and its zones) first")
    if camera.id not in {c.id for c in device.cameras}:
        raise IngestError(403, f"device '{device.name}' may not report for camera '{event.camera}'")
    zone = session.scalar(select(Zone).where(Zone.camera_id == camera.id, Zone.code == event.zone))
    if zone is None:
        raise IngestError(422, f"unknown zone '{event.zone}' on camera '{event.camera}'")
    if str(event.category) not in zone.forbid:
        raise IngestError(422, f"category '{event.category}' is not forbidden in zone '{event.zone}'")
    return camera, zone


def ingest(session: Session, settings: Settings, now_fn, device: EdgeDevice, event: ViolationEvent,
           files: list[CheckedFile]) -> IngestResult:
    """Apply one event. Raises `IngestError` for refusals; the caller commits."""
    camera, zone = resolve_target(session, device, event)  # first: a repeat must not leak a case id
    duplicate = find_duplicate(session, event.idempotency_key)
    if duplicate is not None:
        return duplicate
    now = now_fn()
    flow = Workflow(session, settings, now, actor=f"device:{device.name}")
    device.last_seen_at = now
    result = IngestResult(case_id=0, state="")

    episode = session.scalar(select(Episode).where(Episode.episode_id == event.episode_id))
    if episode is not None:
        case = session.get(Case, episode.case_id)
        assert case is not None
    else:
        case = _open_case(session, settings, camera, zone, event)
        if case is None:
            case = Case(state=CaseState.DETECTED.value, category=str(event.category), camera_id=camera.id,
                        zone_id=zone.id, road_id=camera.road_id, merchant_id=zone.merchant_id, device_id=device.id,
                        confidence=event.confidence, escalation_level=0, max_escalation_level=0,
                        self_rectified=False, model_name=event.model.name, model_version=event.model.version,
                        first_seen_at=event.started_at, last_seen_at=event.observed_at, created_at=now,
                        updated_at=now)
            session.add(case)
            session.flush()
            flow.audit(case, "created", f"episode {event.episode_id}, confidence {event.confidence:.2f}",
                       None, CaseState.DETECTED.value)
            result.created = True
        else:
            flow.audit(case, "episode_attached", f"new episode {event.episode_id} started "
                       f"{event.started_at.isoformat()}")
            result.attached = True
        episode = Episode(episode_id=event.episode_id, case_id=case.id, started_at=event.started_at,
                          last_observed_at=event.observed_at, last_seq=event.seq, max_confidence=event.confidence)
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
    session.add(IngestedEvent(idempotency_key=event.idempotency_key, case_id=case.id, episode_id=event.episode_id,
                              type=str(event.type), seq=event.seq, device_id=device.id,
                              observed_at=event.observed_at, received_at=now,
                              payload=event.model_dump(mode="json")))
    case.updated_at = now
    session.flush()
    result.case_id = case.id
    result.state = case.state
    return result


def _open_case(session: Session, settings: Settings, camera: Camera, zone: Zone, event: ViolationEvent) -> Case | None:
    window = timedelta(seconds=settings.attach_window_s)
    return session.scalar(
        select(Case).where(Case.camera_id == camera.id, Case.zone_id == zone.id,
                           Case.category == str(event.category),
                           Case.state.in_([s.value for s in OPEN_STATES]),
                           Case.last_seen_at >= event.started_at - window,
                           Case.first_seen_at <= event.started_at + window)
        .order_by(Case.last_seen_at.desc(), Case.id.desc()).limit(1))
