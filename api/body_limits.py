"""Request bodies limited per route before they are read, and uploads authenticated before they are spooled.

A pure ASGI middleware (outermost, so nothing reads a byte before it): a declared ``Content-Length`` over the
route's limit answers 413 at once; a streamed (chunked) body is counted as it arrives and cut with a 413 at
the limit. Routes that take uploads check the caller's credential (edge device key, merchant link token,
staff token) against the database first, so an anonymous 300 MiB post is refused unread instead of being
spooled to disk before the route's own token or CSRF check runs.

>>> rule_for("POST", "/api/v1/auth/login").name
'sign-in'
>>> rule_for("POST", "/m/fm_abc/cases/7/fixed").credential
'merchant'
>>> rule_for("GET", "/queue") is None
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from api.core.config import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Credential = Literal["edge", "merchant", "staff"]

_MiB = 1024 * 1024


@dataclass(frozen=True)
class BodyRule:
    """One kind of route: its body limit and the credential an upload to it must carry."""

    name: str
    pattern: re.Pattern[str]
    limit: Callable[[Settings], int]
    credential: Credential | None = None


def _model_limit(_: Settings) -> int:
    from api.routes.models import MAX_MODEL_BYTES  # the route's own limit, plus room for nothing else

    return MAX_MODEL_BYTES + 64 * 1024


RULES: tuple[BodyRule, ...] = (
    BodyRule("sign-in", re.compile(r"^/(api/v1/auth/)?(login|logout)$"), lambda s: s.max_login_body_bytes),
    BodyRule("edge event", re.compile(r"^/api/v1/events$"), lambda s: s.upload_body_bytes, "edge"),
    BodyRule("edge event batch", re.compile(r"^/api/v1/events/batch$"), lambda s: 4 * s.max_body_bytes, "edge"),
    BodyRule("merchant report", re.compile(r"^/api/v1/merchant(/t/[^/]+)?/cases/[^/]+/report-fixed$"),
             lambda s: s.evidence_max_bytes + s.max_body_bytes, "merchant"),
    BodyRule("merchant page report", re.compile(r"^/m/[^/]+/cases/[^/]+/fixed$"),
             lambda s: s.evidence_max_bytes + s.max_body_bytes, "merchant"),
    BodyRule("model file", re.compile(r"^/api/v1/models/[^/]+/file$"), _model_limit, "staff"),
    BodyRule("merchant registry import", re.compile(r"^/api/v1/registry/merchants/import$"),
             lambda s: int(getattr(s, "registry_max_bytes", 16 * _MiB)) + s.max_body_bytes, "staff"),
)
DEFAULT_RULE = BodyRule("request", re.compile(""), lambda s: s.max_body_bytes)
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def rule_for(method: str, path: str) -> BodyRule | None:
    """The rule for a request that may carry a body; None for one that may not (GET, HEAD, OPTIONS)."""
    if method.upper() not in _BODY_METHODS:
        return None
    return next((r for r in RULES if r.pattern.match(path)), DEFAULT_RULE)


def _too_large(name: str, limit: int) -> str:
    return f"{name} body is larger than the limit of {limit} bytes"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _token(scope: Scope) -> str | None:
    """The bearer from ``Authorization``, or a merchant link token in the path (``/t/<token>``, ``/m/<token>``)."""
    header = _header(scope, b"authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    match = re.match(r"^/(?:api/v1/merchant/t|m)/([^/]+)/", scope.get("path", ""))
    return match.group(1) if match else None


def check_credential(app: Any, kind: Credential, token: str | None) -> Literal["ok", "other kind", "invalid"]:
    """Whether ``token`` is a live credential of this kind (the route checks roles and ownership itself);
    "other kind" for another kind's bearer (the routes answer those 403, and so does this)."""
    from api.security import EDGE_PREFIX, MERCHANT_PREFIX, USER_PREFIX

    prefixes = {"edge": EDGE_PREFIX, "merchant": MERCHANT_PREFIX, "staff": USER_PREFIX}
    if token and any(token.startswith(p) for k, p in prefixes.items() if k != kind):
        return "other kind"
    return "ok" if token and token.startswith(prefixes[kind]) and _live(app, kind, token) else "invalid"


def _live(app: Any, kind: Credential, token: str) -> bool:
    from api.db.models import EdgeDevice, MerchantToken, User
    from api.security import sha256_hex

    with app.state.session_factory() as session:
        if kind == "edge":
            device = session.scalar(select(EdgeDevice).where(EdgeDevice.key_hash == sha256_hex(token)))
            return device is not None and device.active
        if kind == "merchant":
            row = session.scalar(select(MerchantToken).where(MerchantToken.token_hash == sha256_hex(token)))
            return row is not None and row.revoked_at is None and row.expires_at > app.state.clock.now()
        claim = app.state.session_tokens.read(token)
        user = session.get(User, claim.uid) if claim is not None else None
        return user is not None and user.active and claim is not None and claim.is_current(user.session_epoch)


class BodyLimitMiddleware:
    """Per-route body limits and pre-spool authentication (see the module docstring)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = rule_for(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        limit = rule.limit(self.settings)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _answer(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _answer(send, 413, _too_large(rule.name, limit))
                return
        if rule.credential is not None:
            try:
                verdict = await anyio.to_thread.run_sync(check_credential, scope["app"], rule.credential,
                                                         _token(scope))
            except DBAPIError:
                await _answer(send, 503, "database unavailable; retry shortly", {"Retry-After": "5"})
                return
            if verdict == "other kind":
                await _answer(send, 403, f"this endpoint is for {rule.credential} credentials")
                return
            if verdict == "invalid":
                status = 404 if scope.get("path", "").startswith("/m/") else 401  # the page's "unknown link"
                await _answer(send, status, f"{rule.name}: sign in first (valid {rule.credential} credential "
                                            "needed before the upload is read)",
                              {"WWW-Authenticate": "Bearer"} if status == 401 else None)
                return
        received, too_large, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Tell the app the client is gone (it stops reading, whatever middleware reads for it);
                    # the 413 below replaces whatever it answers to that.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                if not started:
                    started = True
                    await _answer(send, 413, _too_large(rule.name, limit))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _answer(send, 413, _too_large(rule.name, limit))


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
