"""Staff sign-in and sign-out: the same path as the API login (`api.services.signin`: shared limiter,
argon2 for unknown usernames too) and sign-out that ends the session on the server (session epoch).
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from api.db.models import User
from api.security import client_ip
from api.services.signin import end_sessions, sign_in
from api.web.context import DbDep, PageDep, safe_next
from api.web.security import new_session

router = APIRouter()


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
    state = page.request.app.state
    result = sign_in(db, state.passwords, state.login_limiter, username, password, client_ip(page.request))
    if result.user is None:
        wait = result.retry_after_s
        message = (page.t("login.locked", minutes=max(1, math.ceil(wait / 60))) if wait > 0
                   else page.t("login.failed"))
        return page.render("login.html", status_code=429 if wait > 0 else 401, next=safe_next(next),
                           username=username, error=message)
    # A fresh session (new CSRF token) at sign-in: a cookie planted before cannot ride the new session.
    page.session = new_session(result.user.id, result.user.session_epoch)
    page.new_cookie = True
    return page.redirect(safe_next(next))


@router.post("/logout", include_in_schema=False)
def logout(page: PageDep, db: DbDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    if (refused := page.csrf_refused(csrf_token)) is not None:
        return refused
    user = db.get(User, page.session.uid) if page.session.uid is not None else None
    if user is not None and page.session.epoch == user.session_epoch:
        end_sessions(db, user)  # server-side: a copy of this cookie (or a token of this user) opens nothing
    page.session = new_session(None)
    page.new_cookie = True
    return page.redirect("/login?bye=1")
