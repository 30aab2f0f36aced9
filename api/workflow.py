"""THE case state machine: one table of allowed transitions, one function per transition.

Every transition is checked against `TRANSITIONS` (illegal -> `TransitionError`, which the API answers
with 409 and the allowed actions), stamps the case, and appends a `CaseEvent` to the audit trail in the
caller's transaction, so a state change and its audit row commit together or not at all. A case comes
to be only through `Workflow.create_case`, in `INITIAL_STATE`, with its "created" audit row.

::

    (create_case) → detected ─confirm→ confirmed ─notify→ notified ─report_fixed→ merchant_reported_fixed ─verify→ verified ─close→ closed
                       └─reject→ rejected    │ (no merchant / repeat offender)  │ deadline missed / camera still sees it
                                             └──────escalate──────────────→ escalated L1 → L2 → L3 ─feedback→ recheck ─close→ closed
                                                                                                                   └─reopen→ reopened
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Case, CaseEvent, CaseState, Merchant, MerchantToken, Role
from api.security import MERCHANT_PREFIX, new_secret, sha256_hex

S = CaseState


class Action(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"
    NOTIFY = "notify"
    REPORT_FIXED = "report_fixed"
    VERIFY = "verify"
    CLOSE = "close"
    ESCALATE = "escalate"
    FEEDBACK = "feedback"
    REOPEN = "reopen"


#: The one table of allowed transitions: state -> action -> next state.
TRANSITIONS: dict[CaseState, dict[Action, CaseState]] = {
    S.DETECTED: {Action.CONFIRM: S.CONFIRMED, Action.REJECT: S.REJECTED},
    S.CONFIRMED: {Action.NOTIFY: S.NOTIFIED, Action.ESCALATE: S.ESCALATED},
    S.NOTIFIED: {Action.REPORT_FIXED: S.MERCHANT_REPORTED_FIXED, Action.ESCALATE: S.ESCALATED},
    S.MERCHANT_REPORTED_FIXED: {Action.VERIFY: S.VERIFIED, Action.ESCALATE: S.ESCALATED},
    S.VERIFIED: {Action.CLOSE: S.CLOSED},
    S.ESCALATED: {Action.ESCALATE: S.ESCALATED, Action.FEEDBACK: S.RECHECK, Action.VERIFY: S.VERIFIED},
    S.RECHECK: {Action.CLOSE: S.CLOSED, Action.REOPEN: S.REOPENED, Action.VERIFY: S.VERIFIED},
    S.REOPENED: {Action.ESCALATE: S.ESCALATED, Action.CLOSE: S.CLOSED},
    S.REJECTED: {},
    S.CLOSED: {},
}

#: The state every case starts in: the way into `TRANSITIONS` (`Workflow.create_case` is the one door).
INITIAL_STATE = S.DETECTED

MAX_LEVEL = 3
LEVEL_NAMES = {1: "street", 2: "district", 3: "city"}
ENFORCEMENT_LEVEL = {Role.ENFORCEMENT_STREET: 1, Role.ENFORCEMENT_DISTRICT: 2, Role.ENFORCEMENT_CITY: 3}

_OPS = {Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN}
#: Which staff roles may take each action through the operator API (the merchant API and the camera
#: act through their own entry points; the scheduler acts as "system").
ACTION_ROLES: dict[Action, set[Role]] = {
    Action.CONFIRM: _OPS,
    Action.REJECT: _OPS,
    Action.NOTIFY: _OPS,
    Action.REPORT_FIXED: _OPS,  # an operator may record a fix reported by phone
    Action.VERIFY: _OPS,
    Action.CLOSE: _OPS,
    Action.ESCALATE: {Role.SUPERVISOR, Role.ADMIN},
    Action.FEEDBACK: {Role.ENFORCEMENT_STREET, Role.ENFORCEMENT_DISTRICT, Role.ENFORCEMENT_CITY, Role.ADMIN},
    Action.REOPEN: _OPS,
}


class TransitionError(Exception):
    """An action not allowed in the case's state (or a stale version): the API answers 409."""

    def __init__(self, detail: str, allowed: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.allowed = allowed


def allowed_actions(case: Case) -> list[str]:
    actions = TRANSITIONS[CaseState(case.state)]
    return [a.value for a in actions if not (a is Action.ESCALATE and case.state == S.ESCALATED
                                            and case.escalation_level >= MAX_LEVEL)]


def role_may(role: str, action: Action, case: Case | None = None) -> bool:
    if Role(role) not in ACTION_ROLES[action]:
        return False
    if action is Action.FEEDBACK and case is not None and role != Role.ADMIN:
        # Enforcement reports back on cases at its own level (or, as a higher level, below it).
        return ENFORCEMENT_LEVEL.get(Role(role), 0) >= case.escalation_level
    return True


@dataclass
class Outcome:
    """What one action did: the transitions taken (a confirm may also notify or escalate)."""

    steps: list[tuple[str, str]] = field(default_factory=list)
    merchant_link: str | None = None


class Workflow:
    """Transitions on cases inside one session/transaction, by one actor at one instant."""

    def __init__(self, session: Session, settings: Settings, now: datetime, actor: str) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.actor = actor

    # ----- generic machinery -------------------------------------------------------------------
    def audit(self, case: Case, action: str, note: str | None = None, from_state: str | None = None,
              to_state: str | None = None) -> None:
        self.session.add(CaseEvent(case_id=case.id, at=self.now, actor=self.actor, action=action,
                                   from_state=from_state, to_state=to_state,
                                   escalation_level=case.escalation_level, note=note))

    def _move(self, case: Case, action: Action, note: str | None, outcome: Outcome,
              checked: bool = False) -> None:
        current = CaseState(case.state)
        target = TRANSITIONS[current].get(action)
        if target is None or not (checked or action.value in allowed_actions(case)):
            raise TransitionError(f"cannot {action.value} a case in state {current.value}"
                                  + (f" at level {case.escalation_level}" if case.escalation_level else ""),
                                  allowed_actions(case))
        if current is S.NOTIFIED and case.left_notified_at is None:
            case.left_notified_at = self.now
        case.state = target.value
        case.updated_at = self.now
        if case.id is None:
            self.session.flush()
        self.audit(case, action.value, note, current.value, target.value)
        outcome.steps.append((action.value, target.value))

    def apply(self, case: Case, action: Action, note: str | None = None,
              expected_version: int | None = None) -> Outcome:
        """Run one named action (the operator API's entry point)."""
        if expected_version is not None and expected_version != case.version:
            raise TransitionError(f"case {case.id} changed since you loaded it (version {expected_version}, "
                                  f"now {case.version}); reload and try again", allowed_actions(case))
        handler = {
            Action.CONFIRM: self.confirm, Action.REJECT: self.reject, Action.NOTIFY: self.notify,
            Action.REPORT_FIXED: self.report_fixed, Action.VERIFY: self.verify, Action.CLOSE: self.close,
            Action.ESCALATE: self.escalate, Action.FEEDBACK: self.feedback, Action.REOPEN: self.reopen,
        }[action]
        return handler(case, note)

    # ----- the transitions ---------------------------------------------------------------------
    def create_case(self, *, category: str, camera_id: int, zone_id: int, road_id: int | None,
                    merchant_id: int | None, device_id: int | None, confidence: float, model_name: str | None,
                    model_version: str | None, first_seen_at: datetime, last_seen_at: datetime,
                    note: str | None = None) -> Case:
        """A new case in `INITIAL_STATE`, with its "created" audit row (flushed: it has its id)."""
        case = Case(state=INITIAL_STATE.value, category=category, camera_id=camera_id, zone_id=zone_id,
                    road_id=road_id, merchant_id=merchant_id, device_id=device_id, confidence=confidence,
                    escalation_level=0, max_escalation_level=0, self_rectified=False, model_name=model_name,
                    model_version=model_version, first_seen_at=first_seen_at, last_seen_at=last_seen_at,
                    created_at=self.now, updated_at=self.now)
        self.session.add(case)
        self.session.flush()
        self.audit(case, "created", note, None, INITIAL_STATE.value)
        return case

    def confirm(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.CONFIRM, note, outcome)
        case.confirmed_at = self.now
        merchant = case.merchant
        if merchant is None or not merchant.active:  # a deactivated merchant (closed shop) gets no notice
            self.escalate(case, "zone has no responsible merchant" if merchant is None
                          else f"merchant {merchant.code} is deactivated in the registry", outcome)
            return outcome
        repeat = self._confirmed_recently(merchant, exclude_case=case.id)
        merchant.offence_count += 1
        merchant.last_offence_at = self.now
        if repeat >= self.settings.repeat_offender_cases:
            self.escalate(case, f"repeat offender: {repeat} confirmed cases in "
                          f"{self.settings.repeat_offender_window_days:g} days", outcome)
        else:
            self.notify(case, None, outcome)
        return outcome

    def _confirmed_recently(self, merchant: Merchant, exclude_case: int) -> int:
        since = self.now - timedelta(days=self.settings.repeat_offender_window_days)
        return self.session.scalar(
            select(func.count()).select_from(Case).where(
                Case.merchant_id == merchant.id, Case.id != exclude_case, Case.confirmed_at.is_not(None),
                Case.confirmed_at >= since)) or 0

    def reject(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.REJECT, note or "false positive", outcome)
        case.rejected_at = self.now
        case.due_at = None
        return outcome

    def notify(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        merchant = case.merchant
        if merchant is None:
            raise TransitionError("cannot notify: the zone has no responsible merchant", allowed_actions(case))
        deadline = self.now + timedelta(seconds=self.settings.fix_deadline_for(case.category))
        self._move(case, Action.NOTIFY, note or f"merchant {merchant.code} has until {deadline.isoformat()}",
                   outcome)
        case.notified_at = self.now
        case.due_at = deadline
        token = issue_merchant_token(self.session, self.settings, merchant, self.now, case_id=case.id)
        link = f"{self.settings.public_url.rstrip('/')}/m/{token}"
        outcome.merchant_link = link
        from api.notify import enqueue  # local import: notify imports nothing from here, but keeps it light

        enqueue(self.session, self.settings, self.now, case=case, kind="merchant_notice",
                recipient=f"merchant:{merchant.code}", target=merchant.webhook_url, payload={
                    "case_id": case.id, "merchant": merchant.code, "merchant_name": merchant.name,
                    "contact": merchant.contact, "category": case.category, "camera": case.camera.code,
                    "zone": case.zone.code, "deadline": deadline.isoformat(), "link": link,
                    "message": f"Please clear the {case.category.replace('_', ' ')} in front of "
                               f"{merchant.name} before {deadline:%Y-%m-%d %H:%M} UTC: {link}"})
        return outcome

    def report_fixed(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.REPORT_FIXED, note, outcome)
        case.fixed_reported_at = self.now
        case.merchant_note = note
        case.due_at = None  # the camera (or an operator) verifies
        if case.camera_cleared_at is not None and not self._camera_sees_it(case):
            # The camera already reports the zone clear (every episode ended): that is the verification.
            camera = Workflow(self.session, self.settings, self.now, actor=f"camera:{case.camera.code}")
            camera.verify(case, f"camera has seen the zone clear since {case.camera_cleared_at.isoformat()}",
                          outcome)
        return outcome

    def _camera_sees_it(self, case: Case) -> bool:
        from api.db.models import Episode

        return self.session.scalar(select(func.count()).select_from(Episode).where(
            Episode.case_id == case.id, Episode.ended_at.is_(None))) != 0

    def verify(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.VERIFY, note, outcome)
        case.verified_at = self.now
        case.due_at = None
        case.self_rectified = case.fixed_reported_at is not None and case.max_escalation_level == 0
        if self.settings.auto_close_verified:
            self.close(case, "verified", outcome)
        return outcome

    def close(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.CLOSE, note, outcome)
        case.closed_at = self.now
        case.due_at = None
        return outcome

    def escalate(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        if Action.ESCALATE.value not in allowed_actions(case):
            self._move(case, Action.ESCALATE, note, outcome)  # raises the 409 with the allowed list
        level = min(case.escalation_level + 1, MAX_LEVEL) if case.state == S.ESCALATED else max(
            case.escalation_level, 1)
        case.escalation_level = level  # set first so the audit row records the new level
        self._move(case, Action.ESCALATE, note or f"escalated to L{level} ({LEVEL_NAMES[level]})", outcome,
                   checked=True)
        case.max_escalation_level = max(case.max_escalation_level, level)
        if case.escalated_at is None:
            case.escalated_at = self.now
        case.due_at = self.now + timedelta(seconds=self.settings.sla_for(level))
        from api.notify import enqueue

        enqueue(self.session, self.settings, self.now, case=case, kind="escalation",
                recipient=f"level:{level}", target=None, payload={
                    "case_id": case.id, "level": level, "level_name": LEVEL_NAMES[level],
                    "category": case.category, "camera": case.camera.code, "zone": case.zone.code,
                    "merchant": case.merchant.code if case.merchant else None,
                    "due": case.due_at.isoformat(), "reason": note})
        return outcome

    def feedback(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.FEEDBACK, note or "enforcement acted", outcome)
        case.due_at = None
        return outcome

    def reopen(self, case: Case, note: str | None = None, outcome: Outcome | None = None) -> Outcome:
        outcome = outcome or Outcome()
        self._move(case, Action.REOPEN, note or "still present after enforcement", outcome)
        case.due_at = None
        return outcome


def issue_merchant_token(session: Session, settings: Settings, merchant: Merchant, now: datetime,
                         case_id: int | None = None) -> str:
    """A new link token for a merchant; only its sha256 is stored, so the raw token is returned once."""
    token = new_secret(MERCHANT_PREFIX)
    session.add(MerchantToken(merchant_id=merchant.id, token_hash=sha256_hex(token), case_id=case_id,
                              created_at=now, expires_at=now + timedelta(seconds=settings.merchant_token_ttl_s)))
    return token
