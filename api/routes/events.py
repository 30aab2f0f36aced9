"""Edge ingest (contract in ``detector/events.py``): ``POST /api/v1/events`` takes one event (JSON, or multipart
with its evidence files); ``POST /api/v1/events/batch`` takes up to 100 JSON-only events in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.core.config import Settings
from api.db.models import EdgeDevice
from api.deps import ClockDep, CurrentDevice, SessionDep, SettingsDep
from api.evidence import CheckedFile, EvidenceError, check_file
from api.ingest import IngestError, IngestResult, find_duplicate, ingest
from api.schemas.cases import IngestPublic
from api.schemas.events import MAX_BATCH_EVENTS, EventBatchIn, EventBatchPublic, EventResultPublic
from detector.events import ViolationEvent

router = APIRouter(prefix="/api/v1", tags=["events"])

MAX_JSON_BYTES = 1024 * 1024


def _validation_message(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"invalid event: {where}: {first['msg']}{more}"


def _parse_event(raw: bytes | str) -> ViolationEvent:
    try:
        return ViolationEvent.model_validate_json(raw)
    except ValidationError as err:
        raise HTTPException(422, _validation_message(err)) from None


@router.post("/events", response_model=IngestPublic, status_code=201,
             responses={200: {"description": "Repeat or attached to an existing case"},
                        403: {"description": "Camera not assigned to this device"},
                        409: {"description": "Idempotency key used before by this device for a different event"},
                        413: {"description": "Evidence too large"}, 415: {"description": "Evidence type"},
                        422: {"description": "Invalid event, unknown camera/zone"}})
async def post_event(request: Request, device: CurrentDevice, session: SessionDep, settings: SettingsDep,
                     clock: ClockDep) -> Response:
    """Accept one violation event (multipart with evidence files, or bare JSON)."""
    ctype = request.headers.get("content-type", "")
    files: list[CheckedFile] = []
    length = int(request.headers.get("content-length") or 0)
    limit = settings.evidence_max_bytes * 8 + MAX_JSON_BYTES
    if length > limit:
        raise HTTPException(413, f"request is {length} bytes; the limit is {limit}")
    if ctype.startswith("application/json"):
        body = await request.body()
        if len(body) > MAX_JSON_BYTES:
            raise HTTPException(413, "event JSON is larger than 1 MiB")
        event = _parse_event(body)
        if event.evidence:
            raise HTTPException(422, "the event lists evidence files: send it as multipart/form-data with the files")
    elif ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=16, max_fields=16, max_part_size=MAX_JSON_BYTES)
        except Exception as exc:
            raise HTTPException(422, f"malformed multipart body: {exc}") from None
        raw = form.get("event")
        if raw is None:
            raise HTTPException(422, "multipart body has no 'event' part")
        event = _parse_event(await raw.read() if isinstance(raw, UploadFile) else raw)
        parts = {k: v for k, v in form.multi_items() if k != "event"}
        refs = {ref.name: ref for ref in event.evidence}
        unexpected = sorted(set(parts) - set(refs))
        if unexpected:
            raise HTTPException(422, f"file part(s) not listed in event.evidence: {', '.join(unexpected)}")
        missing = sorted(set(refs) - set(parts))
        if missing:
            raise HTTPException(422, f"event.evidence lists file(s) that were not sent: {', '.join(missing)}")
        for name, part in parts.items():
            if not isinstance(part, UploadFile):
                raise HTTPException(422, f"part '{name}' must be a file")
            data = await part.read(settings.evidence_max_bytes + 1)
            ref = refs[name]
            try:
                files.append(check_file(name=name, file_name=part.filename, data=data, settings=settings,
                                        kind=str(ref.kind), declared_type=ref.content_type,
                                        declared_sha256=ref.sha256))
            except EvidenceError as exc:
                request.app.state.metrics.events.labels(type=str(event.type), outcome="refused").inc()
                raise HTTPException(exc.status, exc.message) from None
    else:
        raise HTTPException(415, "send application/json or multipart/form-data")

    def run() -> Response:
        try:
            result = ingest_one(session, settings, clock.now, device, event, files)
            session.commit()
        except IngestError as exc:
            session.rollback()
            request.app.state.metrics.events.labels(type=str(event.type), outcome="refused").inc()
            raise HTTPException(exc.status, exc.message) from None
        request.app.state.metrics.events.labels(type=str(event.type), outcome=_outcome(result)).inc()
        body = IngestPublic(case_id=result.case_id, state=result.state, created=result.created,
                            duplicate=result.duplicate, attached=result.attached, evidence_ids=result.evidence_ids)
        # model_dump_json straight into the response: no dict round trip through json.loads and dumps again
        return Response(body.model_dump_json(), status_code=201 if result.created else 200,
                        media_type="application/json")

    return await run_in_threadpool(run)


def _outcome(result: IngestResult) -> str:
    return "duplicate" if result.duplicate else "created" if result.created else "attached"


def ingest_one(session: Session, settings: Settings, now_fn: Callable[[], Any], device: EdgeDevice,
               event: ViolationEvent, files: list[CheckedFile], savepoint: bool = False) -> IngestResult:
    """`ingest` with the race handling. With ``savepoint`` each attempt runs in a SAVEPOINT (batch: only
    this event is undone); without, a failed attempt rolls back the whole transaction.

    * A concurrent request stored the same event (or the same episode) first: the unique constraints fail;
      a repeat then answers like a repeat, another event of that episode runs again and finds the episode.
    * A concurrent request updated the same case first (its version moved on: `StaleDataError`): the event
      runs again on the fresh row. A deadlock (two transactions locked the same cases in opposite orders)
      is retried here only without ``savepoint``.
    """
    for attempt in range(INGEST_ATTEMPTS):
        try:
            if not savepoint:
                return ingest(session, settings, now_fn, device, event, files)
            with session.begin_nested():
                return ingest(session, settings, now_fn, device, event, files)
        except DataError as exc:
            # The event's checks should have refused the value; the database is the last word, and a value
            # it cannot hold is still the sender's fault: a 422 for this event, never a 500 for the batch.
            if not savepoint:
                session.rollback()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "value out of range"
            raise IngestError(422, f"invalid event: the database cannot hold one of its values ({reason})") from None
        except (IntegrityError, StaleDataError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and (savepoint or not _retryable(exc)):
                # In a batch a deadlock is not undone by a savepoint (the other side waits on a lock an
                # earlier event of this batch holds): `post_event_batch` reruns the whole transaction.
                raise
            if not savepoint:
                session.rollback()
            if isinstance(exc, IntegrityError):
                duplicate = find_duplicate(session, device, event)
                if duplicate is not None:
                    return duplicate
            if attempt == INGEST_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


INGEST_ATTEMPTS = 3
#: PostgreSQL deadlock / serialization failure: retried like a lost race (every event is idempotent).
_RETRY_SQLSTATES = {"40P01", "40001"}


def _retryable(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES


def _key_of(raw: Any) -> str | None:
    key = raw.get("idempotency_key") if isinstance(raw, dict) else None
    return key if isinstance(key, str) else None


@router.post("/events/batch", response_model=EventBatchPublic,
             responses={401: {"description": "Missing or unknown device key"},
                        422: {"description": "Not a batch: no 'events' list, empty, or more than "
                                             f"{MAX_BATCH_EVENTS} events (a bad single event is a result entry)"}})
def post_event_batch(request: Request, batch: EventBatchIn, device: CurrentDevice, session: SessionDep,
                     settings: SettingsDep, clock: ClockDep) -> Response:
    """Accept up to 100 JSON-only events in one transaction, each in its own SAVEPOINT.

    The answer is 200 whenever the batch itself was well formed; each event has its own entry, in
    request order, with the status ``POST /api/v1/events`` would have given it: a refused event (403,
    409, 422) does not affect the others. Events that list evidence files are refused (422): send those as
    multipart to ``POST /api/v1/events``. Repeats (same idempotency key, also twice in one batch) answer
    like repeats, so a batch whose answer was lost can be sent again as it is.
    """
    for attempt in range(INGEST_ATTEMPTS):
        try:
            results = _apply_batch(session, settings, clock.now, device, batch.events)
            session.commit()
            break
        except OperationalError as exc:
            # deadlock: roll everything back (releasing this batch's locks) and run the batch again
            session.rollback()
            if not _retryable(exc) or attempt == INGEST_ATTEMPTS - 1:
                raise
    metrics = request.app.state.metrics.events
    for r, raw in zip(results, batch.events, strict=True):
        kind = str(raw.get("type", "unknown")) if isinstance(raw, dict) else "unknown"
        outcome = ("refused" if r.status >= 400 else "duplicate" if r.duplicate else "created" if r.created
                   else "attached")
        metrics.labels(type=kind if r.status < 400 or r.status == 403 else "invalid", outcome=outcome).inc()
    accepted = sum(r.status < 400 for r in results)
    body = EventBatchPublic(accepted=accepted, refused=len(results) - accepted, results=results)
    return Response(body.model_dump_json(), media_type="application/json")


def _apply_batch(session: Session, settings: Settings, now_fn: Callable[[], Any], device: EdgeDevice,
                 raw_events: list[Any]) -> list[EventResultPublic]:
    results: list[EventResultPublic] = []
    for index, raw in enumerate(raw_events):
        key = _key_of(raw)
        try:
            event = ViolationEvent.model_validate(raw)
        except ValidationError as err:
            results.append(EventResultPublic(index=index, idempotency_key=key, status=422,
                                             error=_validation_message(err)))
            continue
        if event.evidence:
            results.append(EventResultPublic(
                index=index, idempotency_key=key, status=422,
                error="the event lists evidence files: send it to POST /api/v1/events as multipart/form-data"))
            continue
        try:
            result = ingest_one(session, settings, now_fn, device, event, [], savepoint=True)
        except IngestError as exc:
            results.append(EventResultPublic(index=index, idempotency_key=key, status=exc.status,
                                             error=exc.message))
            continue
        results.append(EventResultPublic(index=index, idempotency_key=key, status=201 if result.created else 200,
                                         case_id=result.case_id, state=result.state, created=result.created,
                                         duplicate=result.duplicate, attached=result.attached))
    return results
