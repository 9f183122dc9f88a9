"""Running one user action from a form: save it, or show why not with everything the user typed kept.

Every POST view of every area does the same thing: read the form, call one service, render::

    page = group_page(Action.VIEW_GOALS)
    form = GoalForm()
    if form.validate_on_submit():
        outcome = run_service(lambda uow, key: goals.add_goal(uow, key, text=..., ...), form=form)
        if outcome.done:
            return outcome.redirect(url_for("goals.index"))
    return render_template("goals/form.html", page=page, form=form, problem=outcome.problem), outcome.status

- saved in the EHR -> flash "Opgeslagen in het EPD." and redirect (Post/Redirect/Get);
- parked in the outbox -> flash "Wacht op opslaan in het EPD" (never "saved") and redirect;
- a rule of the domain says no (DomainError) -> the Dutch message next to the form, input kept (422);
- someone else changed the same thing (Conflict) -> both versions shown, input kept (409);
- the EHR refused (403, compartment, invalid) -> the message, input kept;
- the same form was sent before (double click, Back and submit) -> "al opgeslagen", nothing twice;
- the role may not do this (`NotAllowed`) -> the 403 page saying who may; nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import flash, g, redirect, request
from flask_babel import gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from fhir_mappings.codes import GroupStatus
from fhir_mappings.errors import ResourcegroepError
from fhir_mappings.model import ResourceGroup
from fhir_mappings.rights import NotAllowed
from plugin.group.service import current_service
from plugin.i18n import current_language
from plugin.services.submissions import SUBMISSION_KEY, StillRunning
from plugin.services.uow import Done, UnitOfWork
from plugin.sync.errors import Conflict, SyncError
from plugin.web.person_word import clinic_words

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
    """The result of `run_service`: `done` (then redirect) or a `problem` to show with `status`."""

    saved: Done[Any] | None = None
    problem: Problem | None = None
    status: int = 200

    @property
    def done(self) -> bool:
        return self.saved is not None

    @property
    def value(self) -> Any:
        """What the action returned (None for a repeated submission: use `uid`)."""
        return self.saved.value if self.saved is not None else None

    @property
    def uid(self) -> str | None:
        """The uid of what the action made or changed (also for a repeated submission)."""
        return self.saved.uid if self.saved is not None else None

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
        return error.user_message_en if current_language() == "en" else clinic_words(error.user_message)
    if current_language() == "en":
        # The domain says why in Dutch only; its log message is for developers (ids, codes), never for a page.
        return gettext("This cannot be done. The reason, in Dutch: %(reason)s", reason=clinic_words(error.user_message))
    return clinic_words(error.user_message)


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


def run_service(
    call: Callable[[UnitOfWork, str], Done[T]],
    *,
    form: FlaskForm | None = None,
    saved_message: str | None = None,
) -> ActionOutcome:
    """Run one service call with this request's unit of work and the form's submission key.

    Never raises for a user-caused or EHR-caused problem, except `NotAllowed` (the role may not do
    this), which the app answers with the 403 page saying who may.
    """
    uow = current_service().uow()
    key = request.form.get(SUBMISSION_KEY, "")
    try:
        done = call(uow, key)
    except NotAllowed:
        raise
    except PermissionError:
        return ActionOutcome(problem=read_only_problem(), status=403)
    except StillRunning:
        message = gettext("This form is still being saved. Wait a moment, then look whether it worked.")
        return ActionOutcome(problem=Problem(message), status=409)
    except Conflict as exc:
        log.info("conflict: %s", exc.diagnostics)
        return ActionOutcome(problem=Problem(user_message(exc), conflict_texts(exc)), status=409)
    except SyncError as exc:
        log.warning("save refused: %s", exc.diagnostics)
        return ActionOutcome(problem=Problem(user_message(exc)), status=exc.status if exc.status == 403 else 502)
    except ResourcegroepError as exc:
        log.info("domain said no: %s", exc.log_message)
        if form is not None:
            form.form_errors.append(user_message(exc))
        return ActionOutcome(problem=Problem(user_message(exc)), status=422)
    announce(done, saved_message)
    return ActionOutcome(saved=done)


def announce(saved: Done[Any], saved_message: str | None = None) -> None:
    """Tell the next page how a save went: in the EHR, or waiting for it (never "saved" before it is).

    The patient and the people around them are not told about "the EHR" (a word of the clinic's staff)."""
    staff = not _layperson()
    if saved.repeated:
        flash(gettext("This was already saved: nothing was saved twice."), SAVED)
    elif saved.waiting:
        waiting = gettext("Waiting to be saved in the EHR. We will keep trying; your input is kept.")
        flash(waiting if staff else gettext("Not saved yet. We will keep trying; what you filled in is kept."), WAITING)
    elif saved.saved:
        flash(saved_message or (gettext("Saved in the EHR.") if staff else gettext("Saved.")), SAVED)


def saved_in_the_record(message: str) -> str:
    """`message` and, for the clinic's staff, that it is saved in the EHR (the patient and their circle get
    `message` alone: "the EHR" is a word of the staff)."""
    if _layperson():
        return message
    return message + " " + gettext("This is saved in the EHR.")


def _layperson() -> bool:
    """Whether the user is the patient or someone of their own circle (a RelatedPerson), not the clinic's staff."""
    launch = g.get("launch")
    user = getattr(launch, "fhir_user_reference", None) or ""
    return user.startswith(("Patient/", "RelatedPerson/"))
