"""Staff sign-in and sign-out, one path for the web login and ``POST /api/v1/auth/login``: the shared limiter
(per address + per username, `api.security.LoginLimiter`), argon2 for known and unknown usernames alike,
and the per-user session epoch that makes sign-out end every session on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db.models import User
from api.security import LoginLimiter, Passwords


@dataclass(frozen=True)
class SignIn:
    """The outcome: ``user`` when signed in; else ``retry_after_s`` > 0 when held back, 0 for a wrong guess."""

    user: User | None
    retry_after_s: float = 0.0


def sign_in(session: Session, passwords: Passwords, limiter: LoginLimiter, username: str, password: str,
            ip: str) -> SignIn:
    username = username.strip()
    wait = limiter.locked_for(username, ip)
    if wait > 0:
        return SignIn(None, wait)
    user = session.scalar(select(User).where(User.username == username)) if username else None
    if user is None:
        passwords.burn(password)  # unknown username: same argon2 work, same answer time
        ok = False
    else:
        ok = passwords.verify(user.password_hash, password) and user.active
    if not ok:
        limiter.failed(username, ip)
        return SignIn(None, limiter.locked_for(username, ip))
    limiter.succeeded(username, ip)
    return SignIn(user)


def end_sessions(session: Session, user: User) -> int:
    """Move the user's session epoch on (in SQL: two replicas signing out at once both count): every browser
    session and API token issued before is refused from now on. Returns the new epoch."""
    session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))
    session.flush()
    session.refresh(user)
    return user.session_epoch
