"""One case: its public views, the workflow actions (one path for the JSON API and the case page), claim,
assign and bulk actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from api.core.config import Settings
from api.db.models import Case, CaseEvent, CaseState, Evidence, Merchant, User
from api.evidence import CheckedFile, store
from api.metrics import Metrics
from api.schemas.cases import ActionRequest, ActionResult, CaseDetail, CaseEventPublic, CasePublic
from api.services.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.evidence import evidence_public
from api.services.queue import is_overdue
from api.workflow import Action, TransitionError, Workflow, allowed_actions, role_may

#: Cases a merchant is shown: from the moment it was told (unconfirmed detections stay internal).
MERCHANT_VISIBLE_STATES = [s.value for s in CaseState
                           if s not in (CaseState.DETECTED, CaseState.REJECTED, CaseState.CONFIRMED)]


def usernames(session: Session, cases: list[Case]) -> dict[int, str]:
    """Assignee id -> username for these cases (one query)."""
    ids = {c.assignee_id for c in cases if c.assignee_id}
    if not ids:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.username).where(User.id.in_(ids)))}


def case_public(case: Case, now: datetime, names: dict[int, str] | None = None) -> CasePublic:
    return CasePublic(
        id=case.id, version=case.version, state=case.state, category=case.category, camera=case.camera.code,
        zone=case.zone.code, road=case.road.name if case.road else None,
        merchant=case.merchant.code if case.merchant else None,
        merchant_name=case.merchant.name if case.merchant else None, confidence=case.confidence,
        escalation_level=case.escalation_level, first_seen_at=case.first_seen_at, last_seen_at=case.last_seen_at,
        created_at=case.created_at, updated_at=case.updated_at, due_at=case.due_at,
        overdue=is_overdue(case, now),
        assignee=(names or {}).get(case.assignee_id) if case.assignee_id else None,
        allowed_actions=allowed_actions(case))


def cases_public(session: Session, cases: list[Case], now: datetime) -> list[CasePublic]:
    names = usernames(session, cases)
    return [case_public(c, now, names) for c in cases]


def load_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def evidence_of(session: Session, case: Case) -> list[Evidence]:
    return list(session.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)))


def events_of(session: Session, case: Case) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def merchant_history(session: Session, case: Case, limit: int = 10) -> list[Case]:
    """The same merchant's other cases, newest first."""
    if case.merchant_id is None:
        return []
    return list(session.scalars(select(Case).where(Case.merchant_id == case.merchant_id, Case.id != case.id)
                                .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)).unique())


def case_detail(session: Session, case: Case, now: datetime) -> CaseDetail:
    base = case_public(case, now, usernames(session, [case]))
    return CaseDetail(
        **base.model_dump(), confirmed_at=case.confirmed_at, notified_at=case.notified_at,
        fixed_reported_at=case.fixed_reported_at, escalated_at=case.escalated_at, verified_at=case.verified_at,
        closed_at=case.closed_at, camera_cleared_at=case.camera_cleared_at, self_rectified=case.self_rectified,
        model_name=case.model_name, model_version=case.model_version, merchant_note=case.merchant_note,
        evidence=[evidence_public(e, "/api/v1/evidence") for e in evidence_of(session, case)],
        events=[CaseEventPublic.model_validate(e) for e in events_of(session, case)])


def actions_for(user: User, case: Case, order: list[str] | None = None) -> list[str]:
    """The actions this user may take on this case now (in ``order`` when given)."""
    allowed = allowed_actions(case)
    names = [a for a in (order or allowed) if a in allowed]
    return [a for a in names if role_may(user.role, Action(a), case)]


def perform_action(session: Session, settings: Settings, metrics: Metrics, now: datetime, user: User, case: Case,
                   action: Action, body: ActionRequest) -> ActionResult:
    """Take one workflow action as ``user``: 403 when the role may not, 409 (`TransitionError`) when the
    state does not allow it or someone changed the case since ``body.version``."""
    if not role_may(user.role, action, case):
        raise Forbidden(f"role '{user.role}' may not {action.value} this case")
    outcome = Workflow(session, settings, now, actor=f"user:{user.username}").apply(
        case, action, body.note, expected_version=body.version)
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise TransitionError(f"case {case.id} was changed by someone else; reload and try again", []) from None
    metrics.transitions.labels(action=action.value).inc()
    return ActionResult(case=case_public(case, now, usernames(session, [case])), steps=outcome.steps)


def claim(session: Session, settings: Settings, now: datetime, user: User, case: Case) -> CasePublic:
    if case.assignee_id not in (None, user.id):
        raise Conflict(f"case {case.id} is already claimed by someone else")
    case.assignee_id = user.id
    case.claimed_at = now
    case.updated_at = now
    Workflow(session, settings, now, f"user:{user.username}").audit(case, "claimed")
    session.flush()
    return case_public(case, now, {user.id: user.username})


def assign(session: Session, settings: Settings, now: datetime, user: User, case_id: int,
           username: str | None) -> CasePublic:
    """Supervisors and admins assign (``username``) or unassign (None); operators claim instead (403 before
    the case is looked up: an operator learns nothing about which ids exist)."""
    if user.role == "operator":
        raise Forbidden("only supervisors and admins assign cases; operators claim them")
    case = load_case(session, case_id)
    target = None
    if username:
        target = session.scalar(select(User).where(User.username == username))
        if target is None:
            raise Invalid(f"unknown user '{username}'")
    case.assignee_id = target.id if target else None
    case.claimed_at = now if target else None
    case.updated_at = now
    Workflow(session, settings, now, f"user:{user.username}").audit(
        case, "assigned", f"to {target.username}" if target else "unassigned")
    session.flush()
    return case_public(case, now, {target.id: target.username} if target else {})


@dataclass
class BulkOutcome:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def bulk(session: Session, settings: Settings, metrics: Metrics, now: datetime, user: User, action: Action,
         case_ids: list[int], note: str | None) -> BulkOutcome:
    """One action on many cases, each in its own savepoint: one refusal does not undo the others."""
    out = BulkOutcome()
    for case_id in dict.fromkeys(case_ids):
        case = session.get(Case, case_id)
        if case is None:
            out.failed[case_id] = "not found"
            continue
        try:
            with session.begin_nested():
                perform_action(session, settings, metrics, now, user, case, action, ActionRequest(note=note))
            out.done.append(case_id)
        except TransitionError as exc:
            out.failed[case_id] = exc.detail
        except Forbidden as exc:
            out.failed[case_id] = str(exc.detail)
    return out


def next_waiting(session: Session, after_id: int) -> int | None:
    """The next case waiting for review after ``after_id`` (oldest first, wrapping round), or None."""
    waiting = select(Case.id).where(Case.state == CaseState.DETECTED.value)
    return session.scalar(waiting.where(Case.id > after_id).order_by(Case.id).limit(1)) or session.scalar(
        waiting.where(Case.id != after_id).order_by(Case.id).limit(1))


# ----- the merchant's side ------------------------------------------------------------------------
def merchant_case(session: Session, merchant: Merchant, case_id: int) -> Case:
    """One of this merchant's cases that it has been told of; any other id looks missing (404), so a merchant
    learns nothing of other merchants' cases or of detections not yet confirmed."""
    case = session.get(Case, case_id)
    if case is None or case.merchant_id != merchant.id or case.state not in MERCHANT_VISIBLE_STATES:
        raise NotFound(f"case {case_id} not found")
    return case


def report_fixed(session: Session, settings: Settings, now: datetime, merchant: Merchant, case: Case,
                 note: str | None, photo: CheckedFile | None) -> None:
    """The merchant says it is fixed (409 `TransitionError` unless notified); the photo is kept as evidence."""
    Workflow(session, settings, now, actor=f"merchant:{merchant.code}").apply(case, Action.REPORT_FIXED, note)
    if photo is not None:
        store(session, settings, case, photo, source="merchant", now=now)
    session.flush()
