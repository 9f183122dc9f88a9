"""Forms of the group area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Field, HiddenField
from wtforms.validators import AnyOf, DataRequired, ValidationError

from fhir_mappings.model import MAX_NAME
from plugin.services.group import MAX_REASON, Lifecycle
from plugin.web.forms import BaseForm, area_field, text_field

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
            "For example: the direction supporter has left the clinic. The reason is kept in the patient's record."
        ),
    )
