"""Model versions: what each edge box should run (name, version, sha256, metrics, the file itself)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import select, update

from api.db.models import ModelVersion
from api.deps import (
    AdminUser,
    ClockDep,
    PathId,
    SessionDep,
    StaffUser,
    _bearer,
    get_current_device,
    get_current_user,
)
from api.schemas.entities import ModelVersionCreate, ModelVersionPublic
from api.security import EDGE_PREFIX

router = APIRouter(prefix="/api/v1/models", tags=["models"])
MAX_MODEL_BYTES = 200 * 1024 * 1024


@router.get("", response_model=list[ModelVersionPublic])
def list_models(session: SessionDep, user: StaffUser) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))


@router.post("", response_model=ModelVersionPublic, status_code=201)
def add_model(body: ModelVersionCreate, session: SessionDep, user: AdminUser, clock: ClockDep) -> ModelVersion:
    if session.scalar(select(ModelVersion.id).where(ModelVersion.name == body.name,
                                                    ModelVersion.version == body.version)) is not None:
        raise HTTPException(409, f"model {body.name} {body.version} exists")
    if body.current:
        session.execute(update(ModelVersion).where(ModelVersion.name == body.name).values(current=False))
    row = ModelVersion(**body.model_dump(), created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def _edge_or_staff(request: Request, session: SessionDep, clock: ClockDep) -> None:
    token = _bearer(request) or ""
    if token.startswith(EDGE_PREFIX):
        get_current_device(request, session, clock)
    else:
        get_current_user(request, session)


@router.get("/current", response_model=list[ModelVersionPublic], summary="Current version of each model")
def current_models(request: Request, session: SessionDep, clock: ClockDep) -> list[ModelVersion]:
    _edge_or_staff(request, session, clock)
    return list(session.scalars(select(ModelVersion).where(ModelVersion.current.is_(True))))


@router.post("/{model_id}/current", response_model=ModelVersionPublic)
def make_current(model_id: PathId, session: SessionDep, user: AdminUser) -> ModelVersion:
    row = session.get(ModelVersion, model_id)
    if row is None:
        raise HTTPException(404, "model version not found")
    session.execute(update(ModelVersion).where(ModelVersion.name == row.name).values(current=False))
    row.current = True
    return row


@router.put("/{model_id}/file", response_model=ModelVersionPublic, summary="Upload the weights (sha256 must match)")
async def upload_file(model_id: PathId, request: Request, session: SessionDep, user: AdminUser) -> ModelVersion:
    row = session.get(ModelVersion, model_id)
    if row is None:
        raise HTTPException(404, "model version not found")
    data = await request.body()
    if len(data) > MAX_MODEL_BYTES:
        raise HTTPException(413, "model file too large")
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise HTTPException(422, "the file's sha256 does not match the registered version")
    row.file_data = data
    row.file_name = f"{row.name}-{row.version}.onnx"
    return row


@router.get("/{model_id}/file", summary="Download the weights (edge devices and staff)")
def download_file(model_id: PathId, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    _edge_or_staff(request, session, clock)
    row = session.get(ModelVersion, model_id)
    if row is None or row.file_data is None:
        raise HTTPException(404, "no file for this model version")
    return Response(row.file_data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{row.file_name}"', "ETag": row.sha256})
