"""Service settings: every knob of the case service, read from ``FRONTAGE_*`` environment variables.

>>> Settings(database_url="sqlite://").fix_deadline_for("exposed_garbage")
3600.0
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.core.standing import StandingRules

_DEFAULT_DEADLINES: dict[str, float] = {
    "out_of_store_trading": 2 * 3600.0,
    "exposed_garbage": 3600.0,
    "disorderly_parking": 2 * 3600.0,
    "stacked_materials": 4 * 3600.0,
    "street_vending": 3600.0,
}


class SecretKeyMissing(RuntimeError):
    """The service was asked to start with no key to sign sessions and tokens with."""


SECRET_KEY_HELP = (
    "FRONTAGE_SECRET_KEY is not set: the case service signs staff sessions and API tokens with it, so it will "
    "not start without one. Set it to a long random value shared by every replica, e.g. "
    "FRONTAGE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))'). "
    "Demo and tests only: FRONTAGE_EPHEMERAL_SECRET_KEY=true signs with a random key made at start.")


class Settings(BaseSettings):
    """Case-service configuration. Environment: ``FRONTAGE_<FIELD>`` (e.g. ``FRONTAGE_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="FRONTAGE_", extra="ignore")
    _ephemeral_key: str | None = PrivateAttr(default=None)

    database_url: Annotated[str, Field(
        title="Database URL",
        description="SQLAlchemy URL: sqlite:///var/frontage.db or postgresql+psycopg://user@host/db")] = (
        "sqlite:///var/frontage.db")
    db_pool_size: Annotated[int, Field(ge=1, description="Connections kept per process (PostgreSQL)")] = 5
    auto_migrate: Annotated[bool, Field(
        description="Run Alembic migrations to head when the app starts")] = True
    secret_key: Annotated[str | None, Field(
        min_length=32, title="Secret key",
        description="Signs staff sessions, API tokens and flash messages; a long random value shared by every "
                    "replica. Required: the service refuses to start without it (see ephemeral_secret_key)")] = None
    ephemeral_secret_key: Annotated[bool, Field(
        title="Ephemeral secret key (demo/tests)",
        description="With no secret_key, sign with a random key made when the app starts: sessions end with "
                    "the process and are not shared between workers. Demo and tests only")] = False
    user_token_ttl_s: Annotated[float, Field(gt=0, description="Lifetime of an operator login token")] = 12 * 3600.0
    merchant_token_ttl_s: Annotated[float, Field(gt=0, description="Lifetime of a merchant link token")] = 14 * 86400.0
    argon2_time_cost: Annotated[int, Field(ge=1, description="argon2 time cost for passwords")] = 2
    argon2_memory_kib: Annotated[int, Field(ge=8, description="argon2 memory cost (KiB) for passwords")] = 19456
    public_url: Annotated[str, Field(
        description="Base URL people reach the service at; merchant links are {public_url}/m/{token}")] = (
        "http://127.0.0.1:8000")
    forwarded_allow_ips: Annotated[str, Field(
        title="Trusted proxies",
        description="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted (client address "
                    "for login limits, HTTPS for Secure cookies); never '*'")] = "127.0.0.1"

    # Sign-in limits (one limiter for the web login and POST /api/v1/auth/login; in memory, per process)
    login_max_failures: Annotated[int, Field(
        ge=1, title="Failures per username and address",
        description="Failed sign-ins of one username from one address within the window before that pair is "
                    "held back")] = 5
    login_ip_max_failures: Annotated[int, Field(
        ge=1, title="Failures per address",
        description="Failed sign-ins from one address (any username) within the window before it is held back")] = 50
    login_user_max_failures: Annotated[int, Field(
        ge=1, title="Failures per username",
        description="Failed sign-ins of one username from any address within the window before it is held back "
                    "for addresses it never signed in from (its known addresses stay open)")] = 25
    login_window_s: Annotated[float, Field(
        gt=0, title="Failure window", description="Seconds over which failed sign-ins are counted")] = 15 * 60.0
    login_lockout_s: Annotated[float, Field(
        gt=0, title="First hold-back",
        description="Seconds of the first hold-back; each further one of the same key doubles it")] = 15 * 60.0
    login_lockout_max_s: Annotated[float, Field(
        gt=0, title="Longest hold-back", description="The doubling stops here")] = 24 * 3600.0

    # Request bodies (checked before a byte is read: Content-Length and streamed bytes)
    max_body_bytes: Annotated[int, Field(
        gt=0, title="Default body limit",
        description="Largest request body of a route without its own limit (JSON, forms)")] = 2 * 1024 * 1024
    max_login_body_bytes: Annotated[int, Field(
        gt=0, title="Sign-in body limit",
        description="Largest body of the sign-in and sign-out endpoints (anonymous)")] = 16 * 1024
    max_upload_files: Annotated[int, Field(
        gt=0, title="Files per upload", description="Evidence files one edge event may carry")] = 8

    # Ingest
    attach_window_s: Annotated[float, Field(
        ge=0, description="A new episode in the same camera+zone+category this soon after the open case's "
        "last sighting attaches to that case instead of opening a new one")] = 3600.0
    evidence_max_bytes: Annotated[int, Field(gt=0, description="Largest evidence file accepted")] = 10 * 1024 * 1024
    evidence_max_pixels: Annotated[int, Field(
        gt=0, description="Largest image (width x height) accepted: guards against decompression bombs")] = 40_000_000
    evidence_store: Annotated[Literal["db", "dir"], Field(
        description="Where evidence bytes live: 'db' (readable by every replica) or 'dir' (a shared volume)")] = "db"
    evidence_dir: Annotated[Path, Field(description="Directory for evidence when evidence_store='dir'")] = Path(
        "var/evidence")
    retention_days: Annotated[float, Field(
        gt=0, description="Evidence of closed or rejected cases older than this is purged")] = 180.0

    # Workflow
    auto_confirm_threshold: Annotated[float | None, Field(
        ge=0, le=1, description="Confirm new cases automatically at or above this confidence (None: off)")] = None
    fix_deadlines_s: Annotated[dict[str, float], Field(
        description="Seconds a merchant has to fix, per category")] = dict(_DEFAULT_DEADLINES)
    default_fix_deadline_s: Annotated[float, Field(
        gt=0, description="Fix deadline for a category missing from fix_deadlines_s")] = 2 * 3600.0
    escalation_sla_s: Annotated[dict[int, float], Field(
        description="Seconds each enforcement level (1 street, 2 district, 3 city) has before the next")] = {
        1: 24 * 3600.0, 2: 48 * 3600.0, 3: 72 * 3600.0}
    repeat_offender_cases: Annotated[int, Field(
        ge=1, description="A merchant with this many confirmed cases in the window skips self-rectification")] = 3
    repeat_offender_window_days: Annotated[float, Field(gt=0, description="Window for repeat offences")] = 30.0
    auto_close_verified: Annotated[bool, Field(
        description="Close a case as soon as it is verified (camera clear or operator)")] = True

    # Scheduler, clock, notifications
    scheduler_enabled: Annotated[bool, Field(description="Run deadlines/escalations/outbox inside the service")] = True
    scheduler_interval_s: Annotated[float, Field(gt=0, description="Seconds between scheduler passes")] = 10.0
    scheduler_batch: Annotated[int, Field(gt=0, description="Rows locked and processed per scheduler batch")] = 100
    clock_offset_s: Annotated[float, Field(
        description="Added to the wall clock (demo and tests move time forward with it)")] = 0.0
    allow_clock_control: Annotated[bool, Field(
        description="Expose POST /api/v1/admin/clock to admins (demo/test only, never production)")] = False
    notify_webhook_url: Annotated[str | None, Field(
        description="POST notifications here as JSON; unset: notifications are written to the log")] = None
    notify_max_attempts: Annotated[int, Field(ge=1, description="Webhook attempts before a message is dead")] = 6
    notify_backoff_s: Annotated[float, Field(gt=0, description="First retry delay; doubles each attempt")] = 30.0
    notify_timeout_s: Annotated[float, Field(gt=0, description="Webhook request timeout")] = 5.0

    # Merchant registry, city dispatch, reports (api/services/registry_import.py, api/dispatch.py, api/services/reports.py)
    registry_max_rows: Annotated[int, Field(
        gt=0, title="Registry import row limit", description="Most rows one registry import may hold")] = 50_000
    registry_max_bytes: Annotated[int, Field(
        gt=0, title="Registry import size limit", description="Largest registry file (CSV or XLSX) accepted")] = (
        20 * 1024 * 1024)
    registry_phone_region: Annotated[str, Field(
        pattern=r"^[A-Z]{2}$", title="Phone region",
        description="ISO country whose numbering plan reads phones written without +country (CN: 138 0013 8000)")] = "CN"
    dispatch_webhook_url: Annotated[str | None, Field(
        title="City dispatch webhook", description="Escalated cases are POSTed here (docs/DISPATCH.md); unset: off")] = None
    dispatch_webhook_secret: Annotated[str | None, Field(
        min_length=16, title="City dispatch secret",
        description="HMAC-SHA256 key signing each dispatch body (X-Frontage-Signature header)")] = None
    dispatch_at_level: Annotated[int | None, Field(
        ge=1, le=3, title="Automatic dispatch level",
        description="Escalations reaching this level are dispatched automatically; None: only by a supervisor")] = 1
    privacy_vehicle_region: Annotated[Literal["lower", "whole"], Field(
        title="Vehicle blur", description="What of a vehicle is blurred in evidence shown outside the staff "
        "console: its lower part (where the plates are) or all of it")] = "lower"
    standing_rules: Annotated[StandingRules, Field(
        title="Merchant standing rules",
        description="Green / yellow / red thresholds over a rolling window (docs/STATS.md)")] = StandingRules()
    report_cjk_font: Annotated[Path | None, Field(
        title="CJK font for PDF reports",
        description="TTF/OTF/TTC file for Chinese text in PDF reports; unset: the Debian font packages' paths are tried")] = (
        None)

    def signing_key(self) -> str:
        """The key that signs sessions and tokens; `SecretKeyMissing` (naming the variable) when there is none."""
        if self.secret_key:
            return self.secret_key
        if self.ephemeral_secret_key:
            # Made once per Settings object (one app): never a constant from the source.
            if self._ephemeral_key is None:
                self._ephemeral_key = secrets.token_urlsafe(48)
            return self._ephemeral_key
        raise SecretKeyMissing(SECRET_KEY_HELP)

    @property
    def upload_body_bytes(self) -> int:
        """Largest multipart body of an edge event or a merchant photo: the files plus the event JSON."""
        return self.evidence_max_bytes * self.max_upload_files + self.max_body_bytes

    def fix_deadline_for(self, category: str) -> float:
        return float(self.fix_deadlines_s.get(category, self.default_fix_deadline_s))

    def sla_for(self, level: int) -> float:
        return float(self.escalation_sla_s.get(level, max(self.escalation_sla_s.values())))


@lru_cache
def get_settings() -> Settings:
    return Settings()
