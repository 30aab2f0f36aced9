"""Case schemas: the operator queue, one case with its evidence and audit trail, actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.db.models import CaseState
from api.schemas import DbId
from api.schemas.types import CleanStr, CleanText, Seconds
from detector.categories import Category


class EvidencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str
    kind: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    url: str | None = None
    purged: bool = False


class CaseEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    escalation_level: int | None
    note: str | None


class CasePublic(BaseModel):
    id: int
    version: int
    state: str
    category: str
    camera: str
    zone: str
    road: str | None
    merchant: str | None
    merchant_name: str | None
    confidence: float
    escalation_level: int
    first_seen_at: datetime
    last_seen_at: datetime
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    overdue: bool
    assignee: str | None
    allowed_actions: list[str]


class CaseDetail(CasePublic):
    confirmed_at: datetime | None
    notified_at: datetime | None
    fixed_reported_at: datetime | None
    escalated_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    camera_cleared_at: datetime | None
    self_rectified: bool
    model_name: str | None
    model_version: str | None
    merchant_note: str | None
    evidence: list[EvidencePublic]
    events: list[CaseEventPublic]


class CaseFilters(BaseModel):
    """Which cases the queue shows: the one definition behind ``GET /api/v1/cases`` and the web queue
    (`api.services.queue.filtered`). Unset fields do not filter."""

    state: Annotated[list[CaseState] | None, Field(
        title="States", description="One or more states (any of them)")] = None
    category: Annotated[list[Category] | None, Field(
        title="Categories", description="One or more categories (any of them)")] = None
    road: Annotated[CleanStr | None, Field(max_length=200, title="Road", description="Road name")] = None
    camera: Annotated[CleanStr | None, Field(max_length=100, title="Camera", description="Camera code")] = None
    merchant: Annotated[CleanStr | None, Field(
        max_length=100, title="Merchant", description="Merchant code")] = None
    overdue: Annotated[bool | None, Field(
        title="Overdue", description="Only cases past their deadline while the city waits on someone "
        "(notified, escalated, confirmed); false: only the others")] = None
    min_age_s: Annotated[Seconds | None, Field(
        title="Minimum age", description="Created at least this many seconds ago")] = None
    max_age_s: Annotated[Seconds | None, Field(
        title="Maximum age", description="Created at most this many seconds ago")] = None
    assignee: Annotated[CleanStr | None, Field(
        max_length=100, title="Assignee", description="Username, 'me' or 'none'")] = None
    escalation_level: Annotated[int | None, Field(
        ge=0, le=3, title="Escalation level", description="0 (none) to 3 (city)")] = None


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: Annotated[str | None, Field(description="Pass as ?cursor= for the next page; null at the end")]


class ActionRequest(BaseModel):
    note: Annotated[CleanText | None, Field(max_length=2000, description="Why (kept in the audit trail)")] = None
    version: Annotated[int | None, Field(ge=0, le=2**31 - 1,
                                         description="The case version you acted on (optimistic locking)")] = None


class ActionResult(BaseModel):
    case: CasePublic
    steps: Annotated[list[tuple[str, str]], Field(description="(action, new state) for each step taken")]


class BulkRequest(BaseModel):
    case_ids: Annotated[list[DbId], Field(min_length=1, max_length=500, description="Cases to act on")]
    note: Annotated[CleanText | None, Field(max_length=2000, description="Why (kept in every case's audit trail)")] = None


class BulkResult(BaseModel):
    done: list[int]
    failed: dict[int, str]


class AssignRequest(BaseModel):
    username: Annotated[CleanStr | None, Field(max_length=100, description="Assign to this user; null to unassign")] = None


class IngestPublic(BaseModel):
    case_id: int
    state: str
    created: bool
    duplicate: bool
    attached: bool
    evidence_ids: list[int]


class MerchantCasePublic(BaseModel):
    id: int
    state: str
    category: str
    zone: str
    camera: str
    first_seen_at: datetime
    due_at: datetime | None
    notified_at: datetime | None
    fixed_reported_at: datetime | None
    closed_at: datetime | None
    escalation_level: int
    can_report_fixed: bool
    evidence: list[EvidencePublic] = []
