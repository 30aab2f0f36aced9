"""Message catalogs for the web pages: Simplified Chinese (default) and English.

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

from api.i18n.catalog import MESSAGES

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "frontage_lang"


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
        self._own = MESSAGES[self.lang]
        self._fallback = MESSAGES[DEFAULT_LANGUAGE]

    def __call__(self, key: str, **values: object) -> str:
        text = self._own.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self._own

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
