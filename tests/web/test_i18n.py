"""The gettext catalogs (api/i18n/locale/*/LC_MESSAGES/frontage.po, read by Babel) and the pages rendered
through them: `t(...)`, and Jinja2's i18n extension (`_()`, `{% trans %}`)."""

from __future__ import annotations

import re

import httpx
from babel.messages.pofile import read_po

from api.i18n import LANGUAGES, LOCALE_DIR, Translator, po_path
from api.web.context import TEMPLATES
from tests.web.conftest import WebServer, form_client


def _read(lang: str) -> dict[str, str]:
    with po_path(lang).open("rb") as f:
        catalog = read_po(f)
    return {m.id: m.string for m in catalog if m.id}


def test_catalogs_have_the_same_msgids_and_placeholders() -> None:
    assert sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/frontage.po")) == ["en", "zh_CN"]
    zh, en = _read("zh-CN"), _read("en")
    assert len(zh) > 100
    assert set(zh) == set(en), set(zh) ^ set(en)
    for lang, messages in (("zh-CN", zh), ("en", en)):
        assert not [k for k, v in messages.items() if not v], lang  # an empty msgstr would show the bare key
    # The placeholders match too, or a translation would crash (or show "{name}") at render time.
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_translator_reads_the_po_files() -> None:
    for lang in LANGUAGES:
        messages = _read(lang)
        t = Translator(lang)
        assert t("queue.title") == messages["queue.title"]
        assert t.has("state.detected") and not t.has("no.such.key")
    assert Translator("en")("pager.page", page=2, pages=5) == "Page 2 of 5"
    assert Translator("en")("no.such.key") == "no.such.key"  # a missing key shows itself, never a 500
    assert Translator("xx")("queue.title") == "案件队列"  # an unknown language gets the default


def test_jinja_gettext_per_language_and_escaped() -> None:
    template = TEMPLATES.from_string('{% trans %}queue.title{% endtrans %}|{{ _("pager.page", page=2, pages=5) }}'
                                     '|{{ _("nav.cameras") }}|{{ t("nav.cameras") }}')
    for lang, expected in (("en", "Case queue|Page 2 of 5|Cameras &amp; zones|Cameras &amp; zones"),
                           ("zh-CN", "案件队列|第 2 / 5 页|摄像头与区域|摄像头与区域")):
        t = Translator(lang)
        assert template.render(t=t, gettext=t, ngettext=t.translations.ngettext) == expected, lang
    assert template.render(t=Translator("zh-CN")).startswith("案件队列|")  # no language given: the default


def test_pages_render_in_both_languages(web_server: WebServer) -> None:
    base = web_server.base_url
    # login.html uses `{% trans %}` (title) and `_()` (heading, labels); base.html still uses `t()`.
    for lang, title, submit, skip in (("en", "Staff sign-in", "Sign in", "Skip to content"),
                                      ("zh-CN", "工作人员登录", "登录", "跳到正文")):
        html = httpx.get(base + "/login", params={"lang": lang}).text
        assert f"<title>{title}" in html and f"<h1>{title}</h1>" in html, lang
        assert f">{submit}</button>" in html and skip in html, lang
    client, _ = form_client(web_server, "op")
    assert "Cameras &amp; zones" in client.get("/queue", params={"lang": "en"}).text
    assert "摄像头与区域" in client.get("/queue", params={"lang": "zh-CN"}).text
