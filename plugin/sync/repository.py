"""The group repository: load one patient's resource group, save one user action as one transaction.

This is the glue between the pure mapping (`fhir_mappings`) and the generic sync layer:

- **load**: the whole group in one round trip (a CarePlan search with includes), else a batch of
  searches by patient, else those searches one by one (degraded, logged); pages are followed. What was
  read is kept (`LoadedGroup.resources`) because its versions are what a save checks against.
- **save** (the unit of work): a user action is a function that changes a copy of the domain group.
  `group_to_fhir` of the result is compared with what was read: new entities become creates
  (`ifNoneExist` on the product identifier), changed resources updates (`ifMatch` = the version read),
  unchanged ones are not sent. One transaction Bundle with one Provenance. On 409/412 the group is read
  again; when the other side's change does not touch what this action changed (two goals added to the
  plan, a note appended), the action is applied again to the fresh group and sent; two edits of the same
  element raise a `Conflict` with both versions. When the server is out of reach the Bundle waits in the
  outbox and the result says so.
- **the compartment guard**: everything read must be the launch patient's; every reference written must
  be the patient, a resource of this group, a member of its team, a place of its meetings or a resource
  created in the same Bundle. Anything else is refused and logged.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import functools
import gc
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from fhir_mappings.codes import CS_V3_DATA_OPERATION, IDENTIFIER_SYSTEM, SAVE_KEY_SYSTEM
from fhir_mappings.copying import copy_group
from fhir_mappings.errors import CompartmentError
from fhir_mappings.from_fhir import (
    check_read_compartment,
    group_from_fhir,
    newest_of_oldest_first,
    oldest_of_newest_first,
    plans_in,
    scores_on_the_day_of,
)
from fhir_mappings.model import (
    CLINIC_ZONE,
    DaySpan,
    ResourceGroup,
    ScoresNotLoaded,
    Unreadable,
    day_start,
    first_day_after,
    seeded_uid,
    uids_from,
)
from fhir_mappings.profiles import MappingMode
from fhir_mappings.query import (
    counted_scores_params,
    day_scores_params,
    goal_scores_params,
    group_load_params,
    group_searches_by_patient,
    later_scores_params,
    newest_scores_params,
    older_scores_params,
)
from fhir_mappings.refs import URN_UUID, RefIndex, literal, ref_type
from fhir_mappings.to_fhir import group_to_fhir, save_scope
from plugin.sync.capabilities import CapabilityCache, LoadStrategy, ServerCapabilities, choose_load_strategy
from plugin.sync.client import FhirClient, FhirResponse, parse_json, resource_key
from plugin.sync.compact import SharedParts
from plugin.sync.conflict import three_way_merge
from plugin.sync.errors import (
    CompartmentViolation,
    Conflict,
    JsonDict,
    OutageError,
    PreconditionFailed,
    SyncError,
)
from plugin.sync.outbox import Outbox, OutboxEntry, ReplayObserver, SaveOutcome, replay, save_or_enqueue
from plugin.sync.readcache import ReadCache, answer_digest, fingerprint, scope_digest
from plugin.sync.transaction import ChangeSet, TransactionResult, data_meta, submit

log = logging.getLogger(__name__)

T = TypeVar("T")

# Elements the server owns: a difference there is no change of ours.
_SERVER_OWNED = ("meta", "text")
_PERSON_TYPES = frozenset({"Patient", "Practitioner", "PractitionerRole", "RelatedPerson"})
# A load of every score reads them as a window of "all the newest": the batch's page, then stretch by stretch.
_EVERY_SCORE_PAGED = 2**62


@dataclass(frozen=True)
class ScoresPage:
    """A page of the scores beside a day (clinic's zone): the newest up to and including `day`, newest first, or
    with `later` the oldest from `day` on, oldest first. What a page of the timeline far back reads beside the
    newest scores (`GroupRepository.load`, `scores_page`): its older link names the day it starts, its newer link the
    day it ends."""

    day: dt.date
    later: bool = False


# Besides the newest scores, a load reads every score of a Goal (its server id) or of a day, or a page of the
# scores up to a day (`load`), or none of these.
_Also = str | dt.date | ScoresPage | None


@dataclass(frozen=True)
class ScoresCounted:
    """How many of a group's scores fall in a stretch of time (`GroupRepository.count_scores`), and the time of the
    oldest of them when asked (None: none, or not asked)."""

    total: int
    oldest: dt.datetime | None = None


class NoVersion(SyncError):
    """The server gave a resource without meta.versionId: it cannot be updated safely."""

    default_user_message = "Het EPD gaf geen versie mee. Daarom kunnen we dit niet veilig opslaan."
    default_user_message_en = "The EHR sent no version, so this cannot be saved safely."


@dataclass
class LoadedGroup:
    """What one load read: the group (None when the patient has none yet) and the resources as read."""

    patient: str
    group: ResourceGroup | None
    index: RefIndex
    resources: dict[str, JsonDict]  # "Type/id" -> the resource as read (its meta.versionId is what a save checks)
    plans: list[JsonDict]  # every resource-group plan of the patient, newest open first
    strategy: LoadStrategy
    round_trips: int
    # The launch patient, read in the same round trip as the group (None: not read, or the server refused it).
    patient_resource: JsonDict | None = None
    patient_asked: bool = False  # the load asked for the patient (so a refusal need not be asked again)
    # The load asked for this many of the newest scores instead of all (a page that shows the newest only): the
    # group says from which day it holds them (`ResourceGroup.scores_since`; a save reads the whole group when the
    # action needs every score).
    newest_scores: int | None = None
    # The Goal (server id) whose every score the load read beside the newest scores (a goal's page with all of them).
    every_score_of: str | None = None
    # The older day whose every score the load read beside the newest scores (an older meeting's report).
    every_score_on: dt.date | None = None
    # The page of scores beside a day the load read too (a page of the timeline far back; the group says which days
    # it holds whole: `ResourceGroup.holds_every_score_from`).
    scores_page: ScoresPage | None = None

    def person(self, reference: str) -> JsonDict | None:
        """A person this load brought (the launch patient, the team's practitioners and related persons).

        ``{}`` when the load asked for the patient and the server refused it (asking again would be refused too);
        None when the load did not bring it (the caller may read it).
        """
        if reference == self.patient and self.patient_asked:
            return self.patient_resource if self.patient_resource is not None else {}
        found = self.resources.get(reference)
        return found if found is not None and found.get("resourceType") in _PERSON_TYPES else None

    def group_references(self) -> list[str]:
        """What reading the group reads, for the access record: its team and plans (a page shows their content)."""
        return [key for key in self.resources if key.startswith(("CareTeam/", "CarePlan/"))]

    @property
    def unreadable(self) -> list[Unreadable]:
        """What the record holds for the group that the app could not read (left out; never rewritten)."""
        return self.group.unreadable if self.group is not None else []


@dataclass(frozen=True)
class Saved(Generic[T]):
    """The result of one user action: what the action returned and whether the record has it yet.

    `saved` is True only when the server confirmed it; `waiting` when it sits in the outbox. Neither is
    true when the action changed nothing.
    """

    value: T
    group: ResourceGroup
    outcome: SaveOutcome | None
    rounds: int = 1
    written: tuple[str, ...] = ()
    repeated: bool = False  # the same submission was in the record already: nothing was written now

    @property
    def saved(self) -> bool:
        return self.outcome is not None and self.outcome.saved

    @property
    def waiting(self) -> bool:
        return self.outcome is not None and not self.outcome.saved

    @property
    def changed(self) -> bool:
        return self.outcome is not None

    @property
    def result(self) -> TransactionResult | None:
        return self.outcome.result if self.outcome is not None else None


@dataclass
class Activity:
    """What the user did, for the Provenance (Dutch text, as the clinic's record shows it)."""

    text: str
    code: str | None = None  # v3-DataOperation; derived from the change set when None
    reason: str | None = None  # why, where the rules ask for one (Provenance.reason)


@dataclass
class GroupRepository:
    """Load and save the resource group of one launch patient, as one user, on one FHIR server."""

    client: FhirClient
    patient_id: str
    user: str  # literal reference of the launching user (the Provenance agent)
    outbox: Outbox
    capabilities: CapabilityCache = field(default_factory=CapabilityCache)
    user_display: str | None = None
    page_size: int = 1000
    max_rounds: int = 3
    mapping: MappingMode = MappingMode.NL_CORE  # the EHR's or Koppeltaal domain's profiles (docs/mapping.md)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    # Map the whole group too on every save and fail when the save's scope missed a change (tests, debugging;
    # on with RESOURCEGROEP_CHECK_SAVE_SCOPE=1).
    check_scope: bool = field(default_factory=lambda: os.environ.get("RESOURCEGROEP_CHECK_SAVE_SCOPE") == "1")
    # Reads already made into the domain (plugin/sync/readcache.py): an answer with the same resource versions as
    # one read before is not read into the domain again. None: every load reads its answer (the default).
    read_cache: ReadCache[LoadedGroup] | None = None
    # Told of each of this user's waiting saves sent (with what it wrote) or refused for good (None) on their way
    # (before a page, before a save, on "try again"): the app's audit trail records them as writes.
    on_replayed: ReplayObserver | None = None
    # Read every score page by page (`load`; `AppConfig.every_score_in_pages`): bounded memory, a request per page.
    every_score_in_pages: bool = False

    @property
    def patient(self) -> str:
        return f"Patient/{self.patient_id}"

    # ------------------------------------------------------------------ the outbox

    def waiting(self) -> list[OutboxEntry]:
        """Saves of this patient that wait for the EHR (the UI shows "wacht op opslaan in het EPD")."""
        return self.outbox.pending_for(self.patient)

    def failed(self) -> list[OutboxEntry]:
        """Saves of this patient the EHR refused for good when they were replayed."""
        return self.outbox.failed_for(self.patient)

    def open_saves(self) -> tuple[list[OutboxEntry], list[OutboxEntry]]:
        """``waiting()`` and ``failed()`` in one read of the outbox (a page view shows both)."""
        return self.outbox.open_for(self.patient)

    def replay_waiting(self, pending: list[OutboxEntry] | None = None) -> bool:
        """Send this user's own waiting saves of this patient, in order, with this user's token; True when
        none of theirs is left waiting. Another author's save is never sent with this token: it waits for
        its author or for the worker (and a later save of this user waits behind it, to keep the order).
        ``pending``: the patient's waiting saves as just read (else they are read here)."""
        if not self.own_among(self.outbox.pending_for(self.patient) if pending is None else pending):
            return True
        replay(
            self.outbox,
            self.client,
            patient=self.patient,
            capabilities=self._caps(),
            user=self.user,
            on_done=self.on_replayed,
        )
        return not self.own_among(self.outbox.pending_for(self.patient))

    def own_among(self, entries: Iterable[OutboxEntry]) -> bool:
        """Whether any of these outbox entries is this user's."""
        return any(e.user == self.user for e in entries)

    # ------------------------------------------------------------------ load

    def _caps(self) -> ServerCapabilities:
        return self.capabilities.get(self.client)

    def load(
        self,
        plan_id: str | None = None,
        *,
        newest_scores: int | None = None,
        every_score_of: str | None = None,
        every_score_on: dt.date | None = None,
        scores_page: ScoresPage | None = None,
        at_once: bool = False,
    ) -> LoadedGroup:
        """Read the patient's group (the newest open one, or `plan_id`) and the patient: one round trip where the
        server allows (the include search and the patient's read in one batch), even when there is no group yet.

        `newest_scores` (a page that shows only the newest scores, e.g. the overview): the batch asks for that many of
        the patient's newest scores instead of every score, still in one round trip. When there are older ones the
        group holds the scores from the first whole day the answer covers (`ResourceGroup.scores_since`); reading it
        as all scores raises `ScoresNotLoaded` (`save` then reads the whole group). Only where the load is one batch
        with includes; otherwise, or when the server does not sort the scores, every score is read. A window larger
        than a page (`page_size`; an older page of the timeline asks for one) is read as the batch's first page and
        then stretch by stretch of older scores (`older_scores_params`, one request each), until it holds that many.

        `every_score_of` (a Goal's server id, with `newest_scores`: a goal's page that shows all of its scores): the
        same batch reads every score of that goal too, so the group holds them all as well
        (`ResourceGroup.holds_every_score_of`), not every score of the group. A server that refuses that search
        leaves the goal with the newest scores only.

        `every_score_on` (a day in the clinic's zone, with `newest_scores`, not with `every_score_of`: an older
        meeting's report): the same batch reads every score given that day too (`day_scores_params`), so the group
        holds the scores of a held meeting of that day (`ResourceGroup.holds_scores_at`). A server that refuses that
        search leaves the day out.

        `scores_page` (with `newest_scores`, alone: a page of the timeline far back): the same batch reads a page of
        the newest scores up to and including its day (`older_scores_params`), so the group holds every score of the
        days from the first whole day that page covers up to that day (all days before it too when the page holds
        the oldest score); or, `later`, a page of the oldest scores from its day on (`later_scores_params`), so the
        group holds every score from that day up to the last whole day the page covers (every later day when it
        holds the newest score). `ResourceGroup.holds_every_score_from` says which days. Never the search's further
        pages. A server that refuses that search leaves those days out.

        With `every_score_in_pages`, every score (no `newest_scores`) is read the same way, page by page: the batch
        brings the newest page of scores and further stretches the older ones, so a huge group's scores are never
        one answer parsed at once (the peak memory of a page that shows them all), at the cost of a request per
        page. A group with no more scores than a page takes the one round trip. Else, or with `at_once`, every
        score comes in the include search itself (what the paged read falls back to when the scores do not come
        newest first, or a day has more scores than a page).
        """
        caps = self._caps()  # once per load: the cache may live outside this process
        strategy = choose_load_strategy(caps)
        batched = strategy is LoadStrategy.INCLUDE and caps.supports_batch
        window = newest_scores if batched else None
        if window is not None and window < 1:
            raise ValueError(f"newest_scores must be at least 1, not {window}")
        if sum(x is not None for x in (every_score_of, every_score_on, scores_page)) > 1:
            raise ValueError("read every score of a goal or of a day, or a page of scores beside a day: one of them")
        paged = batched and window is None and self.every_score_in_pages and not at_once  # every score, in pages
        wanted = _EVERY_SCORE_PAGED if paged else window  # how many of the newest scores to read
        before = self.client.request_count
        patient: _PatientRead = _PatientRead()
        raw: bytes | None = None  # the one answer every resource was parsed from, when it is one
        answer_key: bytes | None = None
        new_versions = False  # known from the bytes alone (an EHR that repeats its bytes for the same versions)
        since: dt.date | None = None  # the first day of the scores held, when older ones were not read
        unordered = False  # the newest scores came in no known order: read every score instead
        also: _Also = None  # the Goal (server id) or the day whose every score the batch read too, or up to a day
        span: DaySpan | None = None  # the older days whose every score a page up to a day holds
        shared = SharedParts()  # the scores' repeated parts, as one object each
        with contextlib.ExitStack() as reading:
            if batched:
                searches = [("CarePlan", group_load_params(self.patient_id, self.page_size, scores=wanted is None))]
                also = (every_score_of or every_score_on or scores_page) if window is not None else None
                # Before the newest scores: those stay the batch's last search.
                if isinstance(also, str):
                    searches.append(("Observation", goal_scores_params(self.patient_id, also, self.page_size)))
                elif isinstance(also, ScoresPage):
                    searches.append(("Observation", self._scores_page_params(also)))
                elif also is not None:
                    searches.append(("Observation", day_scores_params(self.patient_id, also, self.page_size)))
                # A deeper window than one page: the batch reads the first page, further stretches follow it.
                first: int | None = min(wanted, self.page_size) if wanted is not None else None
                if first is not None:
                    searches.append(("Observation", newest_scores_params(self.patient_id, first)))
                answered = self.client.batch(self._batch_of(searches), parse=self.read_cache is None)
                # The bytes of a deeper window's batch are not its whole answer: the cache knows it by its versions.
                # (Every score's batch is, when it holds them all: only such an answer is ever kept by its bytes.)
                deep = wanted is not None and first is not None and wanted > first
                answer_key = None if deep and not paged else self._answer_key(answered.raw, plan_id, window, also)
                if answer_key is not None and self.read_cache is not None:
                    scope, kin = self._scope_keys(plan_id, window, also)
                    same = self.read_cache.get(answer_key)
                    if same is not None:  # the very bytes of an answer read before: not even parsed again
                        self.read_cache.same_bytes_again(scope, kin)
                        return self._read_before(same, strategy, self.client.request_count - before)
                    new_versions = self.read_cache.other_bytes(scope, kin)
                if self.read_cache is not None and (deep or answer_key is not None):
                    # Before it is parsed, a huge group's kept reads go: of another extent (the overview after the
                    # report), and for a deeper read, whose bytes say nothing of its versions, its own too.
                    self.read_cache.big_kin_go(*self._scope_keys(plan_id, window, also), others_only=not deep)
                reading.enter_context(collector_paused())  # from here: parsed and read into the domain
                found, patient, raw, more, refused, beyond = self._batch_searches(
                    searches,
                    answered,
                    first_page_of=first,
                    optional=1 if also is not None else None,
                    optional_first_page=self.page_size if isinstance(also, ScoresPage) else None,
                )
                if refused:
                    also = None  # (logged) the goal's or day's scores are those of the newest, as without asking
                elif isinstance(also, ScoresPage):
                    span = self._span_of(also, found[1], beyond)
                resources = [r for page in found for r in page] if wanted is not None else found[0]
                if deep or wanted is None or isinstance(also, ScoresPage):
                    # Every score, or many (a deeper window, two pages): their parts are shared (a page's few are not)
                    shared.share(resources)
                if more:
                    cut = oldest_of_newest_first(found[-1])
                    if cut is None:  # not newest first (or refused): which scores are missing is unknown
                        log.warning(
                            "fhir group load for %s: the newest scores did not come newest first; reading every score",
                            self.patient,
                        )
                        unordered = True
                    else:
                        since = first_day_after(cut)
                        if deep and wanted is not None:
                            older, since, unordered = self._older_scores(found[-1], cut, wanted, shared)
                            if older:
                                resources += older
                                raw = None  # more than the batch's answer: the compartment pass reads them all
                            if paged and since is not None and not unordered:
                                # A day with more scores than a page: the stretches cannot pass it.
                                log.warning(
                                    "fhir group load for %s: a day has more scores than a page; reading every score "
                                    "at once",
                                    self.patient,
                                )
                                return self.load(plan_id, at_once=True)
            elif strategy is LoadStrategy.INCLUDE:
                answer = self.client.search("CarePlan", group_load_params(self.patient_id, self.page_size))
                resources = _resources(self.client.pages(answer))
            else:
                resources, patient = self._load_by_patient(strategy, caps)
            if unordered:
                return self.load(plan_id, at_once=True)  # (logged above)
            round_trips = self.client.request_count - before
            aliases = (answer_key,) if answer_key is not None and raw is not None else ()  # one answer: its bytes too
            return self._loaded(
                resources,
                strategy,
                round_trips,
                plan_id,
                patient,
                raw,
                aliases,
                new_versions,
                window,
                since,
                also,
                span,
            )

    def count_scores(
        self, plan_id: str, end: dt.datetime, start: dt.datetime | None = None, *, oldest: bool = False
    ) -> ScoresCounted | None:
        """How many scores of the group of `plan_id` (the CarePlan's server id) fall from `start` (None: ever) up to
        `end` (`counted_scores_params`): one request that reads no score (with `oldest`, one: only its time is
        used). None when the server gives no total; then the caller reads the scores instead."""
        answer = self.client.search(
            "Observation", counted_scores_params(self.patient_id, plan_id, end, start, oldest=oldest)
        )
        body = answer.body or {}
        total = body.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            log.info("fhir score count for %s: the server gave no total", self.patient)
            return None
        moment = None
        if oldest:
            entries = [e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)]
            moment = newest_of_oldest_first(
                r for r in entries if isinstance(r, dict) and r.get("resourceType") == "Observation"
            )
        return ScoresCounted(total, moment)

    def _scores_page_params(self, page: ScoresPage) -> list[tuple[str, str]]:
        if page.later:
            since = day_start(page.day)
            return later_scores_params(self.patient_id, since, self.page_size)
        after = day_start(page.day + dt.timedelta(days=1))
        return older_scores_params(self.patient_id, after, self.page_size)

    def _span_of(self, asked: ScoresPage, page: list[JsonDict], beyond: bool) -> DaySpan | None:
        """The days a page of scores beside a day (`asked`) holds whole. Up to the day (newest first): from the day
        after its oldest score's (that day may go on in older scores), or from the first score when the search found
        no more (`beyond`: it did). From the day on (oldest first): up to the day before its newest score's, or on
        (`date.max`) when it found no more. None when the scores did not come in the order asked (nothing is known
        of them then)."""
        scores = [r for r in page if r.get("resourceType") == "Observation"]
        if not beyond and len(scores) < self.page_size:
            return (asked.day, dt.date.max) if asked.later else (None, asked.day)
        edge = newest_of_oldest_first(scores) if asked.later else oldest_of_newest_first(scores)
        if edge is None:
            log.warning("fhir group load for %s: the scores beside %s came in no order", self.patient, asked.day)
            return None
        if asked.later:
            return asked.day, edge.astimezone(CLINIC_ZONE).date() - dt.timedelta(days=1)
        return first_day_after(edge), asked.day

    def _older_scores(
        self, page: list[JsonDict], cut: dt.datetime, window: int, shared: SharedParts
    ) -> tuple[list[JsonDict], dt.date | None, bool]:
        """Deepen a window of newest scores whose first page (`page`, newest first, its oldest score at `cut`) holds
        every score from the day after `cut` on, to `window` scores: stretch by stretch of older ones
        (`older_scores_params`, one request each). A stretch starts at `cut`'s day again (its scores held so far
        come again and are kept once) and asks for no more than the window still lacks. Returns the scores added,
        the first day now held whole (None: every score is held), and whether a stretch came unsorted (then every
        score is to be read). Each stretch's scores hold their repeated parts as one object (`shared`) before the
        next is read."""
        held = {str(r.get("id")) for r in page if r.get("resourceType") == "Observation"}
        added: list[JsonDict] = []
        since = first_day_after(cut)
        again = scores_on_the_day_of(page, cut)  # held scores of `cut`'s day: the next stretch brings them again
        while len(held) < window:
            start = day_start(since)
            count = min(self.page_size, window - len(held) + again)
            stretch = self.client.search("Observation", older_scores_params(self.patient_id, start, count)).json()
            scores = [r for r in _resources([stretch]) if r.get("resourceType") == "Observation"]
            fresh = [r for r in scores if str(r.get("id")) not in held]
            shared.share(fresh)
            further = _has_next(stretch) or _more_than_page(stretch, count)
            if not further:
                return added + fresh, None, False  # the oldest score is among them: every score is held
            oldest = oldest_of_newest_first(scores)
            if oldest is None:
                log.warning("fhir group load for %s: older scores did not come newest first", self.patient)
                return [], since, True
            if not fresh:  # a whole stretch of one day's scores, all held: no deeper from here
                log.info("fhir group load for %s: the window of scores stops at %s", self.patient, since)
                break
            held.update(str(r.get("id")) for r in fresh)
            added += fresh
            since, again = first_day_after(oldest), scores_on_the_day_of(scores, oldest)
            del stretch, scores  # (the rest of this answer goes before the next one is read)
        return added, since, False

    def _batch_of(self, searches: list[tuple[str, list[tuple[str, str]]]]) -> JsonDict:
        """The batch of the searches and the patient's read."""
        return {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": url}} for url in [*_urls(searches), self.patient]],
        }

    def _batch_searches(
        self,
        searches: list[tuple[str, list[tuple[str, str]]]],
        answered: FhirResponse | None = None,
        *,
        first_page_of: int | None = None,
        optional: int | None = None,
        optional_first_page: int | None = None,
    ) -> tuple[list[list[JsonDict]], _PatientRead, bytes | None, bool, bool, bool]:
        """The searches and the patient's read as one batch (or its `answered`, parsed or not): the resources per
        search (pages followed), the patient, the batch's answer as received when every resource came in it (else
        None), whether the last search found more than its first page, and whether the `optional` search (an
        index) was refused, and whether it found more than its first page. `first_page_of`: the last search asked for
        that many and its further pages are not read (the newest scores: the first page is what was asked for). A
        refused `optional` search finds nothing; `optional_first_page`: it asked for that many and its further pages
        are not read either (a page of scores beside a day).
        """
        urls = _urls(searches)
        if answered is None:
            answered = self.client.batch(self._batch_of(searches))
        answer = answered.body if answered.body is not None else parse_json(answered.raw, answered.headers)
        if answer is None:
            raise SyncError(f"the batch answer of {self.client.base_url} holds no JSON")
        entries = [e if isinstance(e, dict) else {} for e in answer.get("entry") or []]
        found: list[list[JsonDict]] = []
        one_page = True
        more = refused = beyond = False
        for index, ((rtype, _), url) in enumerate(zip(searches, urls, strict=True)):
            entry = entries[index] if index < len(entries) else {}
            page = entry.get("resource")
            response = _response_of(entry)
            status = str(response.get("status", ""))
            newest = first_page_of is not None and index == len(searches) - 1
            if newest and (not status.startswith("2") or not isinstance(page, dict)):
                # Refused (a server that cannot sort them, a scope without the scores): nothing is known of them.
                log.info("fhir group load for %s: the newest scores were not read (%s)", self.patient, status)
                found.append([])
                more = True
                continue
            if index == optional and (not status.startswith("2") or not isinstance(page, dict)):
                log.info("fhir group load for %s: the search %s was refused (%s)", self.patient, url, status)
                found.append([])
                refused = True
                continue
            if not status.startswith("2"):
                raise self.client.entry_error("GET", url, response, f"batch search for {rtype} failed")
            if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
                raise SyncError(f"batch search for {rtype} failed: {status or 'no answer'}")
            further = _has_next(page)
            if index == optional and optional_first_page is not None:
                beyond = further or _more_than_page(page, optional_first_page)
                found.append(_resources([page]))
                continue
            if newest and first_page_of is not None:
                more = further or _more_than_page(page, first_page_of)
                found.append(_resources([page]))
                continue
            one_page = one_page and not further
            found.append(_resources(self.client.pages(page)))
        last = entries[len(searches)] if len(entries) > len(searches) else {}
        raw = answered.raw if one_page and answered.raw else None
        return found, self._patient_from(last), raw, more, refused, beyond

    def _patient_from(self, entry: JsonDict) -> _PatientRead:
        """The launch patient from a batch entry; a refusal (no right to read it, gone) only costs the name."""
        response = _response_of(entry)
        status = str(response.get("status", ""))
        resource = entry.get("resource")
        if not status.startswith("2") or not isinstance(resource, dict):
            log.info("fhir group load for %s: the patient was not read (%s)", self.patient, status or "no answer")
            return _PatientRead(None, asked=True)
        if resource.get("resourceType") != "Patient" or resource.get("id") != self.patient_id:
            got = f"{resource.get('resourceType')}/{resource.get('id')}"
            log.error("compartment guard refused a load for %s: the patient's read returned %s", self.patient, got)
            raise CompartmentViolation(f"the read of {self.patient} returned {got}")
        return _PatientRead(resource, asked=True)

    def _load_by_patient(self, strategy: LoadStrategy, caps: ServerCapabilities) -> tuple[list[JsonDict], _PatientRead]:
        searches = group_searches_by_patient(self.patient_id, self.page_size)
        found: list[JsonDict] = []
        patient = _PatientRead()
        if strategy is LoadStrategy.BATCH:
            pages, patient, _, _, _, _ = self._batch_searches(searches)
            found = [r for page in pages for r in page]
        else:
            log.warning("fhir group load for %s runs searches one by one (degraded)", self.patient)
            for rtype, params in searches:
                found += _resources(self.client.pages(self.client.search(rtype, params)))
        return found + self._missing_places(found, caps), patient

    def _missing_places(self, found: list[JsonDict], caps: ServerCapabilities) -> list[JsonDict]:
        """Read the Locations the meetings name that no search returned (one batch of reads)."""
        have = {resource_key(r) for r in found if r.get("id")}
        wanted = sorted(
            {
                literal(str((p.get("actor") or {}).get("reference", "")))
                for r in found
                if r.get("resourceType") == "Appointment"
                for p in r.get("participant") or []
                if ref_type(str((p.get("actor") or {}).get("reference", ""))) == "Location"
            }
            - have
        )
        if not wanted:
            return []
        if caps.supports_batch:
            bundle = {
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [{"request": {"method": "GET", "url": key}} for key in wanted],
            }
            answer = self.client.batch(bundle).json()
            return [
                e["resource"]
                for e in answer.get("entry") or []
                if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Location"
            ]
        places = []
        for key in wanted:
            rtype, rid = key.split("/", 1)
            places.append(self.client.read(rtype, rid).json())
        return places

    def _loaded(
        self,
        resources: list[JsonDict],
        strategy: LoadStrategy,
        round_trips: int,
        plan_id: str | None,
        patient: _PatientRead | None = None,
        raw: bytes | None = None,
        aliases: tuple[bytes, ...] = (),
        new_versions: bool = False,
        window: int | None = None,
        since: dt.date | None = None,
        also: _Also = None,
        span: DaySpan | None = None,
    ) -> LoadedGroup:
        """The load of `resources`: a read kept with the same versions, or checked and read into the domain.
        `new_versions`: the answer's bytes already said its versions are new (no read can have them: the answer
        is then kept by its bytes alone). `window`: the load asked for that many newest scores; `since`: the
        first day of the scores it holds all of (None: it holds every score); `also`: the Goal (server id) or the
        day whose every score it read too, or the page of scores beside a day (`span`: the older days that page holds
        whole)."""
        patient = patient or _PatientRead()
        key = None if new_versions and aliases else self._cache_key(resources, plan_id, patient, window, also)
        scope_keys = self._scope_keys(plan_id, window, also)
        if key is not None and self.read_cache is not None:
            cached = self.read_cache.get(key)
            if cached is not None:
                # The same versions as a read before: that read (checked, made into the domain) is this one's.
                if aliases:
                    self.read_cache.put(key, cached, len(cached.resources), aliases, *scope_keys)
                return self._read_before(cached, strategy, round_trips)
        try:
            # The one compartment pass of this load (a scan of the answer's text when it was one answer).
            checked = check_read_compartment(resources, self.patient, raw=raw)
        except CompartmentError as exc:
            log.error("compartment guard refused a load for %s: %s", self.patient, exc.log_message)
            raise CompartmentViolation(exc.log_message) from exc
        by_key = {resource_key(r): r for r in checked if r.get("id")}
        plans = plans_in(by_key.values(), self.patient)
        index = RefIndex()
        group: ResourceGroup | None = None
        if plans:
            # One resource the app cannot read (another system's, an older version's) never locks the group:
            # it is left out, listed in group.unreadable, and no save rewrites it.
            group, index = group_from_fhir(
                checked.narrowed(by_key.values()), self.patient, plan_id, tolerate=self._unreadable
            )
            if since is not None:
                group.hold_scores_since(
                    since,
                    [index.uid(f"Goal/{also}")] if isinstance(also, str) else (),
                    [also] if isinstance(also, dt.date) else (),
                    span,
                )
        log.info(
            "fhir group load for %s: %d resources, %d round trip(s), strategy %s",
            self.patient,
            len(by_key),
            round_trips,
            strategy.value,
        )
        loaded = LoadedGroup(
            self.patient,
            group,
            index,
            by_key,
            plans,
            strategy,
            round_trips,
            patient.resource,
            patient.asked,
            window,
            also if isinstance(also, str) else None,
            also if isinstance(also, dt.date) else None,
            also if isinstance(also, ScoresPage) else None,
        )
        main = key if key is not None else (aliases[0] if aliases else None)  # no versions: only its very bytes
        if main is not None and self.read_cache is not None:
            self.read_cache.put(main, loaded, len(checked), aliases, *scope_keys)
        return loaded

    def _read_before(self, cached: LoadedGroup, strategy: LoadStrategy, round_trips: int) -> LoadedGroup:
        log.info(
            "fhir group load for %s: %d resources, %d round trip(s), strategy %s, read before",
            self.patient,
            len(cached.resources),
            round_trips,
            strategy.value,
        )
        return dataclasses.replace(cached, strategy=strategy, round_trips=round_trips)

    def _scope(self, plan_id: str | None, window: int | None = None, also: _Also = None) -> tuple[str, ...]:
        """What a read depends on besides the answer (a load of the newest scores is another read than a whole one,
        and one with a goal's or a day's every score another again)."""
        whole = (self.client.base_url, self.patient, plan_id or "", self.mapping.value)
        if window is None:
            return whole
        if also is None:
            return (*whole, f"newest={window}")
        if isinstance(also, ScoresPage):
            return (*whole, f"newest={window}", f"{'from' if also.later else 'until'}={also.day.isoformat()}")
        return (*whole, f"newest={window}", f"goal={also}" if isinstance(also, str) else f"day={also.isoformat()}")

    def _scope_keys(self, plan_id: str | None, window: int | None, also: _Also = None) -> tuple[bytes, bytes]:
        """The read cache's scope of this read, and its kin: the scope of the group's whole read (the same for a
        whole read)."""
        return scope_digest(self._scope(plan_id, window, also)), scope_digest(self._scope(plan_id))

    def _answer_key(
        self, raw: bytes, plan_id: str | None, window: int | None = None, also: _Also = None
    ) -> bytes | None:
        """The read cache's key of an answer's bytes (None: no cache)."""
        if self.read_cache is None or not self.read_cache.enabled or not raw:
            return None
        return answer_digest(self._scope(plan_id, window, also), raw)

    def _cache_key(
        self,
        resources: list[JsonDict],
        plan_id: str | None,
        patient: _PatientRead,
        window: int | None = None,
        also: _Also = None,
    ) -> bytes | None:
        """The read cache's key of this answer (None: no cache, or a resource without a version)."""
        if self.read_cache is None or not self.read_cache.enabled:
            return None
        scope = (*self._scope(plan_id, window, also), f"asked={patient.asked}")
        return fingerprint(scope, resources, [patient.resource])

    def _unreadable(self, what: str, exc: Exception) -> None:
        log.warning("fhir group load for %s: %s cannot be read and is left out: %s", self.patient, what, exc)

    # ------------------------------------------------------------------ save (the unit of work)

    def start(self, group: ResourceGroup, activity: Activity, key: str | None = None) -> Saved[ResourceGroup]:
        """Create a new group (made by the domain: the patient regisseur, the launching user regieondersteuner)."""
        empty = LoadedGroup(self.patient, None, RefIndex(), {}, [], LoadStrategy.INCLUDE, 0)
        changeset = self._diff(group, empty, key)
        outcome = self._send(changeset, self._bundle(changeset, activity))
        return Saved(group, group, outcome, 1, tuple(changeset.written))

    def save(
        self,
        loaded: LoadedGroup,
        action: Callable[[ResourceGroup], T],
        activity: Activity | str,
        key: str | None = None,
    ) -> Saved[T]:
        """Apply `action` to a copy of the loaded group and save what changed, as one transaction.

        Raises the action's `DomainError` (nothing is sent), `Conflict` for a real conflict, and the sync
        errors of a refusal. An outage is no error: the result is `waiting`. `key` (the form's submission
        key) is the save's idempotency key and seeds the uids the action makes; without it a fresh one.

        From a load of the newest scores (`load(newest_scores=N)`) the action runs on the scores held; when it needs
        more (it reads them all, which raises `ScoresNotLoaded` before anything is sent) the newest scores and every
        score of the day it names are read (the scores of an older meeting: `ScoresNotLoaded.day`), or else the
        whole group, and the action runs on that.
        """
        key = key or str(uuid.uuid4())
        read = loaded.group
        if read is None:
            raise ValueError("there is no group to change; start one first")
        what = Activity(activity) if isinstance(activity, str) else activity
        if read.scores_since is not None:
            # A load of the newest scores (a page that shows only those): most actions never look at a score. One
            # that does reads more than the window, which raises before anything is sent: then the window and the
            # older day it names (an older meeting's scores), else (or when that does not do) the whole group.
            try:
                return self._save(loaded, read, action, what, key)
            except ScoresNotLoaded as exc:
                day = exc.day if loaded.newest_scores is not None and loaded.every_score_on is None else None
            if day is not None:
                log.info("fhir save for %s: the action needs the scores of %s; reading them", self.patient, day)
                loaded = self.load(plan_id=read.plan_uid, newest_scores=loaded.newest_scores, every_score_on=day)
                read = self._group_of(loaded)
                try:
                    return self._save(loaded, read, action, what, key)
                except ScoresNotLoaded:  # (the server refused the day's search, or the action needs more)
                    pass
            log.info("fhir save for %s: the action needs every score; reading the whole group", self.patient)
            loaded = self.load(plan_id=read.plan_uid)
            read = self._group_of(loaded)
        return self._save(loaded, read, action, what, key)

    @staticmethod
    def _group_of(loaded: LoadedGroup) -> ResourceGroup:
        if loaded.group is None:
            raise ValueError("there is no group to change; start one first")
        return loaded.group

    def _save(
        self,
        loaded: LoadedGroup,
        group_read: ResourceGroup,
        action: Callable[[ResourceGroup], T],
        what: Activity,
        key: str,
    ) -> Saved[T]:
        """`save`'s rounds: apply, diff, send; on a version conflict read again and apply again."""
        current, base = loaded, group_read
        for attempt in range(1, self.max_rounds + 1):
            if seeded_uid(key) in base.entity_uids():
                # This submission's first entity is in the group already: the same submission was saved before
                # (on another machine, or before a crash); applying it again would make everything twice.
                log.info("fhir save %s for %s had been applied before", key, self.patient)
                done = SaveOutcome(result=TransactionResult((), idempotency_key=key, already_applied=True))
                return Saved(None, base, done, attempt, repeated=True)  # type: ignore[arg-type]  # no value again
            group = copy_group(base)
            with uids_from(key):
                value = action(group)
            group.check_invariants()
            changeset = self._diff(group, current, key)
            if not changeset:
                return Saved(value, group, None, attempt)
            bundle = self._bundle(changeset, what)
            try:
                outcome = self._send(changeset, bundle)
            except PreconditionFailed as exc:
                if attempt == self.max_rounds:
                    raise
                try:
                    fresh = self.load(plan_id=base.plan_uid)
                except OutageError as outage:
                    # The re-read failed: park this attempt; its replay merges onto the then current versions.
                    parked = self._park(changeset, bundle, outage)
                    return Saved(value, group, parked, attempt, tuple(changeset.written))
                if fresh.group is not None and seeded_uid(key) in fresh.group.entity_uids():
                    current, base = fresh, fresh.group
                    continue  # the same submission committed meanwhile: the next round says so
                self._check_commutes(changeset, fresh)
                log.info(
                    "fhir save for %s: version conflict (round %d), re-applying on the fresh group: %s",
                    self.patient,
                    attempt,
                    exc.diagnostics,
                )
                if fresh.group is None:
                    raise
                current, base = fresh, fresh.group
                continue
            return Saved(value, group, outcome, attempt, tuple(changeset.written))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _bundle(self, changeset: ChangeSet, activity: Activity) -> JsonDict:
        code = activity.code or ("UPDATE" if changeset.updates else "CREATE")
        return changeset.to_bundle(
            agent=self.user,
            agent_display=self.user_display,
            activity={"coding": [{"system": CS_V3_DATA_OPERATION, "code": code}], "text": activity.text},
            recorded=self.clock(),
            reason=activity.reason,
        )

    def _send(self, changeset: ChangeSet, bundle: JsonDict) -> SaveOutcome:
        caps = self._caps()
        return save_or_enqueue(
            self.client,
            self.outbox,
            bundle,
            user=self.user,
            patient=self.patient,
            capabilities=caps,
            send=lambda: submit(self.client, bundle, capabilities=caps, bases=_bases(changeset)),
            bases=_bases(changeset),
            on_replayed=self.on_replayed,
        )

    def _park(self, changeset: ChangeSet, bundle: JsonDict, cause: OutageError) -> SaveOutcome:
        entry = self.outbox.enqueue(
            user=self.user,
            patient=self.patient,
            idempotency_key=changeset.idempotency_key,
            bundle=bundle,
            error=cause.diagnostics,
            bases=_bases(changeset),
            server=self.client.base_url,
        )
        return SaveOutcome(queued=entry)

    def _diff(self, group: ResourceGroup, loaded: LoadedGroup, key: str | None = None) -> ChangeSet:
        """Creates for new entities, updates for changed resources; unchanged resources are not sent.

        A resource is changed when the action changed it: what the loaded group maps to is the baseline, not the
        resource as read, so a resource the app would write differently (another system's, an older version's)
        is never rewritten by a save that does not touch it. Resources the app could not read are not in the
        group and never written, except a cancel the user asked for (`_cancels`).

        Only what the action can have changed is mapped, on both sides (`save_scope`: the entities it changed and
        the resources that list them); with `check_scope` the whole group is mapped too and both must agree.
        """
        only = save_scope(loaded.group, group) if loaded.group is not None else None
        changeset = self._diff_of(group, loaded, key, only)
        if self.check_scope and only is not None:
            full = self._diff_of(group, loaded, key, None)
            if _changes(full) != _changes(changeset):
                log.error("fhir save for %s: the save's scope missed a change", self.patient)
                raise AssertionError(
                    f"save scope {sorted(only)} gives {_changes(changeset)}, the whole group {_changes(full)}"
                )
        return changeset

    def _diff_of(self, group: ResourceGroup, loaded: LoadedGroup, key: str | None, only: set[str] | None) -> ChangeSet:
        changeset = ChangeSet(identifier_system=IDENTIFIER_SYSTEM, idempotency_tag_system=SAVE_KEY_SYSTEM)
        if key:
            changeset.idempotency_key = key
        written = group_to_fhir(group, loaded.index, only, self.mapping)
        # What the loaded group maps to, as mapped (compared as is first: the same mapping of an untouched entity
        # gives an equal dict, so only what differs is normalised by `_content`).
        before = (
            {w.uid: w.resource for w in group_to_fhir(loaded.group, loaded.index, only, self.mapping)}
            if loaded.group is not None
            else {}
        )
        refs = {w.uid: loaded.index.ref(w.uid) for w in written}
        placeholders = {ref for ref in refs.values() if ref.startswith(URN_UUID)}
        allowed = self._allowed_references(group, loaded, placeholders)
        for w in written:
            ref = refs[w.uid]
            if ref.startswith(URN_UUID):
                self._guard(w.resource, allowed)
                changeset.create(w.resource, placeholder=ref)
                continue
            baseline = before.get(w.uid)
            if baseline is not None and baseline == w.resource:
                continue  # the action did not touch it: nothing to send, nothing to guard
            read = loaded.resources.get(ref)
            if read is None:
                # A resource known only by reference (e.g. a place the load could not include) is never written.
                log.info("fhir save for %s: %s was not read, so it is not written", self.patient, ref)
                continue
            mine = _content(w.resource)
            if mine == _content(read) or (baseline is not None and _content(baseline) == mine):
                continue
            self._guard(w.resource, allowed)  # every reference this save writes
            version = (read.get("meta") or {}).get("versionId")
            if not version:
                raise NoVersion(f"{ref} has no meta.versionId")
            changeset.update(w.resource, version=str(version), base=read)
        self._cancels(group, loaded, changeset)
        return changeset

    def _cancels(self, group: ResourceGroup, loaded: LoadedGroup, changeset: ChangeSet) -> None:
        """An unreadable appointment the user cancels: the resource as read with status cancelled, nothing else
        changed (its broken parts are neither read nor repaired; its references were checked on the load)."""
        asked = {u.key for u in loaded.unreadable if u.cancel}
        for u in group.unreadable:
            if not u.cancel or u.key in asked:
                continue
            read = loaded.resources.get(u.key)
            if read is None or not u.cancellable:
                raise ValueError(f"{u.key} is not an unreadable appointment of this load")
            version = (read.get("meta") or {}).get("versionId")
            if not version:
                raise NoVersion(f"{u.key} has no meta.versionId")
            cancelled = copy.deepcopy(read)
            cancelled["status"] = "cancelled"
            changeset.update(cancelled, version=str(version), base=read)

    def _check_commutes(self, changeset: ChangeSet, fresh: LoadedGroup) -> None:
        """Raise `Conflict` when someone else changed an element this action changed too."""
        for update in changeset.updates:
            theirs = fresh.resources.get(update.key)
            if theirs is None:
                raise Conflict(
                    f"{update.key} is no longer part of the group",
                    mine=copy.deepcopy(update.resource),
                    theirs={},
                )
            if str((theirs.get("meta") or {}).get("versionId")) == update.version or update.base is None:
                continue
            three_way_merge(_content(update.base), _content(update.resource), _content(theirs))

    # ------------------------------------------------------------------ the compartment guard

    def _allowed_references(self, group: ResourceGroup, loaded: LoadedGroup, placeholders: set[str]) -> set[str]:
        allowed = {self.patient, literal(self.user), *placeholders}
        # Everything the load returned hangs off this patient's plan (the read was compartment-checked).
        allowed.update(loaded.resources)
        for member in group.members:
            allowed.add(literal(loaded.index.ref(member.who)))
            # A role member's practitioner (EXT:role-practitioner): a person, not a record; only ever a Practitioner
            # (the extension is read from the record: never let it vouch for another patient's reference).
            if member.practitioner and ref_type(member.practitioner) == "Practitioner":
                allowed.add(literal(member.practitioner))
        for place in group.places:
            allowed.add(literal(loaded.index.ref(place.uid)))
        return allowed

    def _guard(self, resource: JsonDict, allowed: set[str]) -> None:
        for ref in _references(resource):
            if ref.startswith("#"):
                continue
            target = ref if ref.startswith(URN_UUID) else literal(ref)
            if target in allowed:
                continue
            log.error(
                "compartment guard refused a write for %s: %s/%s refers to %s",
                self.patient,
                resource.get("resourceType"),
                resource.get("id", "(new)"),
                ref,
            )
            raise CompartmentViolation(f"{resource.get('resourceType')} refers to {ref}, outside {self.patient}")


@dataclass(frozen=True)
class _PatientRead:
    """The launch patient as a load read it (resource None: refused or not asked)."""

    resource: JsonDict | None = None
    asked: bool = False


_collector_lock = threading.Lock()
_collector_pauses = 0  # loads of this process being parsed and read right now
_collector_resume = False  # whether the collector was on when the first of them began


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an answer is parsed and read into the domain.

    A large answer makes tens of thousands of new dicts and lists at once; each few hundred of them start a
    collection, and the older generations' collections walk every object the process holds again (with the
    huge group's answer the parse took about twice as long). Reference counting frees everything as usual
    meanwhile. The collector is process-wide, so the pauses of all threads are counted: it runs again (when it
    was on) once the last load that paused it is done."""
    global _collector_pauses, _collector_resume
    with _collector_lock:
        if _collector_pauses == 0:
            _collector_resume = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0 and _collector_resume:
                gc.enable()


def _has_next(page: JsonDict) -> bool:
    """Whether a searchset page links to a next one."""
    return any(isinstance(link, dict) and link.get("relation") == "next" for link in page.get("link") or [])


def _more_than_page(page: JsonDict, asked: int) -> bool:
    """Whether a search found more than this page without a next link says so (a batch's searchset may have none:
    Medplum's) by its total, or, without a total, by a page as full as asked (then older ones may exist)."""
    matches = sum(
        1
        for e in page.get("entry") or []
        if isinstance(e, dict) and ((e.get("search") or {}).get("mode") or "match") == "match"
    )
    total = page.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        return total > matches
    return matches >= asked


def _response_of(entry: JsonDict) -> JsonDict:
    response = entry.get("response")
    return response if isinstance(response, dict) else {}


def _references(resource: JsonDict) -> list[str]:
    """Every ``reference`` string anywhere in a resource (depth first, iterative: no recursion limit)."""
    found: list[str] = []
    stack: list[Any] = [resource]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            ref = node.get("reference")
            if type(ref) is str:
                found.append(ref)
            stack.extend(reversed([v for v in node.values() if type(v) in (dict, list)]))
        elif type(node) is list:
            stack.extend(reversed([v for v in node if type(v) in (dict, list)]))
    return found


def _changes(changeset: ChangeSet) -> tuple[list[tuple[str, JsonDict]], list[tuple[str, str, JsonDict]]]:
    """What a change set writes (creates and updates, in order), to compare two of them."""
    return (
        [(c.placeholder, c.resource) for c in changeset.creates],
        [(u.key, u.version, u.resource) for u in changeset.updates],
    )


def _bases(changeset: ChangeSet) -> JsonDict:
    return {u.key: u.base for u in changeset.updates if u.base is not None}


def _resources(pages: Iterable[JsonDict]) -> list[JsonDict]:
    out: list[JsonDict] = []
    for page in pages:
        for entry in page.get("entry") or []:
            res = entry.get("resource")
            if isinstance(res, dict) and res.get("resourceType") not in (None, "OperationOutcome"):
                out.append(res)
    return out


def _urls(searches: list[tuple[str, list[tuple[str, str]]]]) -> list[str]:
    return [_search_url(t, tuple(p)) for t, p in searches]


@functools.lru_cache(maxsize=1024)
def _search_url(rtype: str, params: tuple[tuple[str, str], ...]) -> str:
    """The search's relative URL (the same few searches per patient on every page view: encoded once)."""
    return f"{rtype}?{urlencode(params)}"


def _content(resource: JsonDict) -> Any:
    """A resource without the server-owned elements, in a comparable form (meta's data parts count)."""
    body = {k: v for k, v in resource.items() if k not in _SERVER_OWNED}
    if labels := data_meta(resource):
        body["meta"] = labels
    return json.loads(json.dumps(body, sort_keys=True))
