"""Languages: Dutch by default, English on request (`?lang=en`, remembered in the session)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, request, session
from flask_babel import Babel, get_locale

DEFAULT_LOCALE = "nl"
SUPPORTED_LOCALES: tuple[str, ...] = ("nl", "en")
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
_SESSION_KEY = "lang"


def select_locale() -> str:
    """The locale for this request: `?lang=` (stored in the session), else the session's, else Dutch."""
    asked = request.args.get("lang")
    if asked in SUPPORTED_LOCALES:
        if session.get(_SESSION_KEY) != asked:
            session[_SESSION_KEY] = asked
        return asked
    stored = session.get(_SESSION_KEY)
    return stored if stored in SUPPORTED_LOCALES else DEFAULT_LOCALE


def current_language() -> str:
    """The two-letter language of the current request (for `<html lang>`)."""
    return str(get_locale() or DEFAULT_LOCALE)


def language_url(lang: str) -> str:
    """The current page in language `lang` (other query parameters kept)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', lang)])}"


def init_i18n(app: Flask) -> Babel:
    """Set up Flask-Babel with the project's translations and locale selection."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    # Times are shown as the clock in the clinic shows them (Babel reads this when it is set up).
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Amsterdam")
    babel = Babel(app, locale_selector=select_locale)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            "current_language": current_language(),
            "supported_languages": SUPPORTED_LOCALES,
            "language_url": language_url,
        }

    return babel
