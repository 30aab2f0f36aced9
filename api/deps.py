"""FastAPI dependencies (``Annotated`` aliases): settings, clock, DB session, and who is calling.

Bearer kinds: ``fu_`` operator session, ``fe_`` edge device key, ``fm_`` merchant token (see
`api.security`). Wrong kind or a bad token -> 401; right kind, wrong role -> 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload, sessionmaker

from api.clock import Clock
from api.core.config import Settings
from api.db.models import EdgeDevice, Merchant, MerchantToken, Role, User
from api.db.session import session_scope
from api.schemas import MAX_DB_ID
from api.security import EDGE_PREFIX, MERCHANT_PREFIX, USER_PREFIX, SessionTokens, sha256_hex


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with session_scope(factory) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]
# scope="function": commit before the response is sent, so a client that got 200 reads its own write
# next, and a failing commit becomes an error response instead of a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def get_current_user(request: Request, session: SessionDep) -> User:
    token = _bearer(request)
    if token is None:
        raise _unauthorized("sign in: send Authorization: Bearer <token from POST /api/v1/auth/login>")
    if not token.startswith(USER_PREFIX):
        raise HTTPException(403, "this endpoint is for staff accounts")
    tokens: SessionTokens = request.app.state.session_tokens
    claim = tokens.read(token)
    user = session.get(User, claim.uid) if claim is not None else None
    # The epoch check makes sign-out and an admin's revoke server-side: a copied token dies with them.
    if user is None or claim is None or not user.active or not claim.is_current(user.session_epoch):
        raise _unauthorized("session expired, signed out or invalid: sign in again")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(403, f"role '{user.role}' may not do this (needs one of: {', '.join(sorted(allowed))})")
        return user

    return check


STAFF = tuple(Role)
OPERATORS = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
StaffUser = Annotated[User, Depends(require_roles(*STAFF))]
OperatorUser = Annotated[User, Depends(require_roles(*OPERATORS))]
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]

#: Who may change a camera's zones: the one rule for the web zone editor and ``PUT /api/v1/cameras/{code}/zones``.
ZONE_EDITORS = (Role.ADMIN, Role.SUPERVISOR)


def may_edit_zones(user: User) -> bool:
    return user.role in {r.value for r in ZONE_EDITORS}


ZoneEditorUser = Annotated[User, Depends(require_roles(*ZONE_EDITORS))]


def get_current_device(request: Request, session: SessionDep, clock: ClockDep) -> EdgeDevice:
    token = _bearer(request)
    if token is None:
        raise _unauthorized("edge devices send Authorization: Bearer <device API key>")
    if not token.startswith(EDGE_PREFIX):
        raise HTTPException(403, "this endpoint is for edge devices")
    # lazyload: the device's cameras only when asked for (ingest checks one camera with a query; selectin
    # loading all of them, each with its road, was a third of the CPU of an ingested event).
    device = session.scalar(select(EdgeDevice).options(lazyload(EdgeDevice.cameras))
                            .where(EdgeDevice.key_hash == sha256_hex(token)))
    if device is None or not device.active:
        raise _unauthorized("unknown or revoked device key")
    return device


CurrentDevice = Annotated[EdgeDevice, Depends(get_current_device)]


def get_current_merchant(request: Request, session: SessionDep, clock: ClockDep,
                         token: str | None = None) -> Merchant:
    """Merchant token from ``Authorization: Bearer`` or from the path/query (``token``: the link form)."""
    raw = _bearer(request) or token
    if raw is None:
        raise _unauthorized("merchants use the link they were sent (or Authorization: Bearer <token>)")
    if not raw.startswith(MERCHANT_PREFIX):
        raise HTTPException(403, "this endpoint is for merchants")
    row = session.scalar(select(MerchantToken).where(MerchantToken.token_hash == sha256_hex(raw)))
    now: datetime = clock.now()
    if row is None or row.revoked_at is not None:
        raise _unauthorized("this link is not valid (revoked or unknown)")
    if row.expires_at <= now:
        raise _unauthorized("this link has expired: ask the city office for a new one")
    row.last_used_at = now
    return row.merchant


CurrentMerchant = Annotated[Merchant, Depends(get_current_merchant)]


#: An id in a URL path: out-of-range values answer 422 instead of overflowing in the database driver.
PathId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="Database id")]


def get_or_404(session: Session, column: Any, value: str, what: str) -> Any:
    """The one row whose unique ``column`` equals ``value`` (e.g. ``Camera.code``), or a 404 naming it."""
    row = session.scalar(select(column.class_).where(column == value))
    if row is None:
        raise HTTPException(404, f"{what} '{value}' not found")
    return row
