"""Edge ingest schemas: the batch endpoint's request and its per-event results (one event: `IngestPublic`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SkipValidation

from detector.events import ViolationEvent

MAX_BATCH_EVENTS = 100


class EventBatchIn(BaseModel):
    """Up to 100 JSON-only events (no evidence files: those go to ``POST /api/v1/events`` as multipart)."""

    # SkipValidation: documented as ViolationEvent, but each event is validated on its own by the endpoint,
    # so one malformed event gets its own 422 entry instead of failing the whole batch.
    events: Annotated[list[SkipValidation[ViolationEvent]],
                      Field(min_length=1, max_length=MAX_BATCH_EVENTS,
                            description=f"1 to {MAX_BATCH_EVENTS} events, applied in order")]


class EventResultPublic(BaseModel):
    """What became of one event of a batch: the `IngestPublic` fields, or ``status`` >= 400 and ``error``."""

    index: Annotated[int, Field(description="Position of the event in the request")]
    idempotency_key: str | None = Field(description="Null only when the event was too malformed to have one")
    status: Annotated[int, Field(description="What POST /api/v1/events would have answered: 201 created, "
                                             "200 repeat or attached, 403/409/422 refused")]
    case_id: int | None = None
    state: str | None = None
    created: bool = False
    duplicate: bool = False
    attached: bool = False
    error: str | None = None


class EventBatchPublic(BaseModel):
    accepted: Annotated[int, Field(description="Events with a 2xx status (new, attached or repeats)")]
    refused: Annotated[int, Field(description="Events with a 4xx status: fix them, do not resend them as they are")]
    results: list[EventResultPublic]

