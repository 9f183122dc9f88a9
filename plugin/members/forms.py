"""Forms of the members area.

Field names are unique across the forms of one page (the nominate page has three forms, the member page
up to five), so every input has its own id and label.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask_babel.speaklater import LazyString
from wtforms import BooleanField, Field, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than the WTForms stubs
from wtforms.validators import AnyOf, DataRequired, Optional, Regexp, ValidationError

from fhir_mappings.codes import INTERVIEW_SECTIONS, InterviewVisibility, NominationState, Section
from fhir_mappings.model import MAX_NAME, MAX_TEXT
from fhir_mappings.refs import FHIR_ID
from plugin.group.service import now
from plugin.i18n import lazy_gettext as _l
from plugin.members.people import PERSONAL, PROFESSIONS, relationship_choices
from plugin.web.forms import (
    BaseForm,
    DutchDateField,
    LocalDateTimeField,
    RequiredIf,
    area_field,
    bounded,
    required,
    text_field,
)
from plugin.web.labels import label

MAX_PHONE = 30
MAX_EMAIL = 254
MAX_SEARCH = 100
# A FHIR id; anything else is not a practitioner the search could have offered.
PRACTITIONER_REF = re.compile(rf"Practitioner/{FHIR_ID}")
# Nominating: the practitioner, or the PractitionerRole the search offered for them.
NOMINEE_REF = re.compile(rf"Practitioner(Role)?/{FHIR_ID}")
# A held interview written down a little ahead of the clock on the wall is fine; one next week is a typo.
CLOCK_SLACK = timedelta(minutes=15)

_PHONE_CHARS = re.compile(r"\+?[0-9 ()\-.]+")
_EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"'.]+")


class PhoneNumber:
    """Lightly checked: digits with the usual separators, at least 6 digits (no check of the number plan)."""

    def __call__(self, form: BaseForm, field: Field) -> None:
        value = (field.data or "").strip()
        if len(value) > MAX_PHONE:
            return  # the length check already says what is wrong
        if not _PHONE_CHARS.fullmatch(value) or sum(c.isdigit() for c in value) < 6:
            message = _l("Enter a phone number in digits (spaces and dashes are fine), like 06-12345678.")
            raise ValidationError(str(message))


class EmailAddress:
    """Lightly checked: something@something.tld (whether it exists, only sending mail can tell)."""

    def __call__(self, form: BaseForm, field: Field) -> None:
        value = (field.data or "").strip()
        if len(value) > MAX_EMAIL:
            return
        if not _EMAIL.fullmatch(value):
            raise ValidationError(str(_l("Enter an e-mail address like name@example.nl.")))


def phone_field(label_text: Any) -> StringField:
    return StringField(
        label_text,
        validators=[Optional(), bounded(MAX_PHONE), PhoneNumber()],
        render_kw={"maxlength": MAX_PHONE, "type": "tel", "autocomplete": "off"},
    )


def email_field(label_text: Any) -> StringField:
    return StringField(
        label_text,
        validators=[Optional(), bounded(MAX_EMAIL), EmailAddress()],
        render_kw={"maxlength": MAX_EMAIL, "type": "email", "autocomplete": "off"},
    )


# Administrative gender (FHIR AdministrativeGender): asked for everyone kept as a RelatedPerson, because a
# Koppeltaal domain requires it (KT2RelatedPerson); "unknown" is always a valid answer.
GENDERS: tuple[SelectChoice, ...] = (
    SelectChoice("unknown", _l("Unknown")),
    SelectChoice("female", _l("Female")),
    SelectChoice("male", _l("Male")),
    SelectChoice("other", _l("Non-binary or other")),
)


class NotInFuture:
    """A birth date is not after today."""

    def __call__(self, form: BaseForm, field: Field) -> None:
        if field.data is not None and field.data > now().date():
            raise ValidationError(str(_l("A date of birth cannot be in the future.")))


def gender_field(label_text: Any) -> SelectField:
    return SelectField(
        label_text, choices=list(GENDERS), default="unknown", validators=[AnyOf([c.value for c in GENDERS])]
    )


# A birth date's format error gives an example in the past (the forms' usual example is two weeks ahead).
BIRTH_DATE_EXAMPLE = "21-03-1990"


def birth_date_field(label_text: Any) -> DutchDateField:
    return DutchDateField(
        label_text,
        validators=[Optional(), NotInFuture()],
        description=_l("Leave this empty when it is not known."),
        example=BIRTH_DATE_EXAMPLE,
    )


def _words_field(label_text: Any, other: str, other_keys: tuple[str, ...], message: Any, **kw: Any) -> StringField:
    """Optional free text, required when the chosen code is 'other'."""
    return StringField(
        label_text,
        validators=[RequiredIf(other, other_keys, message), Optional(), bounded(MAX_NAME)],
        render_kw={"maxlength": MAX_NAME, "autocomplete": "off"},
        **kw,
    )


class PersonForm(BaseForm):
    """(a) Someone from the patient's own circle: a new RelatedPerson."""

    name = text_field(_l("Name"), limit=MAX_NAME, render_kw={"autocomplete": "off"})
    relationship = SelectField(
        _l("Who is this for the patient?"),
        choices=relationship_choices(PERSONAL),
        validators=[required(_l("Choose who this is for the patient."))],
    )
    relationship_text = _words_field(
        _l("In your own words (optional)"),
        "relationship",
        tuple(r.key for r in PERSONAL if r.needs_text),
        _l("Say in a few words who this is for the patient."),
        description=_l("For example: oldest sister, or friend from the football club."),
    )
    phone = phone_field(_l("Phone number (optional)"))
    email = email_field(_l("E-mail address (optional)"))
    gender = gender_field(_l("Gender"))
    birth_date = birth_date_field(_l("Date of birth (optional)"))
    reason = area_field(
        _l("Why this person? (optional)"),
        limit=MAX_TEXT,
        optional=True,
        description=_l("For example: she knows me well and notices early when things are not going well."),
    )


class PractitionerForm(BaseForm):
    """(b) A practitioner of the clinic, picked from the search results."""

    practitioner = HiddenField(validators=[DataRequired(), Regexp(NOMINEE_REF.pattern + r"\Z")])
    search = HiddenField(validators=[Optional()])


class ProfessionalForm(BaseForm):
    """(c) A professional from outside the clinic (GP, social worker, ...): a RelatedPerson with an occupation."""

    pro_name = text_field(_l("Name"), limit=MAX_NAME, render_kw={"autocomplete": "off"})
    profession = SelectField(
        _l("Profession"), choices=relationship_choices(PROFESSIONS), validators=[required(_l("Choose a profession."))]
    )
    profession_text = _words_field(
        _l("Profession and organisation in your own words (optional)"),
        "profession",
        tuple(r.key for r in PROFESSIONS if r.needs_text),
        _l("Say in a few words what this person does."),
        description=_l("For example: general practitioner at the practice in the village, or job coach."),
    )
    pro_phone = phone_field(_l("Phone number (optional)"))
    pro_email = email_field(_l("E-mail address (optional)"))
    pro_gender = gender_field(_l("Gender"))
    pro_birth_date = birth_date_field(_l("Date of birth (optional)"))
    pro_reason = area_field(
        _l("Why this person? (optional)"),
        limit=MAX_TEXT,
        optional=True,
        description=_l("For example: he helps me with my money and knows what is going on."),
    )


class PlanInterviewForm(BaseForm):
    planned_start = LocalDateTimeField(
        _l("Date and time of the introductory interview"),
        validators=[required(_l("Enter the date and time."))],
        confirm_past=True,
    )


def _section_label(section: Section) -> LazyString:
    return LazyString(label, section)


SECTION_FIELDS: dict[Section, str] = {s: s.value for s in INTERVIEW_SECTIONS}


# Who may read an interview record, in words (the choice of the record form, and the member page's fact).
VISIBILITY_WORDS: dict[InterviewVisibility, LazyString] = {
    InterviewVisibility.SHARED: _l("the patient and the care professionals"),
    InterviewVisibility.PROFESSIONALS: _l("only the care professionals, not the patient"),
}


class RecordInterviewForm(BaseForm):
    """What was said in the introductory interview: the four topics of RACT, at least one filled in, and who may
    read the record (always chosen: there is no default, clinics differ)."""

    held_at = LocalDateTimeField(
        _l("When was the interview held?"), validators=[required(_l("Enter the date and time."))]
    )
    verwachtingen = area_field(
        _section_label(Section.VERWACHTINGEN),
        optional=True,
        description=_l("What does this person expect from the group?"),
    )
    inzet = area_field(
        _section_label(Section.INZET), optional=True, description=_l("How much time and effort can this person give?")
    )
    relatie = area_field(
        _section_label(Section.RELATIE),
        optional=True,
        description=_l("How do they know the patient, and what have they been through together?"),
    )
    bijdrage = area_field(
        _section_label(Section.BIJDRAGE),
        optional=True,
        description=_l("How can this person help the patient reach their goals?"),
    )
    visibility = RadioField(  # type: ignore[call-arg]  # invalid_choice_message: newer than the WTForms stubs
        _l("Who may read this record?"),
        choices=[
            SelectChoice(InterviewVisibility.SHARED.value, _l("Shared with the patient")),
            SelectChoice(InterviewVisibility.PROFESSIONALS.value, _l("Only for care professionals")),
        ],
        validate_choice=True,
        invalid_choice_message=_l("Choose who may read this record."),
    )

    def chosen_visibility(self) -> InterviewVisibility:
        """The visibility the user chose (only call after validation)."""
        return InterviewVisibility(self.visibility.data)

    def sections(self) -> dict[Section, str]:
        """The four topics as typed (empty ones included; the domain leaves them out)."""
        return {section: str(self[name].data or "") for section, name in SECTION_FIELDS.items()}

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        if not any(text.strip() for text in self.sections().values()):
            self.form_errors.append(str(_l("Write down at least one of the four topics.")))
            ok = False
        if self.held_at.data is not None and self.held_at.data > now() + CLOCK_SLACK:
            self.held_at.errors = [
                *self.held_at.errors,
                str(_l("This time is still to come. Enter when the interview was held, or plan it instead.")),
            ]
            ok = False
        return ok


class DecisionForm(BaseForm):
    """After (or instead of) the interview: the nominee joins, declines, or the nomination is withdrawn."""

    outcome = RadioField(  # type: ignore[call-arg]  # invalid_choice_message: newer than the WTForms stubs
        _l("What happens now?"),
        choices=[
            SelectChoice(NominationState.LID.value, _l("becomes a member of the group")),
            SelectChoice(NominationState.AFGEZIEN.value, _l("does not want to join after all (declined)")),
            SelectChoice(NominationState.TERUGGETROKKEN.value, _l("the patient withdraws the nomination (withdrawn)")),
        ],
        invalid_choice_message=_l("Choose what happens."),
    )


class WithdrawForm(BaseForm):
    """The patient withdraws a nomination (no fields: the person is in the URL)."""


class CoreForm(BaseForm):
    core = HiddenField(validators=[DataRequired(), AnyOf(("on", "off"))])


class LeaveForm(BaseForm):
    confirm_leave = BooleanField(_l("Yes, this person leaves the group"))


class HandOverForm(BaseForm):
    practitioner = HiddenField(validators=[DataRequired(), Regexp(PRACTITIONER_REF.pattern + r"\Z")])
    confirm_hand_over = BooleanField(_l("Yes, hand over the role"))


class NominateAgainForm(BaseForm):
    """Someone who left or declined is nominated again (no fields: the person is in the URL)."""
