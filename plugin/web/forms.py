"""Form fields every page uses: bounded text, Dutch dates, local date-times (Europe/Amsterdam).

Messages are msgids in English, translated to Dutch by Babel like every other text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, StopValidation
from wtforms.widgets import DateInput, DateTimeLocalInput

from fhir_mappings.model import MAX_NAME, MAX_TEXT

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y %H.%M")


class BaseForm(FlaskForm):
    """A form with CSRF (Flask-WTF) whose fields keep what the user typed on every error."""

    class Meta:
        locales = ("nl_NL", "nl")


def required(message: Any = None) -> DataRequired:
    return DataRequired(message=message or _l("Fill in this field."))


def bounded(limit: int) -> Length:
    return Length(max=limit, message=_l("This is too long: at most %(max)d characters.", max=limit))


def text_field(label: Any, *, limit: int = MAX_NAME, optional: bool = False, **kw: Any) -> StringField:
    """A one-line text with a maximum length (and required unless `optional`)."""
    validators = [Optional() if optional else required(), bounded(limit)]
    return StringField(label, validators=validators, render_kw={"maxlength": limit, **kw.pop("render_kw", {})}, **kw)


def area_field(label: Any, *, limit: int = MAX_TEXT, optional: bool = False, **kw: Any) -> TextAreaField:
    """A longer text (kept as typed, line breaks included)."""
    validators = [Optional() if optional else required(), bounded(limit)]
    render = {"maxlength": limit, "rows": 4, **kw.pop("render_kw", {})}
    return TextAreaField(label, validators=validators, render_kw=render, **kw)


class DutchDateField(Field):
    """A date: the browser's date picker sends 2026-11-22; typed by hand 22-11-2026 works too."""

    widget = DateInput()

    def __init__(self, label: Any = None, validators: Any = None, **kw: Any) -> None:
        super().__init__(label, validators, **kw)
        self.raw: str = ""

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return self.data.isoformat() if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = str(valuelist[0]).strip() if valuelist else ""
        self.raw = text
        if not text:
            return
        for fmt in DATE_FORMATS:
            try:
                self.data = datetime.strptime(text, fmt).date()
                return
            except ValueError:
                continue
        raise ValueError(str(_l("Enter a date like 22-11-2026.")))


class LocalDateTimeField(Field):
    """A date and time in Amsterdam time (datetime-local input); the value is timezone-aware."""

    widget = DateTimeLocalInput()

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, datetime):
            return self.data.astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M")
        return ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = str(valuelist[0]).strip() if valuelist else ""
        if not text:
            return
        for fmt in DATETIME_FORMATS:
            try:
                self.data = datetime.strptime(text, fmt).replace(tzinfo=AMSTERDAM)
                return
            except ValueError:
                continue
        raise ValueError(str(_l("Enter a date and time like 22-11-2026 14:30.")))


class RequiredIf:
    """Required only when another field has one of the given values."""

    def __init__(self, other: str, values: tuple[Any, ...], message: Any = None) -> None:
        self.other, self.values, self.message = other, values, message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if form[self.other].data in self.values and not field.data:
            raise StopValidation(str(self.message or _l("Fill in this field.")))
