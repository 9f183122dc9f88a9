"""Running one user action from a form: save it, or show why not with everything the user typed kept.

Every POST view of every area does the same thing::

    page = current_service().page()
    form = GoalForm()
    if form.validate_on_submit():
        outcome = run_action(page, lambda g: g.add_goal(...), _("Goal added"), form=form)
        if outcome.done:
            return outcome.redirect(url_for("goals.index"))
    return render_template("goals/form.html", page=page, form=form, problem=outcome.problem), outcome.status

- saved in the EHR -> flash "Opgeslagen in het EPD." and redirect (Post/Redirect/Get);
- parked in the outbox -> flash "Wacht op opslaan in het EPD" (never "saved") and redirect;
- a rule of the domain says no (DomainError) -> the Dutch message next to the form, input kept (422);
- someone else changed the same thing (Conflict) -> both versions shown, input kept (409);
- the EHR refused (403, compartment, invalid) -> the message, input kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import flash, g, redirect
from flask_babel import gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from fhir_mappings.codes import GroupStatus
from fhir_mappings.errors import ResourcegroepError
from fhir_mappings.model import ResourceGroup
from plugin.group.service import GroupPage, current_service
from plugin.i18n import current_language
from plugin.sync.errors import Conflict, SyncError
from plugin.sync.repository import Saved

log = logging.getLogger(__name__)
T = TypeVar("T")

SAVED = "saved"
WAITING = "waiting"


@dataclass
class Problem:
    """Why an action was not saved, for the page (texts already in the user's language)."""

    message: str
    theirs: list[tuple[str, str]] = field(default_factory=list)  # (what, the other person's text) on a conflict


@dataclass
class ActionOutcome:
    """The result of `run_action`: `done` (then redirect) or a `problem` to show with `status`."""

    saved: Saved[Any] | None = None
    problem: Problem | None = None
    status: int = 200

    @property
    def done(self) -> bool:
        return self.saved is not None

    @property
    def value(self) -> Any:
        return self.saved.value if self.saved is not None else None

    def redirect(self, location: str) -> Response:
        """Post/Redirect/Get after a save (303: the browser does a GET)."""
        return redirect(location, code=303)


def read_only_problem() -> Problem:
    """Why a read-only launch cannot save (answered with status 403)."""
    return Problem(gettext("You may only view this group, not change it."))


def can_change(group: ResourceGroup) -> bool:
    """Whether a page offers its forms: the launch may write and the group has not ended.

    The domain still has the last word on every save; this only decides what to show.
    """
    return bool(g.launch.can_write) and group.status is not GroupStatus.ENDED


def user_message(error: ResourcegroepError | SyncError) -> str:
    """The error's message in the page's language."""
    if isinstance(error, SyncError):
        return error.user_message_en if current_language() == "en" else error.user_message
    if current_language() == "en":
        return gettext("This cannot be done: %(reason)s", reason=error.log_message)
    return error.user_message


def conflict_texts(conflict: Conflict) -> list[tuple[str, str]]:
    """The other person's version of what both changed, as readable text."""
    theirs = conflict.theirs or {}
    element = (conflict.element or "").split(".")[0].split("[")[0]
    keys = [element] if element in theirs else [k for k in theirs if k not in ("meta", "id", "resourceType", "text")]
    out: list[tuple[str, str]] = []
    for key in keys[:3]:
        out.append((key, _readable(theirs.get(key))))
    return out


def _readable(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for k in ("text", "display", "valueString", "contentString"):
            if isinstance(value.get(k), str):
                return str(value[k])
        return ", ".join(_readable(v) for v in value.values() if _readable(v))
    if isinstance(value, list):
        return "; ".join(r for r in (_readable(v) for v in value) if r)
    return "" if value is None else str(value)


def run_action(
    page: GroupPage,
    action: Callable[[ResourceGroup], T],
    activity: str,
    *,
    form: FlaskForm | None = None,
    saved_message: str | None = None,
) -> ActionOutcome:
    """Run one user action (see the module docstring); never raises for a user-caused or EHR-caused problem."""
    service = current_service()
    try:
        saved = service.perform(page.loaded, action, activity)
    except PermissionError:
        return ActionOutcome(problem=read_only_problem(), status=403)
    except Conflict as exc:
        log.info("conflict on %s: %s", activity, exc.diagnostics)
        return ActionOutcome(problem=Problem(user_message(exc), conflict_texts(exc)), status=409)
    except SyncError as exc:
        log.warning("save refused (%s): %s", activity, exc.diagnostics)
        return ActionOutcome(problem=Problem(user_message(exc)), status=exc.status if exc.status == 403 else 502)
    except ResourcegroepError as exc:
        log.info("domain said no to %s: %s", activity, exc.log_message)
        if form is not None:
            form.form_errors.append(user_message(exc))
        return ActionOutcome(problem=Problem(user_message(exc)), status=422)
    announce(saved, saved_message)
    return ActionOutcome(saved=saved)


def announce(saved: Saved[Any], saved_message: str | None = None) -> None:
    """Tell the next page how a save went: in the EHR, or waiting for it (never "saved" before it is)."""
    if saved.waiting:
        flash(gettext("Waiting to be saved in the EHR. We will keep trying; your input is kept."), WAITING)
    elif saved.saved:
        flash(saved_message or gettext("Saved in the EHR."), SAVED)
