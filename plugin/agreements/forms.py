"""Forms of the agreements area: a new agreement, a change to one (with its status), and "done" with a note."""

from __future__ import annotations

from flask_babel import gettext
from wtforms import SelectField
from wtforms.validators import InputRequired, Optional

from fhir_mappings.codes import AgreementStatus
from fhir_mappings.model import MAX_NOTE, MAX_TEXT
from plugin.i18n import lazy_gettext as _l
from plugin.web import labels
from plugin.web.forms import BaseForm, DutchDateField, area_field


class AgreementForm(BaseForm):
    """Who does what, by when, for which goal."""

    description = area_field(
        _l("What will be done"),
        limit=MAX_TEXT,
        description=_l("For example 'Fill in the allowance form together'."),
        render_kw={"rows": 3},
    )
    # Members and goals are offered as options; any other value goes to the domain, which says why not.
    owner = SelectField(_l("Who does it"), choices=[], validate_choice=False, validators=[Optional()])
    due = DutchDateField(_l("By when (optional)"), validators=[Optional()], confirm_past=True)
    goal_uid = SelectField(_l("For which goal (optional)"), choices=[], validate_choice=False, validators=[Optional()])

    def fill_choices(self, owners: list[tuple[str, str]], goals: list[tuple[str, str]]) -> None:
        """The people (member reference, name) and goals (uid, text) to choose from."""
        self.owner.choices = [("", gettext("nobody chosen yet")), *owners]
        self.goal_uid.choices = [("", gettext("no goal")), *goals]


class EditAgreementForm(AgreementForm):
    """An agreement as it is now, with its status."""

    status = SelectField(_l("Status"), choices=[], validators=[InputRequired()])

    def fill_status(self) -> None:
        """Every agreement status, in the order an agreement goes through them."""
        self.status.choices = labels.choices(list(AgreementStatus))


class DoneForm(BaseForm):
    """The owner says their agreement is done, with a short note if they like."""

    note = area_field(
        _l("A short note (optional)"),
        limit=MAX_NOTE,
        optional=True,
        description=_l("For example how it went, or what was hard. The group can read it."),
        render_kw={"rows": 3},
    )
