"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from api.db.models import Case

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable (503 otherwise)")
def readyz(request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": f"database unreachable: {type(exc).__name__}"},
                            status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    m = request.app.state.metrics
    try:
        with request.app.state.session_factory() as session:
            rows = session.execute(select(Case.state, func.count()).group_by(Case.state)).all()
        m.cases_by_state.clear()
        for state, count in rows:
            m.cases_by_state.labels(state=state).set(count)
    except Exception:
        pass  # metrics must answer even when the database does not
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
