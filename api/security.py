"""Secrets: edge API keys and merchant tokens (sha256 of high-entropy random strings), operator passwords
(argon2id) and operator session tokens (signed, time-limited).

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

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
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

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class SessionTokens:
    """Signed operator tokens: ``fu_<itsdangerous payload>``; the user row is checked on every request."""

    def __init__(self, secret_key: str, ttl_s: float) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="frontage-user")
        self._ttl = ttl_s

    def issue(self, user_id: int) -> str:
        return USER_PREFIX + self._s.dumps({"uid": user_id})

    def read(self, token: str) -> int | None:
        if not token.startswith(USER_PREFIX):
            return None
        try:
            data = self._s.loads(token[len(USER_PREFIX):], max_age=self._ttl)
        except (SignatureExpired, BadSignature):
            return None
        uid = data.get("uid") if isinstance(data, dict) else None
        return uid if isinstance(uid, int) else None


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
