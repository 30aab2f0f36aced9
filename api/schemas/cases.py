"""Case schemas: the operator queue, one case with its evidence and audit trail, actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import DbId


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


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: Annotated[str | None, Field(description="Pass as ?cursor= for the next page; null at the end")]


class ActionRequest(BaseModel):
    note: Annotated[str | None, Field(max_length=2000, description="Why (kept in the audit trail)")] = None
    version: Annotated[int | None, Field(description="The case version you acted on (optimistic locking)")] = None


class ActionResult(BaseModel):
    case: CasePublic
    steps: Annotated[list[tuple[str, str]], Field(description="(action, new state) for each step taken")]


class BulkRequest(BaseModel):
    case_ids: Annotated[list[DbId], Field(min_length=1, max_length=500)]
    note: str | None = None


class BulkResult(BaseModel):
    done: list[int]
    failed: dict[int, str]


class AssignRequest(BaseModel):
    username: Annotated[str | None, Field(description="Assign to this user; null to unassign")] = None


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
