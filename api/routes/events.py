"""``POST /api/v1/events``: the edge ingest endpoint (contract in ``detector/events.py``)."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from api.deps import ClockDep, CurrentDevice, SessionDep, SettingsDep
from api.evidence import CheckedFile, EvidenceError, check_file
from api.ingest import IngestError, find_duplicate, ingest
from api.schemas.cases import IngestPublic
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
                        413: {"description": "Evidence too large"}, 415: {"description": "Evidence type"},
                        422: {"description": "Invalid event, unknown camera/zone"}})
async def post_event(request: Request, device: CurrentDevice, session: SessionDep, settings: SettingsDep,
                     clock: ClockDep) -> JSONResponse:
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

    def run() -> JSONResponse:
        for attempt in range(3):
            try:
                result = ingest(session, settings, clock.now, device, event, files)
                session.commit()
                break
            except IngestError as exc:
                session.rollback()
                request.app.state.metrics.events.labels(type=str(event.type), outcome="refused").inc()
                raise HTTPException(exc.status, exc.message) from None
            except IntegrityError:
                # A concurrent request stored the same event (or the same episode) first: a repeat answers
                # like a repeat; another event of that episode simply runs again and finds the episode.
                session.rollback()
                duplicate = find_duplicate(session, event.idempotency_key)
                if duplicate is not None:
                    result = duplicate
                    break
                if attempt == 2:
                    raise
        outcome = "duplicate" if result.duplicate else "created" if result.created else "attached"
        request.app.state.metrics.events.labels(type=str(event.type), outcome=outcome).inc()
        body = IngestPublic(case_id=result.case_id, state=result.state, created=result.created,
                            duplicate=result.duplicate, attached=result.attached, evidence_ids=result.evidence_ids)
        return JSONResponse(json.loads(body.model_dump_json()), status_code=201 if result.created else 200)

    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(run)
