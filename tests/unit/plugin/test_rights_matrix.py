"""The rights matrix (issue 10): every POST route of the app as every role, and every group page as every role.

The expectations come from the one rights table (`fhir_mappings.rights.RIGHTS` through `require`), never from
what the app happens to do:

- POST: a refused request answers 403 ("Niet voor deze rol") and leaves the sandbox store exactly as it
  was (every (type, id, version) of its history table); an allowed one answers 303 and writes one save whose
  Provenance names the activity. Every POST route of the URL map must have an entry in `CASES`
  (`test_every_post_route_has_a_case`), so a new route cannot slip past the matrix.
- GET: a page the role may not see answers 403; a page it may see holds nothing the role may not read
  (interview records, contact details, other people's agreements, goals no agenda or report names) and no
  form or link to what the role may not do.

Roles (Sanne's demo group): regisseur (Sanne), regieondersteuner (Anna), member (Lotte, a Practitioner, and
Karim, a RelatedPerson), nominee (a RelatedPerson Anna nominates through the app), care professional (Bram,
regieondersteuner of Mohammed's group) and none (Youssef, a RelatedPerson of Mohammed's group; Eva, a patient).
"""

from __future__ import annotations

import html as htmllib
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from fhir_mappings.codes import WishKind
from fhir_mappings.model import CLINIC_ZONE, ResourceGroup
from fhir_mappings.rights import RIGHTS, Action, Actor, NotAllowed, Role, actor_in, may_take_over, require
from plugin.meetings.forms import response_key
from plugin.sync.client import FhirClient
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import GroupRepository, LoadedGroup
from tests.support.ui import LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
ANNA = "Practitioner/anna-de-vries"
LOTTE = "Practitioner/lotte-smit"
BRAM = "Practitioner/bram-jansen"
EVA = "Patient/eva-visser"
KEES = "Practitioner/kees-de-wit"  # a practitioner of the clinic in nobody's group (put in the store by the setup)

NOMINEE = "Tom Jansen"  # nominated by Anna in the setup; the nominee persona and the interview's target
WITHDRAWN = "Samira Bakker"  # nominated and withdrawn in the setup: the target of "nominate again"
TO_WITHDRAW = "Henk de Vos"  # nominated in the setup: the target of "withdraw"
NOMINEE_PHONE = "06-13572468"

SECRET_GOAL = "Schulden op een rij zetten"  # added in the GET setup; no agenda or report names it
SECRET_AGREEMENT = "Met de bank bellen over de schuld"  # Ans's, added in the GET setup; no meeting names it

# What Sanne puts forward in the setup (through the app, as herself): the professionals see it, members do not.
WISH_TEXT = "Graag in het park als het mooi weer is"
PAUSE_REASON = "Ik ga drie maanden op reis"
PROPOSED_GOAL = "Elke week een keer koken voor vrienden"

REFUSED_TITLE = "Niet voor deze rol"  # the 403 page of a NotAllowed


# ------------------------------------------------------------------------------------------------ who acts


@dataclass(frozen=True)
class Persona:
    """Someone who opens the app for Sanne, and the role the rights table gives them in her group."""

    name: str
    role: Role
    user: str = ""  # the launch's fhirUser; empty: the RelatedPerson called `related` (looked up in the store)
    related: str = ""


PERSONAS = (
    Persona("regisseur", Role.REGISSEUR, SANNE),
    Persona("regieondersteuner", Role.REGIEONDERSTEUNER, ANNA),
    Persona("member-practitioner", Role.MEMBER, LOTTE),
    Persona("member-related-person", Role.MEMBER, related="Karim Haddou"),
    Persona("nominee", Role.NOMINEE, related=NOMINEE),
    Persona("care-professional", Role.CARE_PROFESSIONAL, BRAM),
    Persona("none-related-person", Role.NONE, related="Youssef El Amrani"),
    Persona("none-patient", Role.NONE, EVA),
)


@dataclass
class World:
    """Sanne's group as the setup left it (read without the app), and who acts in it."""

    loaded: LoadedGroup
    who: str = ""  # the actor as the group knows them (a RelatedPerson by their supporter uid)
    role: Role = Role.NONE

    @property
    def group(self) -> ResourceGroup:
        assert self.loaded.group is not None
        return self.loaded.group

    @property
    def actor(self) -> Actor:
        return Actor(self.who, self.role)

    def member(self, display: str) -> str:
        """The uid of the active participation of `display` (a withdrawn one when there is no active one)."""
        found = sorted((m for m in self.group.members if m.display == display), key=lambda m: not m.active)
        assert found, display
        return found[0].uid

    def person(self, display: str) -> str:
        """The `who` of a person in the group (a RelatedPerson: their supporter uid)."""
        return next(m.who for m in self.group.members if m.display == display)

    def related_person(self, display: str) -> str:
        """The launch reference ("RelatedPerson/<id>") of a supporter of the group."""
        supporter = next(s for s in self.group.supporters if s.name == display)
        return str(self.loaded.index.ref(supporter.uid))

    def agreement(self, description: str) -> str:
        return next(a.uid for a in self.group.agreements if a.description == description)

    def owner_of(self, agreement_uid: str) -> str:
        return next(a.owner or "" for a in self.group.agreements if a.uid == agreement_uid)

    def goal(self, text: str) -> str:
        return next(g.uid for g in self.group.goals if g.text == text)

    def wish(self, kind: WishKind) -> str:
        """Sanne's open wish or request of this kind (given in the setup)."""
        return next(w.uid for w in self.group.wishes if w.kind is kind and w.is_open)

    @property
    def held(self) -> str:
        """The second held meeting (it has an agenda and a report)."""
        return sorted((m for m in self.group.meetings if not m.is_planned), key=lambda m: m.start)[-1].uid

    @property
    def planned(self) -> str:
        """The meeting still to come."""
        [planned] = [m.uid for m in self.group.meetings if m.is_planned]
        return planned

    @property
    def own_agreement(self) -> str:
        """The actor's own agreement if they have one, else Karim's (a member may only see their own)."""
        own = [a.uid for a in self.group.agreements if a.owner == self.who]
        return own[0] if own else self.agreement("Sportschool uitzoeken")


def load_world(env: LaunchedApp, tmp_path: Path) -> World:
    repository = GroupRepository(
        client=FhirClient(env.fhir_base),
        patient_id="sanne-bakker",
        user=ANNA,
        outbox=SqliteOutbox(tmp_path / f"world-{uuid.uuid4().hex}.sqlite3"),
    )
    return World(repository.load())


def ok(response: TestResponse, what: str) -> None:
    assert response.status_code == 303, f"{what}: {response.status_code} {text(response)[-1500:]}"


def text(response: TestResponse) -> str:
    return str(response.get_data(as_text=True))


def prepare(env: LaunchedApp, tmp_path: Path, *, secrets: bool = False) -> World:
    """As Anna, through the app: three nominees (one withdrawn); with `secrets`, a goal and an (overdue) agreement
    of Ans that no agenda or report names. A practitioner who is in no group is put straight into the store."""
    kees_id = KEES.split("/")[1]
    practitioner: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": kees_id,
        "active": True,
        "name": [{"use": "official", "family": "de Wit", "given": ["Kees"], "text": "Kees de Wit"}],
    }
    env.store.update("Practitioner", kees_id, practitioner)
    contact = {"phone": NOMINEE_PHONE}
    for name, relationship in ((NOMINEE, "FRND"), (WITHDRAWN, "SIS"), (TO_WITHDRAW, "NBOR")):
        form = {"name": name, "relationship": relationship, **(contact if name == NOMINEE else {})}
        ok(env.post("/leden/nomineren/naaste", form), f"nominate {name}")
    world = load_world(env, tmp_path)
    ok(env.post(f"/leden/{world.member(WITHDRAWN)}/terugtrekken", {}), "withdraw")
    env.act_as(SANNE)  # what the patient puts forward: a wish, a request for a pause, a goal of her own
    ok(env.post("/wens", {"place": "Het park", "text": WISH_TEXT}), "meeting wish")
    ok(env.post("/pauze-of-stoppen", {"kind": "pauze", "reason": PAUSE_REASON}), "ask for a pause")
    ok(env.post("/doelen/nieuw", {"text": PROPOSED_GOAL, "term": "kort"}), "proposed goal")
    env.act_as(ANNA)
    if secrets:
        ok(env.post("/doelen/nieuw", {"text": SECRET_GOAL, "term": "lang"}), "secret goal")
        ans = world.person("Ans Bakker")
        overdue = (date.today() - timedelta(days=3)).strftime("%d-%m-%Y")
        secret = {"description": SECRET_AGREEMENT, "owner": ans, "due": overdue, "due-past": "y"}
        ok(env.post("/afspraken/nieuw", secret), "secret agreement")
    return load_world(env, tmp_path)


def become(env: LaunchedApp, world: World, persona: Persona) -> None:
    """Launch as `persona` from now on; the world learns who acts and checks the role it has in the group."""
    user = persona.user or related_person(env, world, persona.related)
    env.act_as(user)
    world.who = _who_in(world, user)
    world.role = persona.role
    assert actor_in(world.group, world.who).role is persona.role, (persona.name, world.who)


def _who_in(world: World, user: str) -> str:
    for supporter in world.group.supporters:
        if str(world.loaded.index.ref(supporter.uid)) == user:
            return supporter.uid
    return user


def related_person(env: LaunchedApp, world: World, display: str) -> str:
    """A RelatedPerson of Sanne's group by its supporter, else the one RelatedPerson in the store with that name."""
    if any(s.name == display for s in world.group.supporters):
        return world.related_person(display)
    found = [r["id"] for r in env.resources("RelatedPerson") if (r.get("name") or [{}])[0].get("text") == display]
    assert len(found) == 1, display
    return f"RelatedPerson/{found[0]}"


# ------------------------------------------------------------------------------------------------ POST cases


class When:
    """What an allowed role's request does (a refused one: 403 and nothing written, always)."""

    SAVES = "saves"  # 303 and one save with the case's Provenance activity
    NOTHING_WAITS = "nothing-waits"  # 303 and nothing written: there was nothing waiting to be saved
    GROUP_EXISTS = "group-exists"  # a domain refusal by design (422/409), nothing written
    HAS_REGIEONDERSTEUNER = "has-regieondersteuner"  # 403 by design for everyone, nothing written


def _local(moment: datetime) -> str:
    return moment.astimezone(CLINIC_ZONE).strftime("%Y-%m-%dT%H:%M")


def _responses(w: World) -> dict[str, str]:
    return {response_key(m.who): "tentative" for m in w.group.members}


@dataclass(frozen=True)
class Case:
    """One POST: the route (endpoint), the right it needs, the URL and a valid form; in the order they run."""

    endpoint: str
    action: Action
    path: Callable[[World], str]
    form: Callable[[World], dict[str, Any]] = lambda w: {}
    activity: str = ""  # the Provenance activity of the save (When.SAVES)
    owner: Callable[[World], str] | None = None  # for own-thing rights
    when_allowed: str = When.SAVES
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.endpoint


# The order matters for the roles that may do almost everything: what ends something (a decision, a meeting's
# status, leaving, the hand-over) comes after what needs it.
CASES: tuple[Case, ...] = (
    Case("group.retry_waiting", Action.RETRY_WAITING, lambda w: "/opnieuw-opslaan", when_allowed=When.NOTHING_WAITS),
    # Nothing in Sanne's record is unreadable: an allowed role is told so (303, flash) and nothing is written.
    Case(
        "group.cancel_unreadable",
        Action.CANCEL_UNREADABLE,
        lambda w: "/onleesbaar/afzeggen",
        lambda w: {"resource": "Appointment/not-unreadable"},
        when_allowed=When.NOTHING_WAITS,
    ),
    # No save the EHR refused waits in Sanne's outbox: an allowed role is told so (303, flash), nothing is written.
    Case(
        "group.retry_failed",
        Action.RETRY_FAILED,
        lambda w: "/wachtrij/opnieuw",
        lambda w: {"entry": "999999"},
        when_allowed=When.NOTHING_WAITS,
    ),
    Case(
        "group.discard_failed",
        Action.DISCARD_FAILED,
        lambda w: "/wachtrij/laten-vervallen",
        lambda w: {"entry": "999999"},
        when_allowed=When.NOTHING_WAITS,
    ),
    Case(
        "group.start",
        Action.START_GROUP,
        lambda w: "/start",
        lambda w: {"name": "Nog een team"},
        when_allowed=When.GROUP_EXISTS,
    ),
    # A colleague may take over only a group without a regieondersteuner; Sanne's has Anna: refused for all.
    Case(
        "group.take_over",
        Action.TAKE_OVER,
        lambda w: "/overnemen",
        lambda w: {"reason": "Anna is met verlof."},
        when_allowed=When.HAS_REGIEONDERSTEUNER,
    ),
    Case(
        "group.meeting_wish",
        Action.GIVE_MEETING_WISH,
        lambda w: "/wens",
        lambda w: {"chair": SANNE, "theme": "stress"},
        activity="Wens voor de volgende bijeenkomst gegeven",
    ),
    Case(
        "group.pause_or_end",
        Action.ASK_PAUSE_OR_END,
        lambda w: "/pauze-of-stoppen",
        lambda w: {"kind": "einde", "reason": "Het gaat goed, ik wil verder zonder groep"},
        activity="Einde van de groep gevraagd",
    ),
    Case(
        "group.take_up_wish",
        Action.TAKE_UP_INPUT,
        lambda w: f"/inbreng/{w.wish(WishKind.MEETING)}/overnemen",
        activity="Wens van de patiënt overgenomen",
    ),
    Case(  # the request for a pause is read and set aside: the group stays active for the cases after it
        "group.set_aside_wish",
        Action.TAKE_UP_INPUT,
        lambda w: f"/inbreng/{w.wish(WishKind.PAUSE)}/gelezen",
        activity="Wens van de patiënt gelezen, niet overgenomen",
    ),
    Case(
        "group.take_up_goal",
        Action.TAKE_UP_INPUT,
        lambda w: f"/doelvoorstel/{w.goal(PROPOSED_GOAL)}/overnemen",
        activity="Doel van de patiënt overgenomen",
    ),
    Case(
        "group.rename",
        Action.RENAME_GROUP,
        lambda w: "/naam",
        lambda w: {"name": "Team Sanne en co"},
        activity="Naam van de groep gewijzigd",
    ),
    Case(
        "goals.new",
        Action.ADD_GOAL,
        lambda w: "/doelen/nieuw",
        lambda w: {"text": "Elke week zwemmen", "term": "lang", "life_area": "sport-bewegen"},
        activity="Doel toegevoegd",
    ),
    Case(
        "goals.goal",
        Action.EDIT_GOAL,
        lambda w: f"/doelen/{w.goal('Zelfstandig wonen')}",
        lambda w: {"text": "Zelfstandig wonen in Breda", "term": "lang", "life_area": "wonen", "status": "active"},
        activity="Doel gewijzigd",
    ),
    Case(
        "goals.add_note",
        Action.ADD_GOAL_NOTE,
        lambda w: f"/doelen/{w.goal('Zelfstandig wonen')}/notitie",
        lambda w: {"note": "Bezichtiging gepland"},
        activity="Notitie bij doel toegevoegd",
    ),
    Case(
        "goals.score",
        Action.SCORE_PROGRESS,
        lambda w: f"/doelen/{w.goal('Zelfstandig wonen')}/voortgang",
        lambda w: {"score": "6"},
        activity="Voortgangscijfer voor doel vastgelegd",
    ),
    Case(
        "agreements.new",
        Action.ADD_AGREEMENT,
        lambda w: "/afspraken/nieuw",
        lambda w: {"description": "Samen boodschappen doen", "owner": SANNE},
        activity="Afspraak gemaakt",
    ),
    Case(
        "agreements.edit",
        Action.EDIT_AGREEMENT,
        lambda w: f"/afspraken/{w.own_agreement}",
        lambda w: {
            "description": "Een afspraak, anders verwoord",
            "owner": w.owner_of(w.own_agreement),
            "status": "in-progress",
        },
        activity="Afspraak gewijzigd",
    ),
    Case(
        "agreements.mark_done",
        Action.MARK_OWN_AGREEMENT_DONE,
        lambda w: f"/afspraken/{w.agreement('Sportschool uitzoeken')}/klaar",
        owner=lambda w: w.owner_of(w.agreement("Sportschool uitzoeken")),
        activity="Afspraak klaar gemeld",
        label="agreements.mark_done (Karim's)",
    ),
    Case(
        "agreements.mark_done",
        Action.MARK_OWN_AGREEMENT_DONE,
        lambda w: f"/afspraken/{w.agreement('Cv bijwerken')}/klaar",
        owner=lambda w: w.owner_of(w.agreement("Cv bijwerken")),
        activity="Afspraak klaar gemeld",
        label="agreements.mark_done (Lotte's)",
    ),
    Case(
        "meetings.plan",
        Action.PLAN_MEETING,
        lambda w: "/bijeenkomsten/nieuw",
        lambda w: {"start": _local(datetime.now(CLINIC_ZONE) + timedelta(days=40)), "minutes": "60", "place": "later"},
        activity="Bijeenkomst gepland",
    ),
    Case(
        "meetings.reschedule",
        Action.RESCHEDULE_MEETING,
        lambda w: f"/bijeenkomsten/{w.planned}/verplaatsen",
        lambda w: {"start": _local(datetime.now(CLINIC_ZONE) + timedelta(days=50)), "minutes": "60", "place": "later"},
        activity="Bijeenkomst verplaatst",
    ),
    Case(
        "meetings.roles",
        Action.ASSIGN_MEETING_ROLES,
        lambda w: f"/bijeenkomsten/{w.planned}/rollen",
        lambda w: {"voorzitter": SANNE, "notulist": "", "tijdbewaker": ""},
        activity="Rollen voor de bijeenkomst afgesproken",
    ),
    Case(
        "meetings.invite",
        Action.SEND_INVITATION,
        lambda w: f"/bijeenkomsten/{w.planned}/uitnodiging",
        lambda w: {"message": "Kom je ook? Tot dan!"},
        activity="Uitnodiging voor de bijeenkomst verstuurd",
    ),
    Case(
        "meetings.responses",
        Action.RECORD_ANY_RESPONSE,
        lambda w: f"/bijeenkomsten/{w.planned}/reacties",
        _responses,
        activity="Reacties op de uitnodiging genoteerd",
    ),
    Case(
        "meetings.respond",
        Action.RESPOND_TO_INVITATION,
        lambda w: f"/bijeenkomsten/{w.planned}/mijn-reactie",
        lambda w: {"answer": "tentative"},
        owner=lambda w: w.who,
        activity="Gereageerd op de uitnodiging",
    ),
    Case(
        "notes.propose",
        Action.PROPOSE_AGENDA_ITEM,
        lambda w: f"/bijeenkomsten/{w.planned}/agenda/punt",
        lambda w: {"text": "Mijn vakantie in juli"},
        activity="Agendapunt voorgesteld",
    ),
    Case(
        "notes.agenda",
        Action.SET_AGENDA,
        lambda w: f"/bijeenkomsten/{w.planned}/agenda",
        lambda w: {"lines-0-kind": "free", "lines-0-ref": "", "lines-0-text": "Vakantieplanning"},
        activity="Agenda van de bijeenkomst gewijzigd",
    ),
    Case(
        "notes.report",
        Action.WRITE_REPORT,
        lambda w: f"/bijeenkomsten/{w.held}/verslag",
        lambda w: {"samenvatting": "Het verslag, opnieuw geschreven.", "attended": [SANNE]},
        activity="Verslag van de bijeenkomst gewijzigd",
    ),
    Case(
        "members.nominate_person",
        Action.NOMINATE,
        lambda w: "/leden/nomineren/naaste",
        lambda w: {"name": "Fatima Zahra", "relationship": "FRND"},
        activity="Naaste genomineerd voor de resourcegroep",
    ),
    Case(
        "members.nominate_practitioner",
        Action.NOMINATE,
        lambda w: "/leden/nomineren/behandelaar",
        lambda w: {"practitioner": KEES},
        activity="Behandelaar genomineerd voor de resourcegroep",
    ),
    Case(
        "members.nominate_professional",
        Action.NOMINATE,
        lambda w: "/leden/nomineren/hulpverlener",
        lambda w: {"pro_name": "Dokter Jansen", "profession": "62247001"},
        activity="Hulpverlener van buiten de instelling genomineerd voor de resourcegroep",
    ),
    Case(
        "members.plan_interview",
        Action.PLAN_INTERVIEW,
        lambda w: f"/leden/{w.member(NOMINEE)}/gesprek-plannen",
        lambda w: {"planned_start": _local(datetime.now(CLINIC_ZONE) + timedelta(days=3))},
        activity="Kennismakingsgesprek gepland",
    ),
    Case(
        "members.record_interview",
        Action.RECORD_INTERVIEW,
        lambda w: f"/leden/{w.member(NOMINEE)}/gesprek-vastleggen",
        lambda w: {
            # Not before the nomination (made today), not in the future: this minute.
            "held_at": _local(datetime.now(CLINIC_ZONE)),
            "inzet": "Elke maand",
            "visibility": "shared",
        },
        activity="Kennismakingsgesprek vastgelegd",
    ),
    Case(
        "members.decide",
        Action.DECIDE_NOMINATION,
        lambda w: f"/leden/{w.member(NOMINEE)}/besluit",
        lambda w: {"outcome": "lid"},
        activity="Genomineerde is lid geworden van de resourcegroep",
    ),
    Case(
        "members.withdraw",
        Action.WITHDRAW_NOMINATION,
        lambda w: f"/leden/{w.member(TO_WITHDRAW)}/terugtrekken",
        activity="Nominatie voor de resourcegroep teruggetrokken",
    ),
    Case(
        "members.nominate_again",
        Action.NOMINATE,
        lambda w: f"/leden/{w.member(WITHDRAWN)}/opnieuw-nomineren",
        activity="Opnieuw genomineerd voor de resourcegroep",
    ),
    Case(
        "members.set_core",
        Action.SET_CORE,
        lambda w: f"/leden/{w.member('Karim Haddou')}/kernlid",
        lambda w: {"core": "on"},
        activity="Kernlid gemaakt",
    ),
    Case(
        "meetings.mark",
        Action.SET_MEETING_STATUS,
        lambda w: f"/bijeenkomsten/{w.planned}/status",
        lambda w: {"status": "cancelled"},
        activity="Bijeenkomst afgezegd",
    ),
    Case(
        "members.leave",
        Action.END_MEMBERSHIP,
        lambda w: f"/leden/{w.member('Karim Haddou')}/verlaten",
        lambda w: {"confirm_leave": "y"},
        activity="Lid heeft de resourcegroep verlaten",
    ),
    Case(
        "group.lifecycle",
        Action.CHANGE_STATUS,
        lambda w: "/status",
        lambda w: {"action": "pause"},
        activity="Groep gepauzeerd",
    ),
    Case(
        "members.hand_over",
        Action.HAND_OVER,
        lambda w: f"/leden/{w.member('Anna de Vries')}/overdragen",
        lambda w: {"practitioner": BRAM, "confirm_hand_over": "y"},
        activity="Regieondersteuner overgedragen",
    ),
)


def allowed(case: Case, world: World) -> bool:
    """Whether the rights table lets the actor do what `case` does (own things: only their own)."""
    try:
        require(world.actor, case.action, owner=case.owner(world) if case.owner else None)
    except NotAllowed:
        return False
    return True


# ------------------------------------------------------------------------------------------------ the store


def history(env: LaunchedApp) -> set[tuple[str, str, int]]:
    """Every (type, id, version) the sandbox store ever held: a write of any kind adds one."""
    rows = env.store._conn.execute("SELECT type, id, version FROM history").fetchall()
    return {(str(t), str(i), int(v)) for t, i, v in rows}


def activities(env: LaunchedApp, rows: set[tuple[str, str, int]]) -> list[str]:
    """The activity texts of the Provenances among `rows`."""
    texts = []
    for rtype, rid, version in sorted(rows):
        if rtype == "Provenance":
            (raw,) = env.store._conn.execute(
                "SELECT json FROM history WHERE type=? AND id=? AND version=?", (rtype, rid, version)
            ).fetchone()
            texts.append(str((json.loads(raw).get("activity") or {}).get("text", "")))
    return texts


# ------------------------------------------------------------------------------------------------ POST matrix


def _post_routes(env: LaunchedApp) -> set[str]:
    # Every POST on a group (under /c/<context_id>/); logging out of the app is not an action on a group.
    return {
        r.endpoint
        for r in env.app.url_map.iter_rules()
        if "POST" in (r.methods or set()) and r.rule.startswith("/c/<context_id>/")
    }


def test_every_post_route_has_a_case(get_env: tuple[LaunchedApp, World, Path]) -> None:
    routes = _post_routes(get_env[0])
    covered = {c.endpoint for c in CASES}
    assert routes - covered == set(), "POST routes without a case in the rights matrix: add them to CASES"
    assert covered - routes == set(), "cases for routes the app does not have"
    assert {c.action for c in CASES} <= set(RIGHTS)


def check_post(env: LaunchedApp, world: World, case: Case) -> str | None:
    """Send the case's POST as the world's actor; the problem found, or None."""
    path = case.path(world)  # the world as the setup left it: the uids the URLs need stay the same
    before = history(env)
    response = env.post(path, case.form(world))
    written = history(env) - before
    status, body = response.status_code, text(response)
    what = f"{world.role} {case.name} POST {path} -> {status}"
    if not allowed(case, world) or case.when_allowed == When.HAS_REGIEONDERSTEUNER:
        if status != 403 or REFUSED_TITLE not in body:
            return f"{what}: expected the 403 refusal, body: {body[-600:]}"
        if written:
            return f"{what}: refused but wrote {sorted(written)}"
        if allowed(case, world) and "De groep heeft een regieondersteuner." not in body:
            return f"{what}: the right is there, so the refusal must say the group has a regieondersteuner"
        return None
    if case.when_allowed == When.GROUP_EXISTS:
        if status not in (409, 422) or written or "Deze patiënt heeft al een resourcegroep." not in body:
            return f"{what}: expected 409/422 (the group exists) and nothing written; wrote {sorted(written)}"
        return None
    if status != 303:
        return f"{what}: expected 303, body: {body[-1500:]}"
    if case.when_allowed == When.NOTHING_WAITS:
        return f"{what}: nothing waited, yet it wrote {sorted(written)}" if written else None
    done = activities(env, written)
    if done != [case.activity]:
        return f"{what}: expected one save '{case.activity}', the store got {done} ({len(written)} versions)"
    return None


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
def test_post_matrix(tmp_path: Path, persona: Persona) -> None:
    with launched(tmp_path) as env:
        world = prepare(env, tmp_path)
        become(env, world, persona)
        problems = [found for case in CASES if (found := check_post(env, world, case)) is not None]
        assert problems == [], "\n".join(problems)


# ------------------------------------------------------------------------------------------------ GET matrix


@dataclass(frozen=True)
class Page:
    """One page of the group and what one must be allowed to see it."""

    name: str
    path: Callable[[World], str]
    see: Action


PAGES: tuple[Page, ...] = (
    Page("overview", lambda w: "/", Action.VIEW_OVERVIEW),
    Page("members", lambda w: "/leden", Action.VIEW_MEMBERS),
    Page("member Ans", lambda w: f"/leden/{w.member('Ans Bakker')}", Action.VIEW_MEMBER_DETAILS),
    Page("member Karim", lambda w: f"/leden/{w.member('Karim Haddou')}", Action.VIEW_MEMBER_DETAILS),
    Page("member nominee", lambda w: f"/leden/{w.member(NOMINEE)}", Action.VIEW_MEMBER_DETAILS),
    Page("member withdrawn", lambda w: f"/leden/{w.member(WITHDRAWN)}", Action.VIEW_MEMBER_DETAILS),
    Page("nominate", lambda w: "/leden/nomineren", Action.NOMINATE),
    Page("hand over", lambda w: f"/leden/{w.member('Anna de Vries')}/overdragen", Action.HAND_OVER),
    Page("take over", lambda w: "/overnemen", Action.TAKE_OVER),
    Page("rename", lambda w: "/naam", Action.RENAME_GROUP),
    Page("meeting wish", lambda w: "/wens", Action.GIVE_MEETING_WISH),
    Page("pause or end", lambda w: "/pauze-of-stoppen", Action.ASK_PAUSE_OR_END),
    Page("status", lambda w: "/status?action=pause", Action.CHANGE_STATUS),
    Page("timeline", lambda w: "/tijdlijn", Action.VIEW_TIMELINE),
    Page("outbox", lambda w: "/wachtrij", Action.RETRY_FAILED),
    Page("goals", lambda w: "/doelen", Action.VIEW_GOALS),
    Page("goal", lambda w: f"/doelen/{w.goal('Zelfstandig wonen')}", Action.VIEW_GOALS),
    Page("secret goal", lambda w: f"/doelen/{w.goal(SECRET_GOAL)}", Action.VIEW_GOALS),
    Page("new goal", lambda w: "/doelen/nieuw", Action.ADD_GOAL),
    Page("agreements", lambda w: "/afspraken", Action.VIEW_OWN_AGREEMENTS),
    Page("agreement Karim", lambda w: f"/afspraken/{w.agreement('Sportschool uitzoeken')}", Action.VIEW_OWN_AGREEMENTS),
    Page("agreement Lotte", lambda w: f"/afspraken/{w.agreement('Cv bijwerken')}", Action.VIEW_OWN_AGREEMENTS),
    Page("new agreement", lambda w: "/afspraken/nieuw", Action.ADD_AGREEMENT),
    Page("meetings", lambda w: "/bijeenkomsten", Action.VIEW_MEETINGS),
    Page("meeting held", lambda w: f"/bijeenkomsten/{w.held}", Action.VIEW_MEETINGS),
    Page("meeting planned", lambda w: f"/bijeenkomsten/{w.planned}", Action.VIEW_MEETINGS),
    Page("meeting .ics", lambda w: f"/bijeenkomsten/{w.planned}/bijeenkomst.ics", Action.VIEW_MEETINGS),
    Page("new meeting", lambda w: "/bijeenkomsten/nieuw", Action.PLAN_MEETING),
    Page("agenda held", lambda w: f"/bijeenkomsten/{w.held}/agenda", Action.VIEW_AGENDA),
    Page("agenda planned", lambda w: f"/bijeenkomsten/{w.planned}/agenda", Action.VIEW_AGENDA),
    Page("agenda print", lambda w: f"/bijeenkomsten/{w.held}/agenda/afdrukken", Action.VIEW_AGENDA),
    Page("report", lambda w: f"/bijeenkomsten/{w.held}/verslag", Action.VIEW_REPORT),
    Page("report print", lambda w: f"/bijeenkomsten/{w.held}/verslag/afdrukken", Action.VIEW_REPORT),
)

# The Ans interview record in the demo is for care professionals only; Karim's and Lotte's are shared.
ANS_RECORD = (
    "zware tijd",
    "Wil weten hoe het met Sanne gaat",
    "Elke bijeenkomst, ook &#39;s avonds",
    "Kan helpen met geldzaken en formulieren",
)
SHARED_RECORDS = ("Samen sporten.", "Maandelijks.")
CONTACT_DETAILS = ("06-12345678", "ans.bakker@example.nl", "06-87654321", NOMINEE_PHONE)
NOMINEES = (NOMINEE, WITHDRAWN, TO_WITHDRAW)
AGREEMENTS = {  # description -> owner's display name
    "Samen de aanvraag invullen": "Ans Bakker",
    "Sportschool uitzoeken": "Karim Haddou",
    "Cv bijwerken": "Lotte Smit",
    SECRET_AGREEMENT: "Ans Bakker",
}


def expected_status(page: Page, world: World) -> int:
    """200 when the role may see the page; 404 for someone else's agreement a member may not see; else 403."""
    actor = world.actor
    if actor.role is Role.NOMINEE or not actor.may(Action.VIEW_OVERVIEW):
        return 403  # a nominee or an outsider sees nothing of the group
    if page.see is Action.TAKE_OVER:
        return 200 if may_take_over(world.group, actor) else 403
    if not actor.may(page.see):
        return 403
    if page.name.startswith("agreement ") and not actor.may(Action.VIEW_ALL_AGREEMENTS):
        uid = page.path(world).rsplit("/", 1)[1]
        return 200 if world.owner_of(uid) == actor.who else 404  # it is not in their list: not found for them
    return 200


def forbidden_texts(world: World, page: Page) -> list[str]:
    """Texts that must not be in the page (a refused one too) for the world's actor."""
    actor = world.actor
    out: list[str] = []
    if not actor.may(Action.VIEW_CONFIDENTIAL_INTERVIEW):
        out += ANS_RECORD
    if not actor.may(Action.VIEW_SHARED_INTERVIEW):
        out += SHARED_RECORDS
    if not actor.may(Action.VIEW_MEMBER_DETAILS):
        out += CONTACT_DETAILS
        out += NOMINEES  # members see who is in the group now, not who is nominated
    if not actor.may(Action.VIEW_GOALS):
        out.append(SECRET_GOAL)
    if not actor.may(Action.VIEW_WISHES):
        out += [WISH_TEXT, PAUSE_REASON]
    if not actor.may(Action.VIEW_ALL_AGREEMENTS):
        out.append(SECRET_AGREEMENT)  # not named by any meeting, and not theirs
        if page.name == "agreements":  # their own list: only their own agreements
            me = next((m.display for m in world.group.members if m.who == actor.who), "")
            out += [d for d, owner in AGREEMENTS.items() if owner != me]
    if actor.role in (Role.NOMINEE, Role.NONE):
        out += ["Team Sanne", "Zelfstandig wonen", "Cv bijwerken", "Buurthuis De Linde"]
    return out


_FORM = re.compile(r"<form\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
_HREF = re.compile(r'href="([^"]+)"')


def _endpoint(env: LaunchedApp, url: str, method: str) -> tuple[str, Mapping[str, Any]] | None:
    parts = urlsplit(htmllib.unescape(url))
    if parts.netloc or not parts.path.startswith("/c/"):
        return None
    adapter = env.app.url_map.bind("localhost")
    try:
        endpoint, args = adapter.match(parts.path, method=method)
    except HTTPException:
        return None
    return str(endpoint), args


POST_ACTIONS: dict[str, Case] = {}
for _case in CASES:
    POST_ACTIONS.setdefault(_case.endpoint, _case)

# GET pages a link may lead to, and what one must be allowed to see there.
LINKED: dict[str, Action] = {
    "members.member": Action.VIEW_MEMBER_DETAILS,
    "members.nominate": Action.NOMINATE,
    "members.hand_over": Action.HAND_OVER,
    "group.take_over": Action.TAKE_OVER,
    "group.rename": Action.RENAME_GROUP,
    "group.meeting_wish": Action.GIVE_MEETING_WISH,
    "group.pause_or_end": Action.ASK_PAUSE_OR_END,
    "group.lifecycle": Action.CHANGE_STATUS,
    "group.history": Action.VIEW_TIMELINE,
    "goals.index": Action.VIEW_GOALS,
    "goals.goal": Action.VIEW_GOALS,
    "goals.new": Action.ADD_GOAL,
    "agreements.new": Action.ADD_AGREEMENT,
    "meetings.plan": Action.PLAN_MEETING,
}


def offered_but_forbidden(env: LaunchedApp, world: World, body: str) -> list[str]:
    """Forms (POST) and links (GET) in the page that lead to what the actor may not do or see."""
    wrong = []
    for tag in _FORM.findall(body):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("method", "get").lower() != "post" or attrs.get("action") == "/uitloggen":
            continue  # logging out of the app needs no right in the group
        found = _endpoint(env, attrs.get("action", ""), "POST")
        if found is None:
            wrong.append(f"a form to an unknown route: {tag}")
            continue
        endpoint, args = found
        case = POST_ACTIONS[endpoint]
        owner = None
        if endpoint == "agreements.mark_done":
            owner = world.owner_of(args["agreement_uid"])
        elif case.owner is not None:
            owner = world.who
        try:
            require(world.actor, case.action, owner=owner)
        except NotAllowed:
            wrong.append(f"form {endpoint} ({case.action}) {attrs.get('action')}")
    for href in set(_HREF.findall(body)):
        linked = _endpoint(env, href, "GET")
        if linked is None:
            continue
        endpoint, args = linked
        see = LINKED.get(endpoint)
        if endpoint == "agreements.edit" and not world.actor.may(Action.VIEW_ALL_AGREEMENTS):
            if world.owner_of(args["agreement_uid"]) != world.who:
                wrong.append(f"link to someone else's agreement {href}")
        elif see is Action.TAKE_OVER:
            if not may_take_over(world.group, world.actor):
                wrong.append(f"link {endpoint} {href}")
        elif see is not None and not world.actor.may(see):
            wrong.append(f"link {endpoint} ({see}) {href}")
    return wrong


@pytest.fixture(scope="module")
def get_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LaunchedApp, World, Path]]:
    tmp = tmp_path_factory.mktemp("rights-get")
    with launched(tmp) as env:
        yield env, prepare(env, tmp, secrets=True), tmp


@dataclass
class Seen:
    """What one persona's walk over the pages found."""

    bodies: dict[str, str] = field(default_factory=dict)  # page name -> HTML of a 200
    problems: list[str] = field(default_factory=list)


def walk(env: LaunchedApp, world: World) -> Seen:
    seen = Seen()
    for page in PAGES:
        path = page.path(world)
        response = env.get(path)
        body = text(response)
        want = expected_status(page, world)
        where = f"{world.role} GET {page.name} {path}"
        if response.status_code != want:
            seen.problems.append(f"{where}: {response.status_code}, expected {want}: {body[-400:]}")
            continue
        if want == 403 and REFUSED_TITLE not in body:
            seen.problems.append(f"{where}: 403 without the refusal page")
        way_back = f'<a href="{env.url("/")}">Terug naar de groep</a>' in body
        if want == 403 and way_back != (page.name != "overview"):  # the overview's own refusal does not loop
            seen.problems.append(f"{where}: the refusal page should {'not ' if way_back else ''}lead back to the group")
        for secret in forbidden_texts(world, page):
            if secret in body:
                seen.problems.append(f"{where}: shows {secret!r}")
        if want == 200:
            seen.bodies[page.name] = body
            seen.problems += [f"{where}: {w}" for w in offered_but_forbidden(env, world, body)]
    return seen


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
def test_get_matrix(get_env: tuple[LaunchedApp, World, Path], persona: Persona) -> None:
    env, world, _ = get_env
    become(env, world, persona)
    seen = walk(env, world)
    assert seen.problems == [], "\n".join(seen.problems)
    pages = seen.bodies
    # What the role may see is really there (so the absence checks above can tell).
    if persona.role in (Role.REGIEONDERSTEUNER, Role.CARE_PROFESSIONAL):
        assert all(t in pages["member Ans"] for t in ANS_RECORD)
        assert "Samen sporten." in pages["member Karim"] and "06-12345678" in pages["member Ans"]
        assert SECRET_GOAL in pages["goals"] and SECRET_AGREEMENT in pages["agreements"]
    if persona.role is Role.REGISSEUR:
        assert "Samen sporten." in pages["member Karim"] and "06-12345678" in pages["member Ans"]
        assert SECRET_GOAL in pages["goals"]
    if persona.role is Role.MEMBER:
        mine = "Cv bijwerken" if persona.user == LOTTE else "Sportschool uitzoeken"
        assert mine in pages["agreements"]
        assert "Lotte helpt met het cv." in pages["report"]  # the report is for the whole group
    if persona.role in (Role.NOMINEE, Role.NONE):
        assert pages == {}


# ------------------------------------------------------------------------------------------------ the caseload
# Not a page of one group: a practitioner's list of every group they take part in, with what needs attention.
# Lotte is a plain member of Sanne's group and only a nominee (interview planned) in Mohammed's.


def test_the_caseload_shows_a_member_no_agreement_of_someone_else(get_env: tuple[LaunchedApp, World, Path]) -> None:
    env, _, _ = get_env
    env.act_as(LOTTE)
    page = env.get("/caseload")
    assert page.status_code == 200 and "Team Sanne" in text(page)  # her group is listed
    assert SECRET_AGREEMENT not in text(page)


def test_the_caseload_shows_a_nominee_nothing_of_the_group(get_env: tuple[LaunchedApp, World, Path]) -> None:
    env, _, _ = get_env
    env.act_as(LOTTE)
    page = env.get("/caseload")
    assert page.status_code == 200
    for other_nominee in ("Henk de Boer", "Rachid"):
        assert other_nominee not in text(page), other_nominee
    assert "Team Mohammed" not in text(page)  # no row at all for a group she is only nominated for
