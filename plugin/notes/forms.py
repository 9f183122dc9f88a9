"""Forms of the notes area: the agenda before a meeting and the report after it.

Both forms hold lists of lines (FieldList). The lines' labels and choices depend on the group, so the
views fill them in (`AgendaForm.label_lines`, `ReportForm.fill_choices`) before validating or rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than the WTForms stubs
from wtforms.validators import AnyOf, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from fhir_mappings.codes import AgreementStatus, Section
from fhir_mappings.model import MAX_SCORE, MAX_TEXT
from plugin.i18n import lazy_gettext as _l
from plugin.web.forms import BaseForm, DutchDateField, area_field, text_field
from plugin.web.labels import label

# Far more lines than any agenda or report needs; a bound so a crafted POST cannot make thousands of rows.
MAX_AGENDA_LINES = 200
MAX_SCORE_LINES = 200
MAX_AGREEMENT_LINES = 40
FREE_LINES_MIN = 3  # empty own-words lines the agenda form offers
AGREEMENT_LINES_MIN = 2

# Texts in the patient's own words may be in any script: let the browser pick the direction per text (RTL too).
OWN_WORDS = {"dir": "auto"}

KIND_GOAL = "goal"
KIND_AGREEMENT = "agreement"
KIND_FREE = "free"

REPORT_SECTIONS: tuple[tuple[str, Section], ...] = (
    ("samenvatting", Section.SAMENVATTING),
    ("besluiten", Section.BESLUITEN),
    ("overig", Section.OVERIG),
)


class LineForm(Form):
    """A line inside a bigger form (no CSRF of its own; the outer form has it)."""

    class Meta:
        locales = ("nl_NL", "nl")


# ---------------------------------------------------------------------------------------------- agenda


class AgendaLineForm(LineForm):
    """One agenda line: a goal or agreement (include it or not) or an item in own words."""

    kind = HiddenField(validators=[AnyOf((KIND_GOAL, KIND_AGREEMENT, KIND_FREE))])
    ref = HiddenField()
    include = BooleanField(_l("Put on the agenda"))
    text = text_field(_l("Agenda item"), limit=MAX_TEXT, optional=True, render_kw=OWN_WORDS)


class AgendaForm(BaseForm):
    """The agenda of one meeting: lines in order, and whether it is ready."""

    refuse_incomplete = True  # a save replaces the agenda: a POST without its lines must not empty it

    lines = FieldList(FormField(AgendaLineForm), max_entries=MAX_AGENDA_LINES)
    ready = BooleanField(
        _l("The agenda is ready"),
        description=_l("Tick this when the patient and you have agreed on the agenda."),
    )

    def label_lines(self, describe: Callable[[str, str], str]) -> None:
        """Give every line its label: the goal or agreement it names, or its number among the own items."""
        own = 0
        for entry in self.lines:
            line: AgendaLineForm = entry.form
            if line.kind.data == KIND_FREE:
                own += 1
                line.text.label.text = gettext("Item in own words %(number)d", number=own)
            elif line.kind.data == KIND_AGREEMENT:
                words = describe(KIND_AGREEMENT, line.ref.data or "")
                line.include.label.text = gettext("Agreement: %(text)s", text=words)
            else:
                line.include.label.text = gettext("Goal: %(text)s", text=describe(KIND_GOAL, line.ref.data or ""))


class AgendaProposalForm(BaseForm):
    """The patient's own item for the agenda (added at the end while the agenda is being prepared)."""

    text = text_field(
        _l("Your agenda item"),
        limit=MAX_TEXT,
        description=_l("What would you like to talk about at this meeting?"),
        render_kw=OWN_WORDS,
    )


# ---------------------------------------------------------------------------------------------- report

SCORE_CHOICES: list[SelectChoice] = [
    SelectChoice("", _l("no score")),  # a lazy string: rendered in the page's language
    *(SelectChoice(str(i), str(i)) for i in range(MAX_SCORE + 1)),
]


def select_choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as options."""
    return [SelectChoice(value, text) for value, text in pairs]


class ScoreLineForm(LineForm):
    """One goal in the report: talked about or not, a score 0-10 and a short note."""

    goal = HiddenField()
    discussed = BooleanField(_l("Talked about at this meeting"))
    # A missing value (no option sent) counts as "no score", as the browser's empty option does.
    score = SelectField(_l("Score (0 to 10)"), choices=SCORE_CHOICES, default="", validate_choice=True)
    note = text_field(_l("Short note with the score"), limit=MAX_TEXT, optional=True, render_kw=OWN_WORDS)

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        ok = super().validate(extra_validators)
        if (self.note.data or "").strip() and not self.score.data:
            self.score.errors = [*self.score.errors, gettext("Give a score with the note, or empty the note.")]
            ok = False
        return ok


class AgreementLineForm(LineForm):
    """A new agreement made at the meeting: what, who, by when, for which goal."""

    description = text_field(_l("What was agreed"), limit=MAX_TEXT, optional=True, render_kw=OWN_WORDS)
    owner = SelectField(_l("Who does it"), choices=[], default="", validate_choice=True)
    due = DutchDateField(_l("By when"), validators=[Optional()], confirm_past=True)
    goal = SelectField(_l("For which goal"), choices=[], default="", validate_choice=True)

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        ok = super().validate(extra_validators)
        empty = not (self.description.data or "").strip()
        if empty and (self.owner.data or self.goal.data or self.due.data or self.due.raw):
            self.description.errors = [
                *self.description.errors,
                gettext("Write down what was agreed, or empty this line."),
            ]
            ok = False
        return ok

    @property
    def filled(self) -> bool:
        return bool((self.description.data or "").strip())


# What the report says of an existing open agreement: still open (nothing changes), done, or dropped.
CLOSE_OPEN = "open"
CLOSE_STATUS = {"done": AgreementStatus.COMPLETED, "dropped": AgreementStatus.CANCELLED}
MAX_CLOSE_LINES = 200


class CloseAgreementLineForm(LineForm):
    """An agreement that was open when the report was opened: mark it done or dropped, or leave it open."""

    agreement = HiddenField()
    outcome = RadioField(
        _l("What happened to it"),
        choices=[
            SelectChoice(CLOSE_OPEN, _l("Still open")),
            SelectChoice("done", _l("Done")),
            SelectChoice("dropped", _l("Not going ahead")),
        ],
        default=CLOSE_OPEN,
        validate_choice=True,
    )


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReportForm(BaseForm):
    """The report of one meeting: who came, goals with scores, the three sections, new agreements."""

    refuse_incomplete = True  # a save replaces the report: a POST without its fields must not empty it

    attended = MultiCheckboxField(_l("Who was there"), choices=[], validate_choice=True)
    scores = FieldList(FormField(ScoreLineForm), max_entries=MAX_SCORE_LINES)
    samenvatting = area_field("", optional=True, render_kw=OWN_WORDS)
    besluiten = area_field("", optional=True, render_kw=OWN_WORDS)
    overig = area_field("", optional=True, render_kw=OWN_WORDS)
    agreements = FieldList(FormField(AgreementLineForm), max_entries=MAX_AGREEMENT_LINES)
    close = FieldList(FormField(CloseAgreementLineForm), max_entries=MAX_CLOSE_LINES)

    def fill_choices(
        self, attendance: list[tuple[str, str]], owners: list[tuple[str, str]], goals: list[tuple[str, str]]
    ) -> None:
        """Who can be ticked as present, who can take on an agreement, the goals; the sections' shared labels."""
        self.attended.choices = select_choices(attendance)
        for name, section in REPORT_SECTIONS:
            self[name].label.text = label(section)
        for entry in self.agreements:
            line: AgreementLineForm = entry.form
            line.owner.choices = select_choices([("", gettext("nobody chosen yet")), *owners])
            line.goal.choices = select_choices([("", gettext("no particular goal")), *goals])

    def closing(self) -> dict[str, AgreementStatus]:
        """The existing agreements marked done or dropped: agreement uid -> its new status."""
        out: dict[str, AgreementStatus] = {}
        for entry in self.close:
            line: CloseAgreementLineForm = entry.form
            status = CLOSE_STATUS.get(line.outcome.data or CLOSE_OPEN)
            if status is not None and line.agreement.data:
                out[line.agreement.data] = status
        return out

    def sections(self) -> dict[Section, str]:
        """The three texts by section (empty ones too: the domain drops them)."""
        return {section: self[name].data or "" for name, section in REPORT_SECTIONS}


# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class FieldProblem:
    """One field error for the summary at the top of a form: where it is and what is wrong."""

    field_id: str
    what: str
    messages: tuple[str, ...]


def field_problems(form: BaseForm, context: Callable[[str, int, Any], str] | None = None) -> list[FieldProblem]:
    """Every field error in the form, lines included, in page order (for the problem summary).

    `context(list_name, position, line_form)` names the line an error is in (e.g. the goal's words).
    """
    return list(_walk(form, context))


def _walk(form: Form, context: Callable[[str, int, Any], str] | None, prefix: str = "") -> Iterator[FieldProblem]:
    for f in form:
        if f.type in ("CSRFTokenField", "HiddenField"):
            continue
        if isinstance(f, FieldList):
            for position, entry in enumerate(f.entries, start=1):
                where = context(f.short_name, position, entry.form) if context is not None else ""
                yield from _walk(entry.form, context, where)
            continue
        if f.errors:
            what = f"{prefix} — {f.label.text}" if prefix else str(f.label.text)
            yield FieldProblem(f.id, what, tuple(str(e) for e in _flat(f.errors)))


def _flat(errors: Iterable[Any]) -> Iterator[Any]:
    for e in errors:
        if isinstance(e, (list, tuple)):
            yield from _flat(e)
        else:
            yield e
