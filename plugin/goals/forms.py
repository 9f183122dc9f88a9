"""Forms of the goals area: a goal (add and edit), a note, a progress score."""

from __future__ import annotations

from wtforms import Field, RadioField, SelectField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than the WTForms stubs
from wtforms.validators import InputRequired, Optional, ValidationError

from fhir_mappings.codes import GoalLifecycle, GoalTerm, LifeArea
from fhir_mappings.model import MAX_SCORE, MAX_TEXT
from plugin.i18n import gettext
from plugin.i18n import lazy_gettext as _l
from plugin.web import labels
from plugin.web.forms import BaseForm, DutchDateField, area_field

# The four statuses the page offers, in this order (FHIR lifecycle codes; labels from plugin.web.labels).
STATUS_CHOICES: tuple[GoalLifecycle, ...] = (
    GoalLifecycle.ACTIVE,
    GoalLifecycle.ON_HOLD,
    GoalLifecycle.COMPLETED,
    GoalLifecycle.CANCELLED,
)


class GoalForm(BaseForm):
    """A new goal, in the patient's own words."""

    text = area_field(
        _l("The goal"),
        limit=MAX_TEXT,
        description=_l("In the patient's own words, for example 'Living on my own again'."),
        render_kw={"rows": 3},
    )
    term = RadioField(
        _l("Term"),
        choices=[],
        default=GoalTerm.LANG.value,
        validators=[InputRequired(message=_l("Choose long term or short term."))],
    )
    life_area = SelectField(_l("Life area"), choices=[], validators=[Optional()])
    due = DutchDateField(_l("Reached by (optional)"), validators=[Optional()], confirm_past=True)
    # Only long-term goals are offered; any other value goes to the domain, which says why it cannot be.
    parent_uid = SelectField(
        _l("Step towards the long-term goal"),
        choices=[],
        validate_choice=False,
        validators=[Optional()],
        description=_l("Only for a short-term goal: the long-term goal it is a step towards."),
    )

    def validate_parent_uid(self, field: Field) -> None:
        """Say it next to the field: only a short-term goal is a step (the domain checks it again)."""
        if field.data and self.term.data == GoalTerm.LANG.value:
            raise ValidationError(str(_l("A long-term goal is not a step. Choose 'none', or choose short term.")))

    def fill_choices(self, parents: list[tuple[str, str]]) -> None:
        """Set the select and radio options (labels in the page's language; `parents` = (uid, text))."""
        self.term.choices = [
            (GoalTerm.LANG.value, labels.label(GoalTerm.LANG)),
            (GoalTerm.KORT.value, labels.label(GoalTerm.KORT)),
        ]
        self.life_area.choices = [("", gettext("not chosen")), *labels.choices(list(LifeArea))]
        self.parent_uid.choices = [("", gettext("none: not a step")), *parents]


class EditGoalForm(GoalForm):
    """A goal as it is now, with its status."""

    status = SelectField(_l("Status"), choices=[], validators=[InputRequired()])

    def fill_status(self, current: GoalLifecycle) -> None:
        """The four statuses, plus the goal's own status when another system set a different one."""
        offered = list(STATUS_CHOICES)
        if current not in offered:
            offered.insert(0, current)
        self.status.choices = labels.choices(tuple(offered))


class NoteForm(BaseForm):
    """A dated note on a goal."""

    note = area_field(_l("Note"), limit=MAX_TEXT, render_kw={"rows": 3})


class ScoreForm(BaseForm):
    """How the patient rates progress on a goal: 0 (not at all) to 10 (reached)."""

    score = RadioField(
        _l("Score"),
        choices=[SelectChoice(str(n)) for n in range(MAX_SCORE + 1)],
        validators=[InputRequired(message=_l("Choose a score from 0 to 10."))],
        description=_l("0 means no progress at all, 10 means the goal is reached."),
    )
    meeting_uid = SelectField(_l("At the meeting of"), choices=[], validators=[Optional()])
    score_note = area_field(_l("Short note (optional)"), limit=MAX_TEXT, optional=True, render_kw={"rows": 2})

    def fill_choices(self, meetings: list[tuple[str, str]]) -> None:
        """Held meetings to link the score to: (uid, label), newest first."""
        self.meeting_uid.choices = [("", gettext("not at a meeting")), *meetings]
