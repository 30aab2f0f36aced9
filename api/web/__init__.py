"""The web pages: operator console (login, queue, case page, cameras and zone editor, dashboard) and the
merchant page ``/m/{token}``. Server-rendered Jinja2, one small script and one stylesheet under /static.

`api.main.create_app` includes `router` and calls `setup` when this package exists, so ``frontage serve``
(or ``make demo``) serves the pages: open ``http://127.0.0.1:8000/login``. Merchants open the link in
their notice, ``{public_url}/m/<token>``.

Settings beyond the service's own (``FRONTAGE_*``): ``FRONTAGE_WEB_COOKIE_SECURE=1`` to send the session
cookie only over HTTPS even when a request does not say so, ``FRONTAGE_WEB_SESSION_TTL_S`` (see
`api.web.security.WebSecuritySettings`) and ``FRONTAGE_WEB_DISPLAY_TZ`` (default Asia/Shanghai). Sign-in limits
are the service's (``FRONTAGE_LOGIN_*``, `api.core.config`): one limiter serves the web and the API login.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from api.web import auth, cameras, cases, dashboard, merchant, queue, registry, reports
from api.web.context import build_state

STATIC_DIR = Path(__file__).resolve().parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png"}

router = APIRouter(include_in_schema=False)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    """Only the files that ship in ``api/web/static`` (a flat folder), by exact name: no path tricks."""
    files = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file() and p.suffix in _TYPES}
    path = files.get(name)
    if path is None:
        raise HTTPException(404, "not found")
    data = path.read_bytes()
    return Response(data, media_type=_TYPES[path.suffix], headers={
        "Cache-Control": "public, max-age=300", "ETag": '"' + hashlib.sha256(data).hexdigest()[:16] + '"',
        "X-Content-Type-Options": "nosniff"})


for _module in (auth, queue, cases, cameras, dashboard, merchant, reports, registry):
    router.include_router(_module.router)


def setup(app: Any) -> None:
    """Called by `api.main.create_app`: build the session signer and login limiter once, up front."""
    app.state.web = build_state(app)
