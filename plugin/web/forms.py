"""Form fields every page uses: bounded text, Dutch dates, local date-times (Europe/Amsterdam).

Messages are msgids in English, translated to Dutch by Babel like every other text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from flask import request
from flask_babel import format_date
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, Length, Optional, StopValidation
from wtforms.widgets import DateInput, DateTimeLocalInput

from fhir_mappings.model import CLINIC_ZONE, MAX_NAME, MAX_TEXT
from plugin.i18n import lazy_gettext as _l
from plugin.i18n import wtforms_translations

DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y %H.%M")


class BaseForm(FlaskForm):
    """A form with CSRF (Flask-WTF) whose fields keep what the user typed on every error.

    A form whose save replaces what was there (`refuse_incomplete`: a report, an agenda) refuses a POST that carries
    none of the fields a browser always sends (only a crafted request does that), instead of reading it as "every
    field emptied", which would clear the record. Other forms keep reading a missing field as empty: some are
    posted from small button forms that leave their text fields out on purpose.
    """

    refuse_incomplete: ClassVar[bool] = False

    class Meta:
        locales = ("nl_NL", "nl")

        def get_translations(self, form: Any) -> Any:
            """WTForms' messages in the request's language, as Flask-WTF's, read once per process."""
            return wtforms_translations()

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        if valid and self.refuse_incomplete and request.method == "POST" and not self._sent_any_field():
            incomplete = str(_l("The form was not sent completely. Reload the page and try again."))
            shown = next((f for f in self if isinstance(f, StringField | TextAreaField | SelectField)), None)
            if shown is not None and not isinstance(shown, HiddenField):
                shown.errors = [*shown.errors, incomplete]
            else:
                self.form_errors.append(incomplete)
            return False
        return valid

    def _sent_any_field(self) -> bool:
        """Whether the POST carries at least one of the fields a browser always sends (True when the form has none:
        a form of checkboxes and buttons only)."""
        expected = False
        for field in self:
            if field.name == "csrf_token" or isinstance(field, BooleanField | RadioField | SelectMultipleField):
                continue  # not sent when unticked / nothing chosen
            expected = True
            if isinstance(field, FieldList | FormField):
                if any(key.startswith(f"{field.name}-") for key in request.form):
                    return True
            elif field.name in request.form:
                return True
        return not expected


# `meta=` of a form made only to be shown (never validated): without a CSRF field of its own. Pages write the
# token into every form themselves (`form_keys`), CSRFProtect checks every POST, and a POST view validates a form
# it makes from the request. Making a form's CSRF field costs as much as a few fields.
SHOWN_ONLY: dict[str, Any] = {"csrf": False}


def example_date() -> str:
    """A date for the examples in the forms: two weeks from today (an example in the past confuses)."""
    return (datetime.now(CLINIC_ZONE).date() + timedelta(days=14)).strftime("%d-%m-%Y")


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


# The dates a form accepts: a clear message at the field instead of a date the record cannot hold.
FIRST_YEAR = 1900
LAST_YEAR = 2100
# How far a wall-clock time is searched for the edge of a daylight-saving change (a change is one hour).
_DST_SEARCH_MINUTES = 180
_CHECKED = Markup(" checked")
_NOTHING = Markup("")


def _year_in_range(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(str(_l("Enter a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)))


def _now() -> datetime:
    from plugin.group.service import now  # plugin.group imports this module

    return now()


class _ExtrasWidget:
    """The field's own input, followed by what the field adds after it (see `_extras`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.input_type = getattr(inner, "input_type", None)

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        extras = getattr(field, "_extras", None)
        rendered: Markup = self.inner(field, **kwargs)
        return rendered + extras() if extras else rendered


class PastConfirmation:
    """Asks "Deze datum is al voorbij. Wil je het toch vastleggen?" for a date or time in the past.

    The generic helper for every form that plans or sets a date that normally lies ahead (an interview, a meeting,
    a due date): give the field `confirm_past=True`::

        due = DutchDateField(_l("By when"), validators=[Optional()], confirm_past=True)
        start = LocalDateTimeField(_l("Date and time"), validators=[...], confirm_past=True)

    A value before today (`DutchDateField`) or before now (`LocalDateTimeField`, Amsterdam time) then fails
    validation with that question as the field's error, and the field renders a checkbox right after its input
    (name `<field name>-past`, value `y`). The form keeps everything the user typed; sent again with the box ticked,
    the field validates and `field.data` is the past value. A ticked box stays ticked on every re-render.

    On an edit form, set `field.current` to the stored value before validating: keeping an earlier (now past) date
    unchanged is not asked again, only a new past date is.
    """

    confirm_past: bool = False
    current: Any = None
    confirmed_past: bool = False
    asks_past: bool = False
    name: str
    id: str
    data: Any
    errors: Any

    def _read_confirmation(self, formdata: Any) -> None:
        self.confirmed_past = bool(formdata is not None and formdata.get(f"{self.name}-past") == "y")

    def _is_past(self) -> bool:
        raise NotImplementedError

    def _check_past(self) -> None:
        if not self.confirm_past or self.data is None or self.errors or self.confirmed_past:
            return
        if self.current is not None and self.data == self.current:
            return
        if self._is_past():
            self.asks_past = True
            self.errors.append(str(_l("This date has already passed. Do you want to record it anyway?")))

    def _past_box(self) -> Markup:
        if not (self.asks_past or self.confirmed_past):
            return _NOTHING
        box_id = f"{self.id}-past"
        return Markup(
            '<div class="field-check past-confirmation">'
            '<input type="checkbox" id="{id}" name="{name}" value="y"{checked}> <label for="{id}">{label}</label></div>'
        ).format(
            id=box_id,
            name=f"{self.name}-past",
            checked=_CHECKED if self.confirmed_past else _NOTHING,
            label=str(_l("Yes, record it with this date")),
        )


class DutchDateField(PastConfirmation, Field):
    """A date: the browser's date picker sends 2026-11-22; typed by hand 22-11-2026 works too.

    Only years 1900-2100 are accepted; `confirm_past=True` asks before a date before today is kept.
    """

    widget = _ExtrasWidget(DateInput())

    def __init__(
        self,
        label: Any = None,
        validators: Any = None,
        *,
        confirm_past: bool = False,
        example: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(label, validators, **kw)
        self.raw: str = ""
        self.confirm_past = confirm_past
        self.example = example  # the date a format error shows (default: two weeks from today)

    def _value(self) -> str:
        # A date that was read is shown as the date box's own format (a date box shows 22-11-2026 as empty);
        # what could not be read is shown as typed.
        if isinstance(self.data, date):
            return self.data.isoformat()
        return str(self.raw_data[0]) if self.raw_data else ""

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        super().process(formdata, data, extra_filters)
        self._read_confirmation(formdata)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = str(valuelist[0]).strip() if valuelist else ""
        self.raw = text
        if not text:
            return
        for fmt in DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt).date()
            except ValueError:
                continue
            _year_in_range(parsed.year)
            self.data = parsed
            return
        raise ValueError(str(_l("Enter a date like %(example)s.", example=self.example or example_date())))

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:  # say what is wrong with what was typed: not "fill in this field" (DataRequired)
            raise StopValidation()

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        self._check_past()

    def _is_past(self) -> bool:
        return bool(self.data < _now().date())

    def _extras(self) -> Markup:
        return self._past_box()


def _exists(wall: datetime) -> bool:
    """Whether a naive Amsterdam wall-clock time happens (it does not inside the spring gap)."""
    moment = wall.replace(tzinfo=CLINIC_ZONE)
    return moment.astimezone(UTC).astimezone(CLINIC_ZONE).replace(tzinfo=None) == wall


def _ambiguous(wall: datetime) -> bool:
    """Whether a naive Amsterdam wall-clock time happens twice (inside the autumn overlap)."""
    first, second = wall.replace(tzinfo=CLINIC_ZONE, fold=0), wall.replace(tzinfo=CLINIC_ZONE, fold=1)
    return first.utcoffset() != second.utcoffset() and _exists(wall)


def _clock_label(wall: datetime) -> str:
    return f"{wall.hour}:{wall.minute:02d}"


class LocalDateTimeField(PastConfirmation, Field):
    """A date and time as the clock in Amsterdam shows it (datetime-local input); the value is timezone-aware.

    A wall-clock time in the spring gap (the clock skips 2:00-3:00) is refused with a message that says so; a time
    in the autumn overlap (2:00-3:00 happens twice) asks which of the two is meant: radio buttons after the input
    (name `<field name>-fold`: 0 = the first time, summer time; 1 = the second, winter time), kept on re-render.
    Only years 1900-2100 are accepted. `confirm_past=True`: see `PastConfirmation`.
    """

    widget = _ExtrasWidget(DateTimeLocalInput())

    def __init__(self, label: Any = None, validators: Any = None, *, confirm_past: bool = False, **kw: Any) -> None:
        super().__init__(label, validators, **kw)
        self.confirm_past = confirm_past
        self.fold_choice: int | None = None
        self.ambiguous = False

    def _value(self) -> str:
        # As DutchDateField: a time that was read in the box's own format, what could not be read as typed.
        if isinstance(self.data, datetime):
            return self.data.astimezone(CLINIC_ZONE).strftime("%Y-%m-%dT%H:%M")
        return str(self.raw_data[0]) if self.raw_data else ""

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.fold_choice = None
        if formdata is not None:
            chosen = formdata.get(f"{self.name}-fold")
            self.fold_choice = int(chosen) if chosen in ("0", "1") else None
        self._read_confirmation(formdata)
        super().process(formdata, data, extra_filters)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        self.ambiguous = False
        text = str(valuelist[0]).strip() if valuelist else ""
        if not text:
            return
        for fmt in DATETIME_FORMATS:
            try:
                wall = datetime.strptime(text, fmt).replace(second=0, microsecond=0)
            except ValueError:
                continue
            _year_in_range(wall.year)
            self.data = self._instant(wall)
            return
        raise ValueError(str(_l("Enter a date and time like %(example)s 14:30.", example=example_date())))

    def _instant(self, wall: datetime) -> datetime:
        """The moment the wall-clock time means in Amsterdam, or a ValueError that says why there is none yet."""
        if not _exists(wall):
            edge = wall
            for _ in range(_DST_SEARCH_MINUTES):
                if _exists(edge - timedelta(minutes=1)):
                    break
                edge -= timedelta(minutes=1)
            raise ValueError(
                str(
                    _l(
                        "This time does not exist: on %(day)s the clock goes forward one hour at %(clock)s. "
                        "Choose another time.",
                        day=format_date(wall.date(), "long"),
                        clock=_clock_label(edge),
                    )
                )
            )
        if _ambiguous(wall):
            self.ambiguous = True
            if self.fold_choice is None:
                edge = wall
                for _ in range(_DST_SEARCH_MINUTES):
                    edge += timedelta(minutes=1)
                    if not _ambiguous(edge):
                        break
                raise ValueError(
                    str(
                        _l(
                            "This time happens twice: on %(day)s the clock goes back one hour at %(clock)s. "
                            "Choose which one you mean.",
                            day=format_date(wall.date(), "long"),
                            clock=_clock_label(edge),
                        )
                    )
                )
            return wall.replace(tzinfo=CLINIC_ZONE, fold=self.fold_choice)
        return wall.replace(tzinfo=CLINIC_ZONE)

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:  # say what is wrong with what was typed: not "fill in this field" (DataRequired)
            raise StopValidation()

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        self._check_past()

    def _is_past(self) -> bool:
        return bool(self.data < _now())

    def _extras(self) -> Markup:
        return self._fold_radios() + self._past_box()

    def _fold_radios(self) -> Markup:
        ambiguous, chosen = self.ambiguous, self.fold_choice
        if not self.raw_data and isinstance(self.data, datetime):  # a stored time shown again (e.g. to move it)
            local = self.data.astimezone(CLINIC_ZONE)
            if _ambiguous(local.replace(tzinfo=None)):
                ambiguous, chosen = True, local.fold
        if not ambiguous:
            return _NOTHING
        options = (
            (0, _l("the first time (summer time)")),
            (1, _l("the second time (winter time)")),
        )
        html = Markup('<fieldset class="radios fold-choice"><legend>{}</legend>').format(
            str(_l("Which time do you mean?"))
        )
        for fold, text in options:
            html += Markup(
                '<div class="radio"><input type="radio" id="{id}" name="{name}" value="{value}"{checked}>'
                ' <label for="{id}">{label}</label></div>'
            ).format(
                id=f"{self.id}-fold-{fold}",
                name=f"{self.name}-fold",
                value=fold,
                checked=_CHECKED if chosen == fold else _NOTHING,
                label=str(text),
            )
        return html + Markup("</fieldset>")


class RequiredIf:
    """Required only when another field has one of the given values."""

    def __init__(self, other: str, values: tuple[Any, ...], message: Any = None) -> None:
        self.other, self.values, self.message = other, values, message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if form[self.other].data in self.values and not field.data:
            raise StopValidation(str(self.message or _l("Fill in this field.")))
