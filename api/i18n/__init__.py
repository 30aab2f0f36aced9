"""Message catalogs for the web pages: Simplified Chinese (default) and English.

The catalogs are gettext ``.po`` files a translator can edit (``locale/<locale>/LC_MESSAGES/frontage.po``);
their msgids are message keys such as ``queue.title`` and their ``{name}`` placeholders are filled with
``str.format``. Babel reads them once per process and compiles them in memory: no build step, no ``.mo`` file
in the repository.

The language comes from ``?lang=`` (remembered in a cookie), else the cookie, else ``Accept-Language``.

>>> negotiate(query=None, cookie=None, accept_language="en-GB,en;q=0.9")
'en'
>>> negotiate(query=None, cookie=None, accept_language=None)
'zh-CN'
>>> Translator("en")("queue.title")
'Case queue'
>>> Translator("zh-CN")("queue.title")
'案件队列'
>>> Translator("en")("pager.page", page=2, pages=5)
'Page 2 of 5'
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "frontage_lang"
DOMAIN = "frontage"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Our language tags (what ``negotiate`` returns, what ``<html lang>`` says) to gettext locale directories.
GETTEXT_LOCALES: dict[str, str] = {"zh-CN": "zh_CN", "en": "en"}


def po_path(lang: str) -> Path:
    return LOCALE_DIR / GETTEXT_LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def load_catalog(lang: str) -> Catalog:
    """The parsed ``.po`` file of one language (read once per process)."""
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=GETTEXT_LOCALES[lang], domain=DOMAIN)


@cache
def load_translations(lang: str) -> Translations:
    """gettext translations of one language, compiled in memory; a msgid missing here falls back to zh-CN,
    then to the msgid (the key) itself."""
    mo = BytesIO()
    write_mo(mo, load_catalog(lang))  # fuzzy entries are left out, as msgfmt does
    mo.seek(0)
    translations = Translations(mo, domain=DOMAIN)
    if lang != DEFAULT_LANGUAGE:
        translations.add_fallback(load_translations(DEFAULT_LANGUAGE))
    return translations


def normalize(tag: str | None) -> str | None:
    """Map a language tag to a supported language (``zh``, ``zh-Hans``, ``zh_CN`` -> zh-CN; ``en-*`` -> en)."""
    if not tag:
        return None
    t = tag.strip().replace("_", "-").lower()
    if t.startswith("zh"):
        return "zh-CN"
    if t.startswith("en"):
        return "en"
    return None


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for explicit in (query, cookie):
        lang = normalize(explicit)
        if lang:
            return lang
    if accept_language:
        weighted: list[tuple[float, int, str]] = []
        for i, part in enumerate(accept_language.split(",")):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            lang = normalize(tag)
            if lang and q > 0:
                weighted.append((-q, i, lang))
        if weighted:
            return sorted(weighted)[0][2]
    return DEFAULT_LANGUAGE


class Translator:
    """``t(key, **values)``: the message in this language, falling back to zh-CN, then to the key itself."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.translations = load_translations(self.lang)
        self._catalog = load_catalog(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self.translations.gettext(key)
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        message = self._catalog.get(key)
        return message is not None and bool(message.string)

    def category(self, value: str) -> str:
        from detector.categories import Category

        try:
            cat = Category(value)
        except ValueError:
            return value
        return cat.label_zh if self.lang == "zh-CN" else cat.label_en

    def state(self, value: str) -> str:
        return self(f"state.{value}") if self.has(f"state.{value}") else value

    def action(self, value: str) -> str:
        return self(f"action.{value}") if self.has(f"action.{value}") else value
