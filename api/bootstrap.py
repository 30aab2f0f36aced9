"""First-run setup for a deployment: migrate, load zones files, create the first admin and an edge device.

Idempotent (safe on every start)::

    python -m api.bootstrap --zones 'zones/*.yaml' --admin-password-env FRONTAGE_ADMIN_PASSWORD \\
        --device edge-box-01 --device-key-env FRONTAGE_DEVICE_KEY

The device key is chosen by the operator (``openssl rand -base64 32``, prefixed ``fe_``) and given to both
this command and the edge box; only its sha256 is stored.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from sqlalchemy import select

from api.clock import Clock
from api.core.config import Settings
from api.db.migrate import upgrade
from api.db.models import Camera, EdgeDevice, User
from api.db.session import make_engine, make_session_factory, session_scope
from api.security import EDGE_PREFIX, Passwords, sha256_hex
from api.services.registration import apply_zones, create_user
from detector.zones.schema import ZonesFileError, load_zones


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", action="append", default=[], help="zones file glob (repeatable)")
    parser.add_argument("--admin-user", default="admin")
    parser.add_argument("--admin-password-env", default="FRONTAGE_ADMIN_PASSWORD",
                        help="environment variable holding the first admin's password")
    parser.add_argument("--device", help="edge device name to create or update")
    parser.add_argument("--device-key-env", default="FRONTAGE_DEVICE_KEY")
    args = parser.parse_args(argv)
    settings = Settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    now = Clock(settings.clock_offset_s).now()
    files = sorted({f for pattern in args.zones for f in glob.glob(pattern)})
    try:
        zones = [load_zones(f) for f in files]
    except ZonesFileError as exc:
        print(f"bootstrap: {exc}", file=sys.stderr)
        return 2
    with session_scope(factory) as s:
        for z in zones:
            apply_zones(s, z, now)
        password = os.environ.get(args.admin_password_env)
        if password and s.scalar(select(User.id).where(User.username == args.admin_user)) is None:
            create_user(s, Passwords(settings.argon2_time_cost, settings.argon2_memory_kib), args.admin_user,
                        password, "admin", now)
            print(f"bootstrap: created admin user '{args.admin_user}'")
        if args.device:
            key = os.environ.get(args.device_key_env, "")
            if not key.startswith(EDGE_PREFIX) or len(key) < 32:
                print(f"bootstrap: ${args.device_key_env} must hold a key starting with '{EDGE_PREFIX}' "
                      "(at least 32 characters)", file=sys.stderr)
                return 2
            device = s.scalar(select(EdgeDevice).where(EdgeDevice.name == args.device))
            if device is None:
                device = EdgeDevice(name=args.device, key_prefix=key[:10], key_hash=sha256_hex(key), active=True,
                                    created_at=now)
                s.add(device)
            device.key_hash, device.key_prefix = sha256_hex(key), key[:10]
            codes = {z.camera for z in zones}
            device.cameras = list(s.scalars(select(Camera).where(Camera.code.in_(codes)))) if codes else device.cameras
            print(f"bootstrap: device '{args.device}' reports for {sorted(c.code for c in device.cameras)}")
    engine.dispose()
    print(f"bootstrap: {len(zones)} zones file(s) applied")
    return 0


def cli() -> int:
    from sqlalchemy.exc import OperationalError

    try:
        return main()
    except OperationalError as exc:
        print(f"bootstrap: database unavailable: {str(exc.orig or exc).splitlines()[0]}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(cli())
