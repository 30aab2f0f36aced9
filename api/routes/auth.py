"""Staff sign-in (argon2 passwords, signed session tokens), sign-out and session revocation (the user's
session epoch, `api.services.signin`), and user administration."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.db.models import User
from api.deps import AdminUser, ClockDep, CurrentUser, SessionDep, get_or_404
from api.schemas.entities import LoginRequest, TokenPublic, UserCreate, UserPublic
from api.security import client_ip
from api.services.registration import create_user
from api.services.signin import end_sessions, sign_in

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenPublic, summary="Exchange username + password for a bearer token",
             responses={401: {"description": "Wrong username or password"},
                        429: {"description": "Too many failed sign-ins (shared with the web login): Retry-After"}})
async def login(request: Request, session: SessionDep) -> TokenPublic:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = LoginRequest.model_validate_json(await request.body())
        except ValueError:
            raise HTTPException(422, "send {\"username\": ..., \"password\": ...}") from None
    else:
        form = await request.form()
        try:
            body = LoginRequest(username=str(form.get("username") or ""), password=str(form.get("password") or ""))
        except ValidationError as exc:  # e.g. a control character in the username
            raise HTTPException(422, f"username or password: {exc.errors()[0]['msg']}") from None
    state = request.app.state
    # argon2 off the event loop: a burst of sign-ins must not stall every other request of this worker.
    result = await run_in_threadpool(sign_in, session, state.passwords, state.login_limiter, body.username,
                                     body.password, client_ip(request))
    if result.user is None:
        if result.retry_after_s > 0:
            wait = math.ceil(result.retry_after_s)
            raise HTTPException(429, f"too many failed sign-ins: try again in {max(1, math.ceil(wait / 60))} "
                                     "minute(s)", headers={"Retry-After": str(wait)})
        raise HTTPException(401, "wrong username or password")
    user = result.user
    return TokenPublic(access_token=state.session_tokens.issue(user.id, user.session_epoch), role=user.role)


@router.post("/logout", status_code=204, summary="Sign out: ends every session and token of the caller")
def logout(user: CurrentUser, session: SessionDep) -> Response:
    end_sessions(session, user)
    return Response(status_code=204)


@router.post("/users/{username}/revoke-sessions", response_model=UserPublic,
             summary="End every browser session and API token of a user (admin)")
def revoke_sessions(username: str, session: SessionDep, user: AdminUser) -> User:
    target = get_or_404(session, User.username, username, "user")
    end_sessions(session, target)
    return target


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> User:
    return user


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep, user: AdminUser) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


@router.post("/users", response_model=UserPublic, status_code=201)
def add_user(body: UserCreate, request: Request, session: SessionDep, user: AdminUser, clock: ClockDep) -> User:
    if session.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise HTTPException(409, f"user '{body.username}' exists")
    return create_user(session, request.app.state.passwords, body.username, body.password, body.role.value,
                       clock.now(), body.full_name)
