"""Staff sign-in and sign-out (argon2 password check against the users table, via `api.security`)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlalchemy import select

from api.db.models import User
from api.security import Passwords
from api.web.context import DbDep, PageDep, safe_next
from api.web.security import client_ip, new_session

router = APIRouter()

# A real argon2 hash to verify against when the username is unknown: the answer takes as long either way.
_DUMMY_HASH: str | None = None


def _passwords(page: PageDep) -> Passwords:
    settings = page.request.app.state.settings
    hasher = getattr(page.request.app.state, "passwords", None)
    return hasher or Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)


@router.get("/login", include_in_schema=False)
def login_form(page: PageDep, next: str | None = None) -> Response:
    return page.render("login.html", next=safe_next(next), username="", error=None,
                       flash=page.t("login.logged_out") if page.request.query_params.get("bye") else None)


@router.post("/login", include_in_schema=False)
def login(page: PageDep, db: DbDep, username: Annotated[str, Form(max_length=100)] = "",
          password: Annotated[str, Form(max_length=1000)] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/queue") -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    limiter = page.state.limiter
    ip = client_ip(page.request)
    wait = limiter.locked_for(username, ip)
    if wait > 0:
        return page.render("login.html", status_code=429, next=safe_next(next), username=username,
                           error=page.t("login.locked", minutes=max(1, math.ceil(wait / 60))))
    user = db.scalar(select(User).where(User.username == username.strip())) if username.strip() else None
    hasher = _passwords(page)
    if user is not None:
        ok = hasher.verify(user.password_hash, password) and user.active
    else:
        global _DUMMY_HASH
        _DUMMY_HASH = _DUMMY_HASH or hasher.hash("not-a-user-password")
        hasher.verify(_DUMMY_HASH, password)
        ok = False
    if not ok:
        limiter.failed(username, ip)
        wait = limiter.locked_for(username, ip)
        message = (page.t("login.locked", minutes=max(1, math.ceil(wait / 60))) if wait > 0
                   else page.t("login.failed"))
        return page.render("login.html", status_code=429 if wait > 0 else 401, next=safe_next(next),
                           username=username, error=message)
    limiter.succeeded(username, ip)
    assert user is not None
    # A fresh session (new CSRF token) at sign-in: a cookie planted before cannot ride the new session.
    page.session = new_session(user.id)
    page.new_cookie = True
    return page.redirect(safe_next(next))


@router.post("/logout", include_in_schema=False)
def logout(page: PageDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    page.session = new_session(None)
    page.new_cookie = True
    return page.redirect("/login?bye=1")
