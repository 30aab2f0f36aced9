"""Secrets: edge API keys and merchant tokens (sha256 of high-entropy random strings), operator passwords
(argon2id), operator session tokens (signed, time-limited, bound to the user's session epoch) and the one
sign-in limiter shared by the web login and the API login.

The three bearer kinds carry a prefix, so one ``Authorization`` header tells which kind it is:
``fe_`` edge device key, ``fm_`` merchant token, ``fu_`` operator session.

>>> key = new_secret("fe_")
>>> key.startswith("fe_") and len(key) > 40 and sha256_hex(key) != key
True
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

EDGE_PREFIX = "fe_"
MERCHANT_PREFIX = "fm_"
USER_PREFIX = "fu_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


class Passwords:
    def __init__(self, time_cost: int = 2, memory_kib: int = 19456) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Verify against a dummy hash of the same cost: an unknown username takes as long as a known one."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self.verify(self._dummy_hash, password)


@dataclass(frozen=True)
class SessionClaim:
    """Who a signed session (token or cookie) speaks for, and the user's session epoch when it was issued."""

    uid: int
    epoch: int

    def is_current(self, user_epoch: int) -> bool:
        """Signing out (or an admin's revoke) moves the user's epoch on: every older session is dead."""
        return self.epoch == user_epoch


class SessionTokens:
    """Signed operator tokens: ``fu_<itsdangerous payload {uid, ep}>``; the user row (active, session epoch)
    is checked on every request, so a revoked token is refused although its signature is still good."""

    def __init__(self, secret_key: str, ttl_s: float) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="frontage-user")
        self._ttl = ttl_s

    def issue(self, user_id: int, epoch: int = 0) -> str:
        return USER_PREFIX + self._s.dumps({"uid": user_id, "ep": epoch})

    def read(self, token: str) -> SessionClaim | None:
        if not token.startswith(USER_PREFIX):
            return None
        try:
            data = self._s.loads(token[len(USER_PREFIX):], max_age=self._ttl)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict):
            return None
        uid, epoch = data.get("uid"), data.get("ep", 0)
        return SessionClaim(uid, epoch) if isinstance(uid, int) and isinstance(epoch, int) else None


def client_ip(request: Request) -> str:
    """The caller's address: uvicorn puts the X-Forwarded-For client here only for trusted proxies
    (forwarded_allow_ips), so a client cannot pick its own address for the login limiter."""
    return request.client.host if request.client else "unknown"


class LoginLimiter:
    """Failed sign-ins, counted per (username, address), per address and per username; one instance serves the
    web login and ``POST /api/v1/auth/login``. In memory, per process: each worker counts on its own, so with
    N workers an attacker gets at most N times the allowance (documented in RELIABILITY.md).

    * (username, address) and address: held back after their limits (an attacker at one address stops
      himself, nobody else).
    * username from anywhere: guessing spread over many addresses holds the username back only for addresses
      it never signed in from, so a stranger cannot lock staff out of their usual machines.
    * Each further hold-back of the same key doubles (``lockout_s`` .. ``lockout_max_s``).

    A hold-back answers the same whether or not the user exists (no account enumeration).

    >>> limiter = LoginLimiter(max_failures=2, window_s=60, lockout_s=300)
    >>> limiter.failed("ann", "1.2.3.4", now=0.0); limiter.locked_for("ann", "1.2.3.4", now=1.0)
    0.0
    >>> limiter.failed("ann", "1.2.3.4", now=2.0); limiter.locked_for("ann", "1.2.3.4", now=3.0)
    299.0
    >>> limiter.locked_for("ann", "5.6.7.8", now=3.0)  # another address is not held back
    0.0
    """

    #: Keys kept at most (failure queues, hold-backs, known addresses): bounded memory under a spray.
    MAX_KEYS = 100_000

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, lockout_s: float = 900.0,
                 ip_max_failures: int = 50, user_max_failures: int = 25, lockout_max_s: float = 86400.0,
                 known_for_s: float = 90 * 86400.0) -> None:
        self.max_failures = max_failures
        self.ip_max_failures = ip_max_failures
        self.user_max_failures = user_max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.lockout_max_s = lockout_max_s
        self.known_for_s = known_for_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._strikes: dict[tuple[str, str], int] = {}
        self._known: dict[tuple[str, str], float] = {}  # (username, address) -> last successful sign-in
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, ip: str) -> list[tuple[str, str]]:
        user = username.strip().lower()
        return [(user, ip), ("*", ip), (user, "*")]

    def _limit(self, key: tuple[str, str]) -> int:
        if key[0] == "*":
            return self.ip_max_failures
        return self.user_max_failures if key[1] == "*" else self.max_failures

    def locked_for(self, username: str, ip: str, now: float | None = None) -> float:
        """Seconds this username may not sign in from this address, 0 when it may."""
        now = time.monotonic() if now is None else now
        user_ip, any_user, user_anywhere = self._keys(username, ip)
        with self._lock:
            keys = [user_ip, any_user]
            known = self._known.get(user_ip)
            if known is None or known < now - self.known_for_s:
                keys.append(user_anywhere)
            return max([self._locked_until.get(k, 0.0) - now for k in keys] + [0.0])

    def failed(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) > self.MAX_KEYS or len(self._locked_until) > self.MAX_KEYS:
                self._failures.clear()
                self._strikes.clear()
            for key in self._keys(username, ip):
                q = self._failures.setdefault(key, deque())
                q.append(now)
                while q and q[0] < now - self.window_s:
                    q.popleft()
                if len(q) >= self._limit(key):
                    strikes = self._strikes.get(key, 0)
                    self._strikes[key] = strikes + 1
                    hold = min(self.lockout_s * 2 ** strikes, self.lockout_max_s)
                    self._locked_until[key] = now + hold
                    q.clear()

    def succeeded(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        user_ip, _, _ = self._keys(username, ip)
        with self._lock:
            self._failures.pop(user_ip, None)
            self._locked_until.pop(user_ip, None)
            self._strikes.pop(user_ip, None)
            if len(self._known) > self.MAX_KEYS:
                self._known.clear()
            self._known[user_ip] = now

    def reset(self) -> None:
        """Forget everything (tests that share one app between them)."""
        with self._lock:
            for table in (self._failures, self._locked_until, self._strikes, self._known):
                table.clear()


_SECRET_IN_TEXT = re.compile(r"\b(fe_|fm_|fu_)[A-Za-z0-9_-]{8,}")


def redact(text: str) -> str:
    """Hide Frontage secrets (device keys, merchant link tokens, session tokens) in a log line.

    >>> redact("GET /m/fm_abcdefghijklmnop/cases HTTP/1.1")
    'GET /m/fm_***/cases HTTP/1.1'
    """
    return _SECRET_IN_TEXT.sub(r"\1***", text)


class RedactSecretsFilter(logging.Filter):
    """Log filter: merchant link tokens travel in URL paths, so access-log lines must be redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "api"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
