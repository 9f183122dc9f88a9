"""Forms of the group area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField
from wtforms.validators import AnyOf, DataRequired

from fhir_mappings.model import MAX_NAME
from plugin.web.forms import BaseForm, text_field

LIFECYCLE_ACTIONS = ("pause", "resume", "end", "reopen", "after_treatment")


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
