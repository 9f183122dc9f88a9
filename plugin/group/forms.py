"""Forms of the group area."""

from __future__ import annotations

from flask_babel import gettext
from wtforms import BooleanField, Field, HiddenField, RadioField, SelectField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than the stubs
from wtforms.validators import AnyOf, DataRequired, Optional, ValidationError

from fhir_mappings.codes import MeetingTheme, WishKind
from fhir_mappings.model import MAX_NAME
from plugin.i18n import lazy_gettext as _l
from plugin.services.group import MAX_REASON, Lifecycle
from plugin.web.forms import BaseForm, area_field, text_field
from plugin.web.labels import choices

LIFECYCLE_ACTIONS = tuple(step.value for step in Lifecycle)


class StartGroupForm(BaseForm):
    name = text_field(
        _l("Name of the group"),
        limit=MAX_NAME,
        description=_l("The name the patient chooses, for example 'Team Sanne' or 'Mijn steungroep'."),
    )


class RenameForm(BaseForm):
    name = text_field(_l("Name of the group"), limit=MAX_NAME)


class LifecycleForm(BaseForm):
    action = HiddenField(validators=[DataRequired(), AnyOf(LIFECYCLE_ACTIONS)])
    confirm = BooleanField(_l("Yes, I am sure"))

    def validate_confirm(self, field: Field) -> None:
        """Ending the group asks to tick the box first (nothing is deleted, but it is a big step)."""
        if self.action.data == Lifecycle.END.value and not field.data:
            raise ValidationError(_l("Tick the box to confirm that the group ends."))


class TakeOverForm(BaseForm):
    reason = area_field(
        _l("Why do you take over the group?"),
        limit=MAX_REASON,
        description=_l(
            "For example: the recovery coordinator has left the clinic. The reason is kept in the patient's record."
        ),
    )


class MeetingWishForm(BaseForm):
    """The patient's wishes for the next meeting: every field may stay empty, but not all of them."""

    place = text_field(
        _l("Where would you like to meet?"),
        optional=True,
        description=_l("For example: at home, in the park, at the clinic."),
    )
    chair = SelectField(_l("Who would you like to chair the meeting?"), choices=[], validators=[Optional()])
    theme = SelectField(_l("Is there a theme you want to talk about?"), choices=[], validators=[Optional()])
    text = area_field(
        _l("Anything else you wish for the meeting?"),
        optional=True,
        description=_l("In your own words. If you chose 'another theme', say which theme here."),
    )

    def fill_choices(self, members: list[tuple[str, str]]) -> None:
        """The members who may chair (value: who, label: name) and the themes."""
        self.chair.choices = [("", gettext("No wish")), *members]
        self.theme.choices = [("", gettext("No special theme")), *choices(list(MeetingTheme))]


PAUSE_OR_END = (WishKind.PAUSE.value, WishKind.END.value)


PAUSE_OR_END_CHOICES = (
    SelectChoice(WishKind.PAUSE.value, _l("A pause: the group stops for a while")),
    SelectChoice(WishKind.END.value, _l("To stop: the group ends")),
)


class PauseOrEndForm(BaseForm):
    """The patient asks for a pause of the group, or to stop, and says why."""

    kind = RadioField(
        _l("What do you want to ask?"),
        choices=list(PAUSE_OR_END_CHOICES),
        validators=[DataRequired(_l("Choose a pause or to stop.")), AnyOf(PAUSE_OR_END)],
    )
    reason = area_field(
        _l("Why do you want this?"),
        description=_l("Your recovery coordinator reads this and talks it over with you."),
    )

    def offer(self, kinds: tuple[WishKind, ...]) -> None:
        """Show only what can be asked now (the domain says which: no pause for a group that is paused)."""
        allowed = {kind.value for kind in kinds}
        shown: list[SelectChoice] = [c for c in PAUSE_OR_END_CHOICES if c.value in allowed]
        self.kind.choices = shown
        if len(shown) == 1 and not self.kind.data:
            self.kind.data = shown[0].value
