"""Moved: registration lives in `api.services.registration`; the demo's own data in `scripts/demo.py`.

This alias keeps code written against the old name importing while other work in flight moves over;
new code imports `api.services.registration`.
"""

from api.services.registration import (  # noqa: F401
    apply_zones,
    create_device,
    create_user,
    get_or_create_merchant,
    get_or_create_road,
    upsert_camera,
)
