"""The service behind every group page: the launch's FHIR client, the repository, names for display.

Views stay thin: they ask `current_service()` to load the group or to run one user action, and render.
No clinical data is kept here: every request reads the clinic's record again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from typing import Any

from flask import abort, current_app, g, redirect, request, url_for

from fhir_mappings.fhirjson import ref_of
from fhir_mappings.model import CLINIC_ZONE, ResourceGroup, ScoresNotLoaded, Unreadable, day_start
from fhir_mappings.profiles import MappingMode
from fhir_mappings.refs import literal, ref_type
from fhir_mappings.rights import Action, Actor, actor_in, require, visible_to
from plugin.audit.web import request_audit, takes_audit_events
from plugin.launch.context import ActiveLaunch, smart_client
from plugin.services.core import repeated
from plugin.services.fhir_uow import FhirUnitOfWork
from plugin.services.group import require_overview
from plugin.services.submissions import SUBMISSION_KEY, SubmissionLog
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient
from plugin.sync.errors import JsonDict, SyncError
from plugin.sync.outbox import Outbox, OutboxEntry
from plugin.sync.repository import GroupRepository, LoadedGroup, ScoresPage
from plugin.sync.transaction import TransactionResult

log = logging.getLogger(__name__)


def now() -> datetime:
    """The current time in Amsterdam (what the clinic sees on the wall)."""
    return datetime.now(CLINIC_ZONE)


def today() -> date:
    """Today's date in Amsterdam."""
    return now().date()


class LaunchTokens:
    """The launch's access token for the FHIR client: refreshed near expiry, and once on a 401."""

    def __init__(self, launch: ActiveLaunch) -> None:
        self.launch = launch

    def __call__(self) -> str:
        return self.launch.access_token()

    def refresh(self) -> str:
        """After a 401: a refreshed token (a new Backend Services token in a Koppeltaal launch)."""
        if smart_client().store.get_context(self.launch.context_id) is None:
            return self.launch.access_token()
        return self.launch.renew_access_token()


@dataclass
class GroupPage:
    """What a page shows: the group as the actor may see it (None when there is none yet), who acts and may
    do what, and the saves still waiting.

    `group` is redacted for the actor (`fhir_mappings.rights.visible_to`): a template can never show what the
    role may not see. Saves never start from it: services load the whole group through the unit of work.
    """

    loaded: LoadedGroup
    waiting: list[OutboxEntry]
    failed: list[OutboxEntry]
    actor: Actor
    visible: ResourceGroup | None

    @property
    def group(self) -> ResourceGroup | None:
        return self.visible

    @property
    def unreadable(self) -> list[Unreadable]:
        """What the record holds for the group that the app could not read, for those who may free the record
        (care professionals); empty for everyone else, so a page never names what the role may not see."""
        return list(self.loaded.unreadable) if self.may(Action.CANCEL_UNREADABLE) else []

    def may(self, action: Action | str) -> bool:
        """Whether the actor may do `action` at all (templates: `page.may('add_goal')`)."""
        return self.actor.may(Action(action))


class GroupService:
    """One request's access to the launch patient's group."""

    def __init__(self, launch: ActiveLaunch, repository: GroupRepository, submissions: SubmissionLog) -> None:
        self.launch = launch
        self.repository = repository
        self.submissions = submissions
        self._names: dict[str, str] = {}
        self._page: GroupPage | None = None
        # The page's plan, newest scores, and goal or day with every score.
        self._page_key: tuple[str | None, int | None, str | date | ScoresPage | None] = (None, None, None)
        self._uow: FhirUnitOfWork | None = None

    @property
    def client(self) -> FhirClient:
        return self.repository.client

    def page(
        self,
        plan_id: str | None = None,
        *,
        newest_scores: int | None = None,
        every_score_of: str | None = None,
        every_score_on: date | None = None,
        scores_page: ScoresPage | None = None,
    ) -> GroupPage:
        """Send the viewer's own waiting saves (in order, with their own token), then read the group (once per
        request). Another user's waiting save is left waiting for its author or the worker; a launch that may
        not write sends nothing.

        `newest_scores`: how many of the newest scores to read (`GroupRepository.load`), by default
        `overview_scores()`; `EVERY_SCORE` reads them all (a page that shows them all: a meeting's report, an older
        page of the timeline). A save from a load of the newest scores reads the whole group when its action needs every
        score, and a page that reads them all without asking is run again on the whole group
        (`again_with_every_score`). `every_score_of` (a Goal's server id): every score of that goal too, with
        the newest (a goal's page with all of its scores). `every_score_on` (a day, clinic's zone): every score of
        that day too, with the newest (an older meeting's report); by default the day a view run again needs
        (`again_with_every_score`). `scores_page`: a page of the scores beside a day too, with the newest (a page of
        the timeline far back)."""
        window = _window(newest_scores)
        day = every_score_on or g.get("every_score_on")
        beside = scores_page if day is None else None
        also: str | date | ScoresPage | None = (every_score_of or day or beside) if window is not None else None
        if self._page is not None and (plan_id, window, also) == self._page_key:
            return self._page
        waiting, failed = self.repository.open_saves()  # one read of the outbox per page view
        if self.launch.can_write and self.repository.own_among(waiting):
            try:
                self.repository.replay_waiting(waiting)
            except SyncError as exc:  # an outage here is no reason not to show the group
                log.warning("outbox replay before a page load failed: %s", exc.diagnostics)
            waiting, failed = self.repository.open_saves()
        self._page = self._uow = None  # another extent's load of this request is not held while this one is read
        loaded = self.repository.load(
            plan_id,
            newest_scores=window,
            every_score_of=also if isinstance(also, str) else None,
            every_score_on=also if isinstance(also, date) else None,
            scores_page=also if isinstance(also, ScoresPage) else None,
        )
        audit = request_audit()
        self._uow = FhirUnitOfWork(
            self.repository,
            self.submissions,
            plan_id,
            loaded,
            read_only=not self.launch.can_write,
            audit=audit,
            practitioner=self.launch.user_practitioner,
        )
        actor = actor_in(loaded.group, self._uow.who())
        audit.reading(self.repository.patient, loaded.group_references(), role=actor.role.value)
        g.audit_fhir_capable = _takes_audit_events(self.repository)
        visible = visible_to(loaded.group, actor) if loaded.group is not None else None
        self._page = GroupPage(loaded, waiting, failed, actor, visible)
        self._page_key = (plan_id, window, also)
        return self._page

    def read_again(self, day: date | None = None) -> bool:
        """Forget this request's load of the newest scores, so that the view can run again on the newest scores
        and every score of `day` (the older day whose scores it needs: `ScoresNotLoaded.day`), or else on the
        whole group (`again_with_every_score`); False when that would not help (the load was whole already) or is
        not safe (a save of this request went through: running its view again would answer it as a repeat)."""
        group = self._page.loaded.group if self._page is not None else None
        if g.get("every_score") or group is None or group.scores_since is None:
            return False
        if self._uow is not None and self._uow.saved:
            return False
        if day is not None and g.get("every_score_on") is None and self._page_key[2] is None:
            g.every_score_on = day  # (a page with a goal's every score asks for every score instead)
        else:
            g.every_score = True
        self._page, self._page_key, self._uow = None, (None, None, None), None
        return True

    def uow(self) -> FhirUnitOfWork:
        """The unit of work of this request (sharing the page's load: a save costs no second read)."""
        if self._uow is None:
            self.page()
        if self._uow is None:  # pragma: no cover - page() always sets it
            raise RuntimeError("no unit of work after loading the page")
        return self._uow

    def display_name(self, reference: str) -> str:
        """A person's name as the record has it (what the page's load brought, else read once per request), else
        the reference."""
        if reference in self._names:
            return self._names[reference]
        name = reference
        rtype, _, rid = reference.partition("/")
        brought = self._page.loaded.person(reference) if self._page is not None else None
        if brought is not None:  # the load brought it ({} when the server refused it: asking again is no use)
            name = person_name(brought) or reference
        elif rtype in ("Patient", "Practitioner", "PractitionerRole", "RelatedPerson") and rid:
            try:
                name = person_name(self.client.read(rtype, rid).json()) or reference
            except SyncError as exc:
                log.info("could not read %s for its name: %s", reference, exc.diagnostics)
        self._names[reference] = name
        return name

    def search_practitioners(self, text: str, limit: int = 20) -> list[tuple[str, str]]:
        """Practitioners whose name matches `text`: (reference, name), for nominating a professional."""
        # name:contains, so "Vries" finds "Anna de Vries" (a plain name search matches the start of a part only).
        bundle = self.client.search("Practitioner", [("name:contains", text), ("_count", str(limit))]).json()
        found = []
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") or {}
            if res.get("resourceType") == "Practitioner" and res.get("id"):
                found.append((f"Practitioner/{res['id']}", person_name(res) or f"Practitioner/{res['id']}"))
        return found

    def search_practitioners_with_roles(
        self, text: str, limit: int = 20
    ) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
        """Practitioners whose name matches `text` with their active PractitionerRoles, in one request
        (`_revinclude=PractitionerRole:practitioner`): ([(reference, name)], {practitioner: [(role, what)]})."""
        params = [("name:contains", text), ("_count", str(limit)), ("_revinclude", "PractitionerRole:practitioner")]
        bundle = self.client.search("Practitioner", params).json()
        found: list[tuple[str, str]] = []
        roles: dict[str, list[tuple[str, str]]] = {}
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") or {}
            rtype, rid = res.get("resourceType"), res.get("id")
            if rtype == "Practitioner" and rid:
                found.append((f"Practitioner/{rid}", person_name(res) or f"Practitioner/{rid}"))
            elif rtype == "PractitionerRole" and rid and res.get("active", True) is not False:
                behind = ref_of(res.get("practitioner"))
                if behind is not None and ref_type(literal(behind)) == "Practitioner":
                    roles.setdefault(literal(behind), []).append((f"PractitionerRole/{rid}", role_summary(res)))
        return found, roles

    def practitioner_role(self, reference: str) -> tuple[str, str] | None:
        """A PractitionerRole's practitioner and that person's name, in one request
        (`_include=PractitionerRole:practitioner`); None when the server does not know the role."""
        params = [("_id", reference.partition("/")[2]), ("_include", "PractitionerRole:practitioner")]
        bundle = self.client.search("PractitionerRole", params).json()
        resources = [e.get("resource") or {} for e in bundle.get("entry") or []]
        role = next((r for r in resources if r.get("resourceType") == "PractitionerRole"), None)
        behind = ref_of((role or {}).get("practitioner"))
        if role is None or behind is None or ref_type(literal(behind)) != "Practitioner":
            return None
        person = next((r for r in resources if f"Practitioner/{r.get('id')}" == literal(behind)), None)
        name = (person_name(person) if person else None) or str((role.get("practitioner") or {}).get("display") or "")
        return literal(behind), name or literal(behind)


def role_summary(role: dict[str, Any]) -> str:
    """What a PractitionerRole is, for choosing one: organisation, specialty, role (the displays the EHR gives)."""
    parts = [str((role.get("organization") or {}).get("display") or "")]
    for key in ("specialty", "code"):
        for concept in role.get(key) or []:
            words = concept.get("text") or next((c.get("display") for c in concept.get("coding") or []), None)
            if words:
                parts.append(str(words))
                break
    return " · ".join(p for p in parts if p) or f"PractitionerRole/{role.get('id')}"


def _takes_audit_events(repository: GroupRepository) -> bool:
    """Whether the launch's FHIR server says it takes AuditEvents in a batch (known after the load: no request)."""
    try:
        return takes_audit_events(repository.capabilities.get(repository.client))
    except SyncError:
        return False


EVERY_SCORE = 0  # `GroupService.page(newest_scores=EVERY_SCORE)`: this page needs every score


def _window(newest_scores: int | None) -> int | None:
    """How many of the newest scores a page reads (None: every score); see `GroupService.page`."""
    if newest_scores == EVERY_SCORE or g.get("every_score"):
        return None
    if newest_scores is not None:
        return newest_scores
    return overview_scores()


def again_with_every_score(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run `view` once more on the whole group when it read a load of the newest scores as every score.

    A page reads only the newest scores unless it asks for every score (`GroupService.page`); a save from that
    load reads the whole group itself when its action needs it. A page that reads every score without asking (a
    defect to mend: it costs a second load) raises `ScoresNotLoaded` before anything is shown or sent (a
    submission's claim is released on any error), so running the view again on the whole group is safe. Not after
    a save of this request went through: that raises on, as a defect to mend.
    """

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        for _ in range(2):  # the newest scores with an older day's, then every score
            try:
                return view(*args, **kwargs)
            except ScoresNotLoaded as exc:
                service: GroupService | None = g.get("group_service")
                if service is None or not service.read_again(exc.day):
                    raise
                if g.get("every_score"):
                    log.info("%s needs every score: running it again on the whole group", request.endpoint)
                else:
                    log.info("%s needs the scores of %s: running it again with them", request.endpoint, exc.day)
        return view(*args, **kwargs)

    return run


def overview_scores() -> int | None:
    """How many of the newest scores a page that shows only those reads (`AppConfig.overview_scores`; None: all)."""
    settings: dict[str, Any] = current_app.extensions["resourcegroep"]
    return settings.get("overview_scores") or None


@dataclass(frozen=True)
class OlderScores:
    """The counts of this request's group's scores before a day (`since`: the first day the newest scores hold
    whole), for a timeline page far back asked for by its number (`plugin.group.overview.timeline_counted_place`):
    how many (`total`), the oldest one's time, and `counted(day)`, how many from `day` on (one request each; None
    when the server gives no total or refuses)."""

    total: int
    oldest: datetime | None
    counted: Callable[[date], int | None]


def older_scores(page: GroupPage, since: date) -> OlderScores | None:
    """The counts of `page`'s group's scores before `since` (see `OlderScores`): one request now, one per count
    asked later, none reading a score (a page's access record covers them: they say no more than it shows). None
    when the server does not count them."""
    repository = current_service().repository
    ref = page.loaded.index.ref(page.group.plan_uid) if page.group is not None else ""
    if not ref.startswith("CarePlan/"):  # (a plan the server does not have yet: nothing to count)
        return None
    plan = ref.split("/", 1)[1]

    end = day_start(since)

    def counted(day: date) -> int | None:
        try:
            found = repository.count_scores(plan, end, day_start(day))
        except SyncError as exc:
            log.info("counting the scores from %s failed: %s", day, exc.diagnostics)
            return None
        return found.total if found is not None else None

    try:
        first = repository.count_scores(plan, end, oldest=True)
    except SyncError as exc:
        log.info("counting the scores before %s failed: %s", since, exc.diagnostics)
        return None
    return OlderScores(first.total, first.oldest, counted) if first is not None else None


def group_page(
    see: Action,
    plan_id: str | None = None,
    *,
    newest_scores: int | None = None,
    every_score_of: str | None = None,
    every_score_on: date | None = None,
    scores_page: ScoresPage | None = None,
) -> GroupPage:
    """This request's page with its group, for an actor who may `see` it (else `NotAllowed`: the 403 page
    says who may); without a group yet, the way to the start page (the overview). `newest_scores`,
    `every_score_of`, `every_score_on`, `scores_page`: which scores the page reads (`GroupService.page`)."""
    request_audit().acting(see.value)
    page = current_service().page(
        plan_id,
        newest_scores=newest_scores,
        every_score_of=every_score_of,
        every_score_on=every_score_on,
        scores_page=scores_page,
    )
    if page.group is None:
        abort(redirect(url_for("group.overview")))
    require_overview(page.actor)  # a nominee or an outsider hears why in their own terms
    if not _repeated_submission():
        # A repeat is answered by the service as "already saved", even when the first save changed the rights.
        require(page.actor, see)
    return page


def _repeated_submission() -> bool:
    """This POST carries a submission key whose save is done."""
    if request.method != "POST":
        return False
    return repeated(current_service().uow(), request.form.get(SUBMISSION_KEY, "")) is not None


def person_name(resource: JsonDict) -> str | None:
    """The display name of a Patient, Practitioner or RelatedPerson (official name first)."""
    names = resource.get("name")
    if isinstance(names, dict):
        names = [names]
    if not isinstance(names, list) or not names:
        return None
    chosen = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0])
    if not isinstance(chosen, dict):
        return None
    if isinstance(chosen.get("text"), str) and chosen["text"].strip():
        return str(chosen["text"]).strip()
    given = " ".join(p for p in chosen.get("given") or [] if isinstance(p, str))
    family = chosen.get("family") if isinstance(chosen.get("family"), str) else ""
    return " ".join(p for p in (given, family) if p) or None


def caseload_client() -> FhirClient:
    """A FHIR client with the launch's (user-level) token, for the caseload of a launch without a patient."""
    launch: ActiveLaunch = g.launch
    settings: dict[str, Any] = current_app.extensions["resourcegroep"]
    return FhirClient(
        launch.fhir_base_url, LaunchTokens(launch), scope_context="user", **settings.get("client_options", {})
    )


def mapping_mode(launch: ActiveLaunch) -> MappingMode:
    """The mapping mode of the launch's EHR or Koppeltaal domain (configuration `mapping`)."""
    registrations = [r for r in smart_client().registry if r.name == launch.ehr_name]
    return MappingMode(registrations[0].mapping) if registrations else MappingMode.NL_CORE


def _audit_replay(entry: OutboxEntry, result: TransactionResult | None) -> None:
    """A waiting save of the user's went to the EHR on its way (or was refused for good): on the request's record."""
    written = (
        None if result is None else [w.reference for w in result.written if not w.reference.startswith("Provenance/")]
    )
    request_audit().replayed_save(written)


def current_service() -> GroupService:
    """The service for this request's launch (inside `@launch_required` views)."""
    service: GroupService | None = g.get("group_service")
    if service is not None:
        return service
    launch: ActiveLaunch = g.launch
    if launch.patient_id is None:
        # A launch without a patient (e.g. a team lead's) has no group pages: show the caseload instead.
        abort(redirect(url_for("group.caseload"), code=303))
    settings: dict[str, Any] = current_app.extensions["resourcegroep"]
    client = FhirClient(launch.fhir_base_url, LaunchTokens(launch), **settings.get("client_options", {}))
    outbox: Outbox = settings["outbox"]
    caps: CapabilityCache = settings["capabilities"]
    repository = GroupRepository(
        client=client,
        patient_id=launch.patient_id,
        user=launch.fhir_user_reference or "Practitioner/unknown",
        outbox=outbox,
        capabilities=caps,
        mapping=mapping_mode(launch),
        read_cache=settings.get("read_cache"),
        on_replayed=_audit_replay,
        every_score_in_pages=bool(settings.get("every_score_in_pages")),
    )
    service = GroupService(launch, repository, settings["submissions"])
    g.group_service = service
    request_audit().about(repository.patient)
    return service
