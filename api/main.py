"""App factory: ``create_app(settings)`` wires settings, clock, database, routers, error handlers, the
scheduler (in the lifespan) and metrics. ``api.main:app`` is the uvicorn target (settings from the env).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from api.body_limits import BodyLimitMiddleware
from api.clock import Clock
from api.core.config import Settings
from api.db.session import make_engine, make_session_factory
from api.metrics import Metrics
from api.routes import admin, auth, cameras, cases, devices, events, health, merchants, models, stats
from api.routes import camera_health as camera_health_routes
from api.routes import dispatch as dispatch_routes
from api.routes import registry as registry_routes
from api.routes import reports as report_routes
from api.routes import standing as standing_routes
from api.scheduler import scheduler_loop
from api.security import LoginLimiter, Passwords, SessionTokens, install_log_redaction
from api.workflow import TransitionError

log = logging.getLogger("frontage.api")


def _db_down(exc: Exception) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The case service. Raises `SecretKeyMissing` (naming FRONTAGE_SECRET_KEY) when there is no signing key."""
    settings = settings or Settings()
    signing_key = settings.signing_key()  # before anything else: no key, no service
    clock = clock or Clock(settings.clock_offset_s)
    install_log_redaction()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            from api.db.migrate import upgrade

            try:
                await asyncio.to_thread(upgrade, settings.database_url)
            except Exception as exc:  # DB down at start: serve 503s and recover, rather than crash-loop
                log.error("migrations not applied (database unavailable?): %s: %s", type(exc).__name__, exc)
        stop = asyncio.Event()
        task = None
        if settings.scheduler_enabled:
            task = asyncio.create_task(scheduler_loop(app.state.session_factory, settings, clock.now, stop))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            app.state.engine.dispose()

    app = FastAPI(title="Frontage case service", version="0.1.0", lifespan=lifespan,
                  description="Street-front sanitation violations: edge events in, cases worked, statistics out.")
    engine = make_engine(settings.database_url, settings.db_pool_size)
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    app.state.session_tokens = SessionTokens(signing_key, settings.user_token_ttl_s)
    app.state.signing_key = signing_key
    # One limiter for the web login and POST /api/v1/auth/login (in memory: per process).
    app.state.login_limiter = LoginLimiter(
        settings.login_max_failures, settings.login_window_s, settings.login_lockout_s,
        settings.login_ip_max_failures, settings.login_user_max_failures, settings.login_lockout_max_s)
    app.state.metrics = Metrics()

    @app.middleware("http")
    async def count_requests(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        app.state.metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        app.state.metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(TransitionError)
    async def transition_error(_: Request, exc: TransitionError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "allowed": exc.allowed}, status_code=409)

    @app.exception_handler(StaleDataError)
    async def stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse({"detail": "the case was changed by someone else; reload and try again",
                             "allowed": []}, status_code=409)

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if _db_down(exc):
            app.state.metrics.db_unavailable.inc()
            log.warning("database unavailable: %s", str(exc.orig or exc).splitlines()[0][:200])
            return JSONResponse({"detail": "database unavailable; retry shortly", "retry_after_s": 5},
                                status_code=503, headers={"Retry-After": "5"})
        if isinstance(exc, DataError):  # the driver refused a value of the request (NUL, out of range): a 4xx
            why = str(exc.orig or exc).splitlines()[0][:200]
            log.warning("value refused by the database (a field without an input type?): %s", why)
            return JSONResponse({"detail": f"a value in this request cannot be stored or compared: {why}"},
                                status_code=422)
        log.exception("database error")
        return JSONResponse({"detail": "database error"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg')}" if where else str(first.get("msg")),
                             "errors": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]},
                            status_code=422)

    for module in (health, auth, events, cases, cameras, camera_health_routes, devices, models, stats, admin, registry_routes,
                   dispatch_routes, standing_routes, report_routes):
        app.include_router(module.router)
    app.include_router(merchants.staff_router)
    app.include_router(merchants.own_router, prefix="/api/v1/merchant")
    app.include_router(merchants.own_router, prefix="/api/v1/merchant/t/{token}", include_in_schema=False)
    # The web pages (operator console, merchant page /m/{token}) live in api.web, owned separately.
    if importlib.util.find_spec("api.web") is not None:
        web = importlib.import_module("api.web")
        router = getattr(web, "router", None)
        if router is not None:
            app.include_router(router)
        setup = getattr(web, "setup", None)
        if callable(setup):
            setup(app)
    _document_error_body(app)
    # Outermost: bodies are limited (and uploads authenticated) before anything reads a byte.
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    return app


def _document_error_body(app: FastAPI) -> None:
    """Make the OpenAPI say what a 422 really carries: one readable line plus the field errors.

    The service answers ``{"detail": "<where>: <what>", "errors": [{"loc": [...], "msg": "..."}]}`` (the
    validation handler above, and routes that raise ``HTTPException(422, "...")``), not FastAPI's default
    ``HTTPValidationError`` with a list in ``detail``; clients generated from the spec must see the truth.
    """
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = build()
            schemas = spec.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = {
                    "title": "HTTPValidationError", "type": "object", "required": ["detail"],
                    "properties": {
                        "detail": {"type": "string", "title": "Detail", "description": "What is wrong, in one line"},
                        "errors": {"type": "array", "title": "Errors", "items": {
                            "type": "object", "properties": {
                                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                                "msg": {"type": "string"}}}},
                    },
                }
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """Uvicorn factory target: ``uvicorn --factory api.main:app_from_env``."""
    return create_app(Settings())
