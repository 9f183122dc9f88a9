"""Languages: Dutch by default, English on request (`?lang=en`, remembered in the session)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale, get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from wtforms.i18n import messages_path

from plugin.appglobals import app_globals

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


def _babel_namespace() -> SimpleNamespace | None:
    """Flask-Babel's per-request namespace (`g._flask_babel`: the locale it chose, ...), None before Flask-Babel
    made one or outside an app context. Read from the app context itself: a page asks for it a few hundred times,
    and each access through the `g` proxy costs several lookups."""
    known = app_globals()
    found = known.get("_flask_babel") if known is not None else None
    return found if isinstance(found, SimpleNamespace) else None


def request_translations() -> NullTranslations:
    """Flask-Babel's translations for this request, looked up once per request and locale.

    `flask_babel.gettext` finds the domain, the locale and the catalog anew on every call (a few context lookups
    and a locale-to-string conversion each time); a page translates a few hundred texts. The catalog is kept on
    Flask-Babel's own per-request namespace beside the locale it belongs to, so `force_locale` and
    `flask_babel.refresh` (which replace or drop that locale) are followed.
    """
    ctx = _babel_namespace()
    if ctx is not None:
        known = ctx.__dict__
        cached = known.get("rg_translations")
        if cached is not None and cached[0] is known.get("babel_locale") is not None:
            return cached[1]  # type: ignore[no-any-return]
    translations = get_translations()
    ctx = _babel_namespace()
    if ctx is not None:
        ctx.rg_translations = (getattr(ctx, "babel_locale", None), translations)
    return translations


def request_locale() -> Locale | None:
    """`flask_babel.get_locale()`: the locale Flask-Babel chose for this request (None outside one), read from its
    namespace when it has chosen one already."""
    ctx = _babel_namespace()
    if ctx is not None:
        locale = ctx.__dict__.get("babel_locale")
        if locale is not None:
            return locale  # type: ignore[no-any-return]
    return get_locale()


# WTForms' own messages ("Not a valid choice.") per locale, each read from disk once per process; untranslated
# outside a request or an app with Flask-Babel.
_WTFORMS_CATALOGS: dict[str, NullTranslations] = {}
_UNTRANSLATED = NullTranslations()


def wtforms_translations() -> NullTranslations:
    """WTForms' catalog of its own messages in the request's language.

    What Flask-WTF gives a form, but kept: Flask-WTF reads the catalog from disk again (a file, its parse, its
    plural rule compiled) for every request whose form asks for a message, as a goal page's does when it renders.
    As with Flask-WTF, outside a request or in an app without Flask-Babel the messages stay WTForms' own English.
    """
    if not has_request_context() or "babel" not in current_app.extensions:
        return _UNTRANSLATED
    locale = str(request_locale() or DEFAULT_LOCALE)
    found = _WTFORMS_CATALOGS.get(locale)
    if found is None:  # (two threads may both read it the first time: the same catalog, one kept)
        found = _WTFORMS_CATALOGS.setdefault(locale, Translations.load(messages_path(), [locale], domain="wtforms"))
    return found


def gettext(string: str, **variables: Any) -> str:
    """`flask_babel.gettext`, with the request's catalog looked up once (`request_translations`)."""
    text = request_translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """`flask_babel.ngettext`, with the request's catalog looked up once (`request_translations`)."""
    variables.setdefault("num", num)
    return request_translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """`flask_babel.lazy_gettext`: a text translated each time it is used (form labels, messages made at import),
    by this module's `gettext` (the request's catalog looked up once) instead of Flask-Babel's."""
    return LazyString(gettext, string, **variables)


# Per catalog, the finished markup of a template text without variables (at most this many texts per catalog).
_MARKUP_MEMO_SIZE = 4096


def _plain_markup(translations: NullTranslations, string: str) -> Markup:
    """`Markup(translated) % {}` of a text without variables, made once per catalog (kept on the catalog object,
    which Flask-Babel keeps per locale for the app's lifetime)."""
    memo: dict[str, Markup] | None = getattr(translations, "rg_markup", None)
    if memo is None:
        memo = {}
        translations.rg_markup = memo  # type: ignore[attr-defined]
    found = memo.get(string)
    if found is None:
        found = Markup(translations.ugettext(string)) % {}  # noqa: S704 - the catalog's text, as Jinja's does
        if len(memo) < _MARKUP_MEMO_SIZE:
            memo[string] = found
    return found


def template_text(string: str) -> Markup:
    """`_(string)` of a text without variables, as a template writes it (the request's catalog)."""
    return _plain_markup(request_translations(), string)


@pass_context
def _template_gettext(context: Context, string: str, **variables: Any) -> str:
    # What Jinja's i18n extension does with Flask-Babel's callables (newstyle: escaped, always formatted), without
    # the extra `Context.call` and the per-call catalog lookup.
    translations = request_translations()
    if context.eval_ctx.autoescape:
        if not variables:
            return _plain_markup(translations, string)
        return Markup(translations.ugettext(string)) % variables  # noqa: S704 - as Jinja's i18n extension marks it
    return translations.ugettext(string) % variables


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text = request_translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - the catalog's text, as Jinja's i18n extension marks it
    return text % variables


def current_language() -> str:
    """The two-letter language of the current request (for `<html lang>`)."""
    return str(request_locale() or DEFAULT_LOCALE)


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
    # `_`, `gettext` and `ngettext` in templates: the same texts, the request's catalog looked up once.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            "current_language": current_language(),
            "supported_languages": SUPPORTED_LOCALES,
            "language_url": language_url,
        }

    return babel
