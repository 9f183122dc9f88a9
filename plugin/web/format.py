"""Dates and times as the Dutch read them (22 november 2026, 14:30), in Amsterdam time."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from flask import Flask
from flask_babel import format_date, format_time

from fhir_mappings.model import CLINIC_ZONE
from plugin.i18n import request_locale
from plugin.web.person_word import init_person_word


def long_date(value: date | datetime | None) -> str:
    """'22 november 2026' (nl) / 'November 22, 2026' (en); '' for no date."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(CLINIC_ZONE).date()
    return _long_date(value, request_locale())


# Outside a request the app's texts are its source language, English: so are its dates (not the machine's locale).
_SOURCE_LOCALE = Locale("en")


@lru_cache(maxsize=4096)
def _long_date(day: date, locale: Locale | None) -> str:
    """Babel's long date of `day` in `locale`: what `flask_babel.format_date(day, "long")` gives (the app sets no
    date formats of its own), made once per day and language (a page shows the same dates many times)."""
    return str(babel_format_date(day, "long", locale=locale or _SOURCE_LOCALE))


def date_time(value: datetime | None) -> str:
    """'22 november 2026 om 14:30' style, in Amsterdam time."""
    if value is None:
        return ""
    local = value.astimezone(CLINIC_ZONE)
    return f"{format_date(local.date(), 'long')}, {format_time(local, 'HH:mm', rebase=False)}"


def weekday_date_time(value: datetime | None) -> str:
    """'zondag 22 november 2026, 14:30' (nl) / 'Sunday, November 22, 2026, 14:30' (en), for meetings and
    invitations: the language's full date, as `long_date` is its long one."""
    if value is None:
        return ""
    local = value.astimezone(CLINIC_ZONE)
    return f"{format_date(local.date(), 'full')}, {format_time(local, 'HH:mm', rebase=False)}"


def clock(value: datetime | None) -> str:
    """'14:30' in Amsterdam time."""
    return "" if value is None else str(format_time(value.astimezone(CLINIC_ZONE), "HH:mm", rebase=False))


def init_format(app: Flask) -> None:
    """Register the filters: `|long_date`, `|date_time`, `|weekday_date_time`, `|clock`; and the clinic's word."""
    app.jinja_env.filters.update(
        long_date=long_date, date_time=date_time, weekday_date_time=weekday_date_time, clock=clock
    )
    config = app.config.get("RESOURCEGROEP")
    if config is not None:  # the clinic's "patiënt" or "cliënt" in every Dutch text
        init_person_word(app, config.person_word)
