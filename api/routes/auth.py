"""Staff sign-in (argon2 passwords, signed session tokens) and user administration."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from api.db.models import User
from api.deps import AdminUser, ClockDep, CurrentUser, SessionDep
from api.schemas.entities import LoginRequest, TokenPublic, UserCreate, UserPublic
from api.services.registration import create_user

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenPublic, summary="Exchange username + password for a bearer token")
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
        except ValueError as exc:  # e.g. a control character in the username
            raise HTTPException(422, f"username or password: {exc.errors()[0]['msg']}") from None  # type: ignore[attr-defined]
    user = session.scalar(select(User).where(User.username == body.username))
    passwords = request.app.state.passwords
    if user is None or not user.active or not passwords.verify(user.password_hash, body.password):
        raise HTTPException(401, "wrong username or password")
    return TokenPublic(access_token=request.app.state.session_tokens.issue(user.id), role=user.role)


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
