"""Tiny two-language (Dutch first, English available) text lookup for the sandbox pages."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from flask import request, session

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_SESSION_KEY = "sandbox_lang"


def current_language() -> str:
    """The page language: `?lang=` (remembered in the session), else the remembered one, else Dutch."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session[LANGUAGE_SESSION_KEY] = asked
        return asked
    remembered = session.get(LANGUAGE_SESSION_KEY)
    return remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE


def other_language_url(language: str) -> str | None:
    """This page's URL in the other language; None on a POST (its form would be lost)."""
    if request.method != "GET":
        return None
    other = "en" if language == "nl" else "nl"
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", other))
    return f"{request.path}?{urlencode(args)}"


class Translator:
    """Looks texts up by key in the current language, with `str.format` placeholders."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]], language: str) -> None:
        self._texts = texts
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        entry = self._texts[key]
        text = entry.get(self.language) or entry[DEFAULT_LANGUAGE]
        return text.format(**values) if values else text
