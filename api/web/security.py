"""Browser-side security for the pages: the signed session cookie, session-bound CSRF tokens, the login
rate limit and the security headers.

The session cookie holds only ``{"uid": <user id or None>, "csrf": <random>}``, signed and time-stamped
with itsdangerous (the user row is re-read on every request, so a deactivated user is out at once).
Anonymous visitors (login page, merchant pages) get a cookie too, so every form carries a CSRF token
bound to the cookie; signing in issues a fresh one (no session fixation).

>>> cookies = SessionCookies("x" * 32, ttl_s=60)
>>> value = cookies.dump(WebSession(uid=7, csrf="abc"))
>>> cookies.load(value)
WebSession(uid=7, csrf='abc')
>>> cookies.load(value + "tampered") is None
True
>>> limiter = LoginLimiter(max_failures=2, window_s=60, lockout_s=300)
>>> limiter.failed("ann", "1.2.3.4", now=0.0); limiter.locked_for("ann", "1.2.3.4", now=1.0)
0.0
>>> limiter.failed("ann", "1.2.3.4", now=2.0); limiter.locked_for("ann", "1.2.3.4", now=3.0)
299.0
>>> limiter.locked_for("ann", "5.6.7.8", now=3.0)  # another address is not locked out
0.0
>>> spread = LoginLimiter(max_failures=5, user_max_failures=3, window_s=60, lockout_s=60)
>>> for i in range(3): spread.failed("bob", f"10.0.0.{i}", now=float(i))
>>> spread.locked_for("bob", "10.0.0.99", now=3.0)  # guessing spread over many addresses
59.0
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, Field

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

    cookie_secure: bool = Field(False, title="Secure cookies",
                                description="Send the session cookie only over HTTPS (set behind TLS)")
    session_ttl_s: float = Field(12 * 3600.0, gt=0, title="Session lifetime",
                                 description="A signed-in browser session expires after this many seconds")
    login_max_failures: int = Field(5, ge=1, title="Failures before lockout",
                                    description="Failed sign-ins per username and address within the window")
    login_window_s: float = Field(15 * 60.0, gt=0, title="Failure window",
                                  description="Seconds over which failed sign-ins are counted")
    login_lockout_s: float = Field(15 * 60.0, gt=0, title="Lockout",
                                   description="Seconds a username+address stays locked after too many failures")
    ip_max_failures: int = Field(50, ge=1, title="Failures per address",
                                 description="Failed sign-ins from one address (any username) before it is locked")
    user_max_failures: int = Field(
        25, ge=1, title="Failures per username",
        description="Failed sign-ins for one username from any address before it is locked (guards against "
                    "guessing spread over many addresses, e.g. behind a proxy that forwards client addresses)")


def web_settings_from_env() -> WebSecuritySettings:
    import os

    env = {k[len("FRONTAGE_WEB_"):].lower(): v for k, v in os.environ.items() if k.startswith("FRONTAGE_WEB_")}
    return WebSecuritySettings.model_validate({k: v for k, v in env.items()
                                               if k in WebSecuritySettings.model_fields})


@dataclass(frozen=True)
class WebSession:
    uid: int | None
    csrf: str


class SessionCookies:
    """Signs and checks the session cookie's value."""

    def __init__(self, secret_key: str, ttl_s: float) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="frontage-web-session")
        self.ttl_s = ttl_s

    def dump(self, session: WebSession) -> str:
        return self._s.dumps({"uid": session.uid, "csrf": session.csrf})

    def load(self, value: str | None) -> WebSession | None:
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=self.ttl_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        uid = data.get("uid")
        return WebSession(uid=uid if isinstance(uid, int) else None, csrf=data["csrf"])


def new_session(uid: int | None = None) -> WebSession:
    return WebSession(uid=uid, csrf=secrets.token_urlsafe(24))


def set_session_cookie(response: Response, cookies: SessionCookies, session: WebSession, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, cookies.dump(session), max_age=int(cookies.ttl_s), httponly=True,
                        samesite="lax", secure=secure, path="/")


def check_csrf(session: WebSession | None, submitted: str | None) -> None:
    """Refuse (403) a state-changing request whose token does not match the cookie's."""
    if session is None or not submitted or not hmac.compare_digest(session.csrf, submitted):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and submit the form again")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class LoginLimiter:
    """Failed sign-ins counted per (username, address) and per address; in memory, per process.

    A lockout answers the same message whether or not the user exists (no account enumeration).
    """

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, lockout_s: float = 900.0,
                 ip_max_failures: int = 50, user_max_failures: int = 25) -> None:
        self.max_failures = max_failures
        self.user_max_failures = user_max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.ip_max_failures = ip_max_failures
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, ip: str) -> list[tuple[str, str]]:
        user = username.strip().lower()
        return [(user, ip), ("*", ip), (user, "*")]

    def _limit(self, key: tuple[str, str]) -> int:
        if key[0] == "*":
            return self.ip_max_failures
        return self.user_max_failures if key[1] == "*" else self.max_failures

    def locked_for(self, username: str, ip: str, now: float | None = None) -> float:
        """Seconds left on a lockout of this username+address (or of the address), 0 when none."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return max([self._locked_until.get(k, 0.0) - now for k in self._keys(username, ip)] + [0.0])

    def failed(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in self._keys(username, ip):
                limit = self._limit(key)
                q = self._failures.setdefault(key, deque())
                q.append(now)
                while q and q[0] < now - self.window_s:
                    q.popleft()
                if len(q) >= limit:
                    self._locked_until[key] = now + self.lockout_s
                    q.clear()
            if len(self._failures) > 100_000:  # bounded memory under a spray of usernames
                self._failures.clear()

    def succeeded(self, username: str, ip: str) -> None:
        with self._lock:
            key = (username.strip().lower(), ip)
            self._failures.pop(key, None)
            self._locked_until.pop(key, None)
            self._failures.pop((key[0], "*"), None)


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
