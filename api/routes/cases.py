"""The operator API: the case queue (filters, sorting, keyset pagination), one case, actions, claim/assign,
bulk confirm/reject, evidence downloads.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from api.db.models import Camera, Case, CaseEvent, CaseState, Evidence, Merchant, Road, User
from api.deps import ClockDep, OperatorUser, PathId, SessionDep, SettingsDep, StaffUser
from api.evidence import read as read_evidence
from api.schemas.cases import (
    ActionRequest,
    ActionResult,
    AssignRequest,
    BulkRequest,
    BulkResult,
    CaseDetail,
    CaseEventPublic,
    CasePage,
    CasePublic,
    EvidencePublic,
)
from api.workflow import Action, TransitionError, Workflow, allowed_actions, role_may

router = APIRouter(prefix="/api/v1", tags=["cases"])

#: States in which a passed due_at means the case is late.
LATE_STATES = (CaseState.NOTIFIED.value, CaseState.ESCALATED.value, CaseState.CONFIRMED.value)
SORTS = {"created_at": Case.created_at, "updated_at": Case.updated_at, "confidence": Case.confidence,
         "last_seen_at": Case.last_seen_at}
SortParam = Literal["created_at", "-created_at", "updated_at", "-updated_at", "confidence", "-confidence",
                    "last_seen_at", "-last_seen_at"]


def case_public(case: Case, now: datetime, usernames: dict[int, str] | None = None) -> CasePublic:
    return CasePublic(
        id=case.id, version=case.version, state=case.state, category=case.category, camera=case.camera.code,
        zone=case.zone.code, road=case.road.name if case.road else None,
        merchant=case.merchant.code if case.merchant else None,
        merchant_name=case.merchant.name if case.merchant else None, confidence=case.confidence,
        escalation_level=case.escalation_level, first_seen_at=case.first_seen_at, last_seen_at=case.last_seen_at,
        created_at=case.created_at, updated_at=case.updated_at, due_at=case.due_at,
        overdue=bool(case.due_at and case.due_at <= now and case.state in LATE_STATES),
        assignee=(usernames or {}).get(case.assignee_id) if case.assignee_id else None,
        allowed_actions=allowed_actions(case))


def evidence_public(row: Evidence, url_prefix: str) -> EvidencePublic:
    out = EvidencePublic.model_validate(row, from_attributes=True)
    out.purged = row.purged_at is not None
    out.url = None if out.purged else f"{url_prefix}/{row.id}"
    return out


def _usernames(session: Session, cases: list[Case]) -> dict[int, str]:
    ids = {c.assignee_id for c in cases if c.assignee_id}
    if not ids:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.username).where(User.id.in_(ids)))}


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (isinstance(values, list) and len(values) == 2 and isinstance(values[1], int)):
            raise ValueError
        return values
    except Exception:
        raise HTTPException(422, "invalid cursor: use the next_cursor of the previous page") from None


def _cursor_value(sort_key: str, value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _parse_cursor_value(sort_key: str, value: Any) -> Any:
    if sort_key == "confidence":
        return float(value)
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise HTTPException(422, "invalid cursor: use the next_cursor of the previous page") from None


#: SQLite plans ``overdue=true`` on ix_cases_due and then sorts every overdue case: right for a few, but
#: 1.2 s p99 with ~140k overdue at 1M cases. From this many on it walks the sort column's index instead and
#: stops at the page. PostgreSQL weighs both plans itself.
SQLITE_OVERDUE_SORT_LIMIT = 2000


def _many_overdue(session: Session, now: datetime) -> bool:
    """At least `SQLITE_OVERDUE_SORT_LIMIT` cases past their deadline (counted on ix_cases_due, capped)."""
    capped = (select(Case.id).where(Case.due_at.is_not(None), Case.due_at <= now)
              .limit(SQLITE_OVERDUE_SORT_LIMIT).subquery())
    return (session.scalar(select(func.count()).select_from(capped)) or 0) >= SQLITE_OVERDUE_SORT_LIMIT


@router.get("/cases", response_model=CasePage, summary="The case queue")
def list_cases(
    session: SessionDep, user: StaffUser, clock: ClockDep,
    state: Annotated[list[CaseState] | None, Query(description="One or more states")] = None,
    category: Annotated[list[str] | None, Query(description="One or more categories")] = None,
    road: Annotated[str | None, Query(description="Road name")] = None,
    camera: Annotated[str | None, Query(description="Camera code")] = None,
    merchant: Annotated[str | None, Query(description="Merchant code")] = None,
    overdue: Annotated[bool | None, Query(description="Only cases past their deadline (or only not)")] = None,
    min_age_s: Annotated[float | None, Query(ge=0, description="Created at least this long ago")] = None,
    max_age_s: Annotated[float | None, Query(ge=0, description="Created at most this long ago")] = None,
    assignee: Annotated[str | None, Query(description="Username, 'me' or 'none'")] = None,
    escalation_level: Annotated[int | None, Query(ge=0, le=3)] = None,
    sort: Annotated[SortParam, Query(description="Field, '-' for descending")] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor from the previous page")] = None,
) -> CasePage:
    now = clock.now()
    q: Select[tuple[Case]] = select(Case)
    if state:
        q = q.where(Case.state.in_([s.value for s in state]))
    if category:
        q = q.where(Case.category.in_(category))
    if road:
        q = q.where(Case.road_id == select(Road.id).where(Road.name == road).scalar_subquery())
    if camera:
        q = q.where(Case.camera_id == select(Camera.id).where(Camera.code == camera).scalar_subquery())
    if merchant:
        q = q.where(Case.merchant_id == select(Merchant.id).where(Merchant.code == merchant).scalar_subquery())
    if overdue is True:
        due: Any = Case.due_at
        if session.get_bind().dialect.name == "sqlite" and _many_overdue(session, now):
            due = func.coalesce(Case.due_at, Case.due_at)  # SQLite's "+due_at": keeps the planner off ix_cases_due
        q = q.where(due.is_not(None), due <= now, Case.state.in_(LATE_STATES))
    elif overdue is False:
        q = q.where((Case.due_at.is_(None)) | (Case.due_at > now) | Case.state.not_in(LATE_STATES))
    if min_age_s is not None:
        q = q.where(Case.created_at <= now - timedelta(seconds=min_age_s))
    if max_age_s is not None:
        q = q.where(Case.created_at >= now - timedelta(seconds=max_age_s))
    if assignee == "me":
        q = q.where(Case.assignee_id == user.id)
    elif assignee == "none":
        q = q.where(Case.assignee_id.is_(None))
    elif assignee:
        q = q.where(Case.assignee_id == select(User.id).where(User.username == assignee).scalar_subquery())
    if escalation_level is not None:
        q = q.where(Case.escalation_level == escalation_level)
    key = sort.lstrip("-")
    column = SORTS[key]
    descending = sort.startswith("-")
    if cursor:
        value, last_id = decode_cursor(cursor)
        bound = tuple_(column, Case.id)
        target = tuple_(_parse_cursor_value(key, value), last_id)
        q = q.where(bound < target if descending else bound > target)
    order = (column.desc(), Case.id.desc()) if descending else (column.asc(), Case.id.asc())
    rows = list(session.scalars(q.order_by(*order).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    names = _usernames(session, rows)
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([_cursor_value(key, getattr(last, key)), last.id])
    return CasePage(items=[case_public(c, now, names) for c in rows], next_cursor=next_cursor)


def load_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"case {case_id} not found")
    return case


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case with evidence and audit trail")
def get_case(case_id: PathId, session: SessionDep, user: StaffUser, clock: ClockDep) -> CaseDetail:
    case = load_case(session, case_id)
    return case_detail(session, case, clock.now())


def case_detail(session: Session, case: Case, now: datetime) -> CaseDetail:
    base = case_public(case, now, _usernames(session, [case]))
    evidence = session.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)).all()
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    return CaseDetail(
        **base.model_dump(), confirmed_at=case.confirmed_at, notified_at=case.notified_at,
        fixed_reported_at=case.fixed_reported_at, escalated_at=case.escalated_at, verified_at=case.verified_at,
        closed_at=case.closed_at, camera_cleared_at=case.camera_cleared_at, self_rectified=case.self_rectified,
        model_name=case.model_name, model_version=case.model_version, merchant_note=case.merchant_note,
        evidence=[evidence_public(e, "/api/v1/evidence") for e in evidence],
        events=[CaseEventPublic.model_validate(e) for e in events])


def perform_action(request: Request, session: Session, settings: Any, now: datetime, user: User, case: Case,
         action: Action, body: ActionRequest) -> ActionResult:
    if not role_may(user.role, action, case):
        raise HTTPException(403, f"role '{user.role}' may not {action.value} this case")
    outcome = Workflow(session, settings, now, actor=f"user:{user.username}").apply(
        case, action, body.note, expected_version=body.version)
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise TransitionError(f"case {case.id} was changed by someone else; reload and try again", []) from None
    request.app.state.metrics.transitions.labels(action=action.value).inc()
    return ActionResult(case=case_public(case, now, _usernames(session, [case])), steps=outcome.steps)


@router.post("/cases/{case_id}/actions/{action}", response_model=ActionResult,
             responses={409: {"description": "Not allowed in this state: {detail, allowed}"}})
def case_action(case_id: PathId, action: Action, request: Request, session: SessionDep, settings: SettingsDep,
                clock: ClockDep, user: StaffUser, body: ActionRequest | None = None) -> ActionResult:
    """Take one workflow action (confirm, reject, notify, report_fixed, verify, close, escalate, feedback, reopen)."""
    case = load_case(session, case_id)
    return perform_action(request, session, settings, clock.now(), user, case, action, body or ActionRequest())


@router.post("/cases/{case_id}/claim", response_model=CasePublic, summary="Take a case (409 if someone has it)")
def claim_case(case_id: PathId, session: SessionDep, user: OperatorUser, clock: ClockDep,
               settings: SettingsDep) -> CasePublic:
    case = load_case(session, case_id)
    if case.assignee_id not in (None, user.id):
        raise HTTPException(409, f"case {case_id} is already claimed by someone else")
    now = clock.now()
    case.assignee_id = user.id
    case.claimed_at = now
    case.updated_at = now
    Workflow(session, settings, now, f"user:{user.username}").audit(case, "claimed")
    session.flush()
    return case_public(case, now, {user.id: user.username})


@router.post("/cases/{case_id}/assign", response_model=CasePublic, summary="Assign (or unassign) a case")
def assign_case(case_id: PathId, body: AssignRequest, session: SessionDep, user: OperatorUser, clock: ClockDep,
                settings: SettingsDep) -> CasePublic:
    if user.role == "operator":
        raise HTTPException(403, "only supervisors and admins assign cases; operators claim them")
    case = load_case(session, case_id)
    target = None
    if body.username:
        target = session.scalar(select(User).where(User.username == body.username))
        if target is None:
            raise HTTPException(422, f"unknown user '{body.username}'")
    now = clock.now()
    case.assignee_id = target.id if target else None
    case.claimed_at = now if target else None
    case.updated_at = now
    Workflow(session, settings, now, f"user:{user.username}").audit(
        case, "assigned", f"to {target.username}" if target else "unassigned")
    session.flush()
    return case_public(case, now, {target.id: target.username} if target else {})


@router.post("/cases/bulk/{action}", response_model=BulkResult, summary="Confirm or reject many cases")
def bulk_action(action: Literal["confirm", "reject"], body: BulkRequest, request: Request, session: SessionDep,
                settings: SettingsDep, clock: ClockDep, user: OperatorUser) -> BulkResult:
    done: list[int] = []
    failed: dict[int, str] = {}
    now = clock.now()
    for case_id in dict.fromkeys(body.case_ids):
        case = session.get(Case, case_id)
        if case is None:
            failed[case_id] = "not found"
            continue
        try:
            with session.begin_nested():
                perform_action(request, session, settings, now, user, case, Action(action), ActionRequest(note=body.note))
            done.append(case_id)
        except TransitionError as exc:
            failed[case_id] = exc.detail
    return BulkResult(done=done, failed=failed)


@router.get("/evidence/{evidence_id}", summary="Evidence bytes (staff)")
def get_evidence(evidence_id: PathId, session: SessionDep, settings: SettingsDep, user: StaffUser) -> Response:
    row = session.get(Evidence, evidence_id)
    if row is None:
        raise HTTPException(404, "evidence not found")
    return evidence_response(settings, row)


def evidence_response(settings: Any, row: Evidence) -> Response:
    data = read_evidence(settings, row)
    if data is None:
        raise HTTPException(410, "evidence purged (retention period passed)")
    return Response(data, media_type=row.content_type, headers={
        "Content-Disposition": f'inline; filename="{row.file_name}"', "X-Content-Type-Options": "nosniff",
        "ETag": f'"{row.sha256}"', "Cache-Control": "private, max-age=3600"})
