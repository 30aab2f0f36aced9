"""Browser-side security for the pages: the signed session cookie, session-bound CSRF tokens and the
security headers. The sign-in limiter is `api.security.LoginLimiter`, one per app, shared with the API login.

The session cookie holds only ``{"uid": <user id or None>, "ep": <the user's session epoch>, "csrf": <random>}``,
signed and time-stamped with itsdangerous. The user row is re-read on every request: a deactivated user is out
at once, and signing out moves the user's session epoch on, so a copy of the old cookie opens nothing.
Anonymous visitors (login page, merchant pages) get a cookie too, so every form carries a CSRF token bound to
the cookie; signing in issues a fresh one (no session fixation).

>>> cookies = SessionCookies("x" * 32, ttl_s=60)
>>> value = cookies.dump(WebSession(uid=7, csrf="abc", epoch=2))
>>> cookies.load(value)
WebSession(uid=7, csrf='abc', epoch=2)
>>> cookies.load(value + "tampered") is None
True
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, Field

from api.security import LoginLimiter, client_ip

__all__ = ["LoginLimiter", "SessionCookies", "WebSecuritySettings", "WebSession", "apply_security_headers",
           "check_csrf", "client_ip", "is_https", "new_session", "set_session_cookie", "web_settings_from_env"]

SESSION_COOKIE = "frontage_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

#: No inline scripts or styles anywhere: every script and stylesheet is a file under /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'")


class WebSecuritySettings(BaseModel):
    """Knobs of the web pages' security (read from ``FRONTAGE_WEB_*`` by `web_settings_from_env`)."""

    cookie_secure: bool = Field(False, title="Always Secure cookies",
                                description="Send the session cookie only over HTTPS even when the request "
                                            "does not say so (cookies are Secure on every HTTPS request anyway, "
                                            "including HTTPS at the trusted proxy)")
    session_ttl_s: float = Field(12 * 3600.0, gt=0, title="Session lifetime",
                                 description="A signed-in browser session expires after this many seconds")


def web_settings_from_env() -> WebSecuritySettings:
    import os

    env = {k[len("FRONTAGE_WEB_"):].lower(): v for k, v in os.environ.items() if k.startswith("FRONTAGE_WEB_")}
    return WebSecuritySettings.model_validate({k: v for k, v in env.items()
                                               if k in WebSecuritySettings.model_fields})


@dataclass(frozen=True)
class WebSession:
    uid: int | None
    csrf: str
    epoch: int = 0


class SessionCookies:
    """Signs and checks the session cookie's value."""

    def __init__(self, secret_key: str, ttl_s: float) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="frontage-web-session")
        self.ttl_s = ttl_s

    def dump(self, session: WebSession) -> str:
        return self._s.dumps({"uid": session.uid, "ep": session.epoch, "csrf": session.csrf})

    def load(self, value: str | None) -> WebSession | None:
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=self.ttl_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        uid, epoch = data.get("uid"), data.get("ep", 0)
        return WebSession(uid=uid if isinstance(uid, int) else None, csrf=data["csrf"],
                          epoch=epoch if isinstance(epoch, int) else -1)


def new_session(uid: int | None = None, epoch: int = 0) -> WebSession:
    return WebSession(uid=uid, csrf=secrets.token_urlsafe(24), epoch=epoch)


def is_https(request: Request) -> bool:
    """The browser reached us over HTTPS: directly, or at the trusted proxy (uvicorn's proxy headers rewrite
    the scheme from X-Forwarded-Proto only for addresses in forwarded_allow_ips)."""
    return request.url.scheme in ("https", "wss")


def set_session_cookie(response: Response, cookies: SessionCookies, session: WebSession, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, cookies.dump(session), max_age=int(cookies.ttl_s), httponly=True,
                        samesite="lax", secure=secure, path="/")


def check_csrf(session: WebSession | None, submitted: str | None) -> None:
    """Refuse (403) a state-changing request whose token does not match the cookie's."""
    if session is None or not submitted or not hmac.compare_digest(session.csrf, submitted):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and submit the form again")


def apply_security_headers(response: Response, cache: bool = False) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Merchant links carry their token in the path: never leak it in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "geolocation=(), microphone=(), camera=(self)"
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response
