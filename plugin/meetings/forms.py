"""Forms of the meetings area.

Choices that show words are filled in per request (in `__init__`), so they are in the page's language.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask_babel import gettext
from wtforms import IntegerField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from fhir_mappings.codes import MeetingRole, MeetingStatus, MeetingTheme, ParticipationStatus
from fhir_mappings.model import MARKED_BY_HAND, MAX_NAME, MAX_TEXT, MEETING_MINUTES, Place
from plugin.i18n import lazy_gettext as _l
from plugin.web.forms import BaseForm, LocalDateTimeField, RequiredIf, area_field, bounded, text_field
from plugin.web.labels import choices

MIN_MINUTES = 15
MAX_MINUTES = 480
NEW_PLACE = "new"
LATER = "later"
ROLES = (MeetingRole.VOORZITTER, MeetingRole.NOTULIST, MeetingRole.TIJDBEWAKER)
RESPONSES = (
    ParticipationStatus.NEEDS_ACTION,
    ParticipationStatus.ACCEPTED,
    ParticipationStatus.DECLINED,
    ParticipationStatus.TENTATIVE,
)
# The answers a member gives to their own invitation, in the order of the buttons.
OWN_ANSWERS = (ParticipationStatus.ACCEPTED, ParticipationStatus.TENTATIVE, ParticipationStatus.DECLINED)


def place_label(place: Place) -> str:
    """'Name (address)' for a choice of place."""
    return f"{place.name} ({place.address})" if place.address else place.name


class PlanMeetingForm(BaseForm):
    start = LocalDateTimeField(
        _l("Date and start time"),
        validators=[InputRequired(message=_l("Fill in the date and time."))],
        description=_l("Proposed: about three months after the last meeting that was held."),
        confirm_past=True,
    )
    minutes = IntegerField(
        _l("How long (minutes)"),
        default=MEETING_MINUTES,
        validators=[
            InputRequired(message=_l("Fill in how many minutes the meeting takes.")),
            NumberRange(
                MIN_MINUTES,
                MAX_MINUTES,
                message=_l("A meeting takes between %(min)d and %(max)d minutes.", min=MIN_MINUTES, max=MAX_MINUTES),
            ),
        ],
        render_kw={"min": MIN_MINUTES, "max": MAX_MINUTES, "step": 5, "inputmode": "numeric"},
    )
    place = RadioField(_l("Place"), validators=[InputRequired(message=_l("Choose a place."))])
    new_place_name = StringField(
        _l("Name of the new place"),
        validators=[
            RequiredIf("place", (NEW_PLACE,), _l("Fill in the name of the new place.")),
            Optional(),
            bounded(MAX_NAME),
        ],
        description=_l("A place the patient finds comfortable, for example a community centre or at home."),
        render_kw={"maxlength": MAX_NAME},
    )
    new_place_address = text_field(_l("Address of the new place"), optional=True, limit=MAX_NAME)
    theme = SelectField(_l("Theme"), validators=[Optional()])
    theme_text = text_field(
        _l("Theme in your own words"),
        optional=True,
        limit=MAX_NAME,
        description=_l("For another theme, or to say more about the theme you chose."),
    )

    def __init__(self, places: list[Place], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.place.choices = [
            *((p.uid, place_label(p)) for p in places),
            (NEW_PLACE, gettext("A new place")),
            (LATER, gettext("Choose the place later")),
        ]
        self.theme.choices = [("", gettext("No special theme")), *choices(list(MeetingTheme))]


class RescheduleMeetingForm(PlanMeetingForm):
    """Move a planned meeting: the same fields as planning, filled in with what the meeting has now."""

    start = LocalDateTimeField(
        _l("Date and start time"),
        validators=[InputRequired(message=_l("Fill in the date and time."))],
        description=_l("When the day or time changes, everyone is asked again whether they can come."),
        confirm_past=True,
    )


class RolesForm(BaseForm):
    voorzitter = SelectField(_l("Chair"))
    notulist = SelectField(_l("Minute taker"))
    tijdbewaker = SelectField(_l("Time keeper"))

    def __init__(
        self, people: list[tuple[str, str]], holders: dict[MeetingRole, str | None], *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for role in ROLES:
            field: SelectField = getattr(self, role.value)
            holder = holders.get(role)
            # No "not agreed" option once someone holds the role: the domain has no way to take a role back.
            empty = [] if holder else [("", gettext("Not agreed yet"))]
            field.choices = [*empty, *people]


class InvitationForm(BaseForm):
    message = area_field(
        _l("Message"),
        limit=MAX_TEXT,
        description=_l("Every member gets this message with the meeting for their calendar (.ics)."),
        render_kw={"rows": 12},
    )


class StatusForm(BaseForm):
    status = RadioField(
        _l("What happened to this meeting?"), validators=[InputRequired(message=_l("Choose what happened."))]
    )

    def __init__(self, allowed: list[MeetingStatus], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        texts = {
            MeetingStatus.FULFILLED: gettext("The meeting was held"),
            MeetingStatus.CANCELLED: gettext("The meeting was cancelled"),
            MeetingStatus.NOSHOW: gettext("The meeting did not take place (nobody came)"),
        }
        # Every markable status is accepted here: the domain decides what may follow what, with its own message.
        self.status.choices = [(s.value, texts[s]) for s in MARKED_BY_HAND]
        self.offered = [(s.value, texts[s]) for s in allowed]


class OwnResponseForm(BaseForm):
    """One's own answer to the invitation: one button per answer."""

    answer = RadioField(_l("Your answer"), validators=[InputRequired(message=_l("Choose whether you are coming."))])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        texts = {
            ParticipationStatus.ACCEPTED: gettext("I am coming"),
            ParticipationStatus.TENTATIVE: gettext("Maybe"),
            ParticipationStatus.DECLINED: gettext("I cannot come"),
        }
        self.answer.choices = [(a.value, texts[a]) for a in OWN_ANSWERS]


def response_key(who: str) -> str:
    """A form field name for one person's response (a reference may hold characters a name cannot)."""
    return "r_" + hashlib.sha256(who.encode("utf-8")).hexdigest()[:16]


def responses_form(rows: list[tuple[str, str, ParticipationStatus]], **kwargs: Any) -> BaseForm:
    """A form with one select per person: rows are (who, display name, current response)."""

    class ResponsesForm(BaseForm):
        pass

    for who, display, current in rows:
        setattr(
            ResponsesForm, response_key(who), SelectField(display, default=current.value, validators=[InputRequired()])
        )
    form = ResponsesForm(**kwargs)
    options = choices(list(RESPONSES))
    for who, _, _ in rows:
        select: SelectField = getattr(form, response_key(who))
        select.choices = options
    return form
