"""What every page handler needs: language, the signed-in user, the CSRF token and a `render` that sets the
cookies and security headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from api.db.models import User
from api.deps import get_session
from api.i18n import DEFAULT_LANGUAGE, LANG_COOKIE, Translator, negotiate
from api.web.security import (
    SESSION_COOKIE,
    LoginLimiter,
    SessionCookies,
    WebSecuritySettings,
    WebSession,
    apply_security_headers,
    check_csrf,
    is_https,
    new_session,
    set_session_cookie,
    web_settings_from_env,
)

HERE = Path(__file__).resolve().parent
# jinja2.ext.i18n gives templates `_("key", name=...)` and `{% trans %}key{% endtrans %}` (keys without
# placeholders) next to `t(...)`. One environment serves every language: `render` passes this request's
# `gettext`/`ngettext` in the context, which the extension looks up before the globals installed here (zh-CN),
# so concurrent requests in two languages cannot see each other's catalog.
TEMPLATES = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
_DEFAULT_TRANSLATOR = Translator(DEFAULT_LANGUAGE)
TEMPLATES.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
    _DEFAULT_TRANSLATOR, _DEFAULT_TRANSLATOR.translations.ngettext, newstyle=False)


@dataclass
class WebState:
    """Per-app objects of the web layer (kept on ``app.state.web``)."""

    settings: WebSecuritySettings
    cookies: SessionCookies
    limiter: LoginLimiter
    tz: Any
    flashes: URLSafeTimedSerializer


def build_state(app: Any) -> WebState:
    """The web layer's objects for one app (``app.state.web_settings`` overrides the environment)."""
    settings: WebSecuritySettings = getattr(app.state, "web_settings", None) or web_settings_from_env()
    try:
        tz: Any = ZoneInfo(getattr(app.state, "web_display_tz", None) or _env_tz())
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return WebState(settings=settings, cookies=SessionCookies(app.state.signing_key, settings.session_ttl_s),
                    limiter=app.state.login_limiter,  # one limiter for the web and the API login
                    tz=tz, flashes=URLSafeTimedSerializer(app.state.signing_key, salt="frontage-web-flash"))


def web_state(request: Request) -> WebState:
    state: WebState | None = getattr(request.app.state, "web", None)
    if state is None:  # an app that did not call `api.web.setup` (setup makes it once, before any request)
        state = request.app.state.web = build_state(request.app)
    return state


def _env_tz() -> str:
    import os

    return os.environ.get("FRONTAGE_WEB_DISPLAY_TZ", "Asia/Shanghai")


@dataclass
class Page:
    """The request as the templates see it."""

    request: Request
    state: WebState
    lang: str
    t: Translator
    session: WebSession
    new_cookie: bool
    user: User | None = None
    set_lang: bool = False
    extra_cookies: list[tuple[str, str]] = field(default_factory=list)

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def now(self) -> datetime:
        return self.request.app.state.clock.now()

    def fmt_time(self, value: datetime | None, with_date: bool = True) -> str:
        if value is None:
            return self.t("time.none")
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        local = value.astimezone(self.state.tz)
        return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")

    def url_with(self, _path: str | None = None, **params: Any) -> str:
        """The current URL (or ``_path``) with some query parameters replaced (None removes one)."""
        query = dict(self.request.query_params)
        for k, v in params.items():
            if v is None:
                query.pop(k, None)
            else:
                query[k] = str(v)
        return (_path or self.request.url.path) + ("?" + urlencode(query) if query else "")

    def with_flash(self, url: str, message: str, kind: str = "ok") -> str:
        """``url`` carrying a signed one-off message: a crafted link cannot put words on our pages."""
        token = self.state.flashes.dumps({"k": kind, "m": message[:500]})
        return url + ("&" if "?" in url else "?") + urlencode({"flash": token})

    def read_flash(self) -> tuple[str | None, str]:
        token = self.request.query_params.get("flash")
        if not token:
            return None, "ok"
        try:
            data = self.state.flashes.loads(token, max_age=600)
        except BadSignature:  # includes expired
            return None, "ok"
        if not isinstance(data, dict):
            return None, "ok"
        return str(data.get("m") or "") or None, "error" if data.get("k") == "error" else "ok"

    def csrf_refused(self, submitted: str | None) -> Response | None:
        """None when the form's CSRF token matches this browser's session; else a 403 page saying what to do."""
        try:
            check_csrf(None if self.new_cookie else self.session, submitted)
        except HTTPException:
            return self.render("error.html", status_code=403, title="403", message=self.t("error.csrf"))
        return None

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = TEMPLATES.get_template(template).render(page=self, t=self.t, lang=self.lang, user=self.user,
                                                       csrf=self.csrf, gettext=self.t,
                                                       ngettext=self.t.translations.ngettext, **context)
        return self.finish(HTMLResponse(html, status_code=status_code))

    def redirect(self, url: str) -> RedirectResponse:
        return self.finish(RedirectResponse(url, status_code=303))  # type: ignore[return-value]

    def finish(self, response: Response) -> Response:
        if self.new_cookie:
            set_session_cookie(response, self.state.cookies, self.session,
                               self.state.settings.cookie_secure or is_https(self.request))
        if self.set_lang:
            response.set_cookie(LANG_COOKIE, self.lang, max_age=365 * 86400, samesite="lax", httponly=True,
                                secure=self.state.settings.cookie_secure or is_https(self.request))
        return apply_security_headers(response)


def get_page(request: Request) -> Page:
    state = web_state(request)
    query_lang = request.query_params.get("lang")
    lang = negotiate(query_lang, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    session = state.cookies.load(request.cookies.get(SESSION_COOKIE))
    new_cookie = session is None
    return Page(request=request, state=state, lang=lang, t=Translator(lang), session=session or new_session(),
                new_cookie=new_cookie, set_lang=bool(query_lang) and query_lang != request.cookies.get(LANG_COOKIE))


PageDep = Annotated[Page, Depends(get_page)]
DbDep = Annotated[Session, Depends(get_session, scope="function")]  # commit before the response is sent


class LoginRequired(HTTPException):
    pass


def get_staff_page(page: PageDep, db: DbDep) -> Page:
    """A page for signed-in staff: anyone else is sent to the login page (303), nothing is done."""
    user = db.get(User, page.session.uid) if page.session.uid is not None else None
    if user is None or not user.active or page.session.epoch != user.session_epoch:  # epoch: signed out
        request = page.request
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET" or request.headers.get("x-requested-with") == "fetch":
            target = "/queue"
        raise LoginRequired(303, "sign in first", headers={"Location": "/login?" + urlencode({"next": target}),
                                                           "Cache-Control": "no-store"})
    page.user = user
    return page


StaffPage = Annotated[Page, Depends(get_staff_page)]


def safe_next(target: str | None, default: str = "/queue") -> str:
    """Only same-site paths are followed after a login or an action (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
