"""Demo data of the sandbox EPD: patients, practitioners and resource groups in different stages.

Patients and practitioners are plain FHIR JSON with fixed ids. Every resource of a group (CareTeam,
CarePlan, RelatedPerson, Goal, Task, Appointment, Communication, Observation, Location, ...) is made
through the project's own mapping (`fhir_mappings`): a `ResourceGroup` is built with its domain
operations and written with `group_to_fhir`, so the demo data is exactly what the app itself writes.

Dates are relative to `today`, so past meetings stay in the past and open interviews in the future.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fhir_mappings.codes import (
    AgreementStatus,
    GoalTerm,
    GroupStatus,
    InterviewVisibility,
    LifeArea,
    MeetingRole,
    MeetingTheme,
    ParticipationStatus,
    Section,
)
from fhir_mappings.model import AgendaItem, ResourceGroup, Supporter, new_uid
from fhir_mappings.profiles import MappingMode
from fhir_mappings.to_fhir import group_to_fhir

Json = dict[str, Any]
AMS = ZoneInfo("Europe/Amsterdam")
ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
# Fictional BSN-like identifiers would look real; the demo uses its own system instead.
DEMO_ID_SYSTEM = "https://resourcegroep.example.org/sandbox/patient-id"

# Who logs in first in the demo (the EPD lists practitioners by name; this is the regieondersteuner of
# the active and the ended group).
DEMO_PRACTITIONER = "anna-de-vries"


def _patient(pid: str, given: str, family: str, birth: str, gender: str, city: str, phone: str) -> Json:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": DEMO_ID_SYSTEM, "value": pid}],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given], "text": f"{given} {family}"}],
        "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
        "gender": gender,
        "birthDate": birth,
        "address": [{"use": "home", "city": city, "country": "NL"}],
        "communication": [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "nl-NL", "display": "Nederlands"}]},
                "preferred": True,
            }
        ],
    }


def _practitioner(pid: str, given: str, family: str, qualification: str, prefix: str = "") -> Json:
    name: Json = {"use": "official", "family": family, "given": [given], "text": f"{given} {family}"}
    if prefix:
        name["prefix"] = [prefix]
    return {
        "resourceType": "Practitioner",
        "id": pid,
        "active": True,
        "name": [name],
        "telecom": [{"system": "email", "value": f"{pid}@ggz-demo.example.nl", "use": "work"}],
        "qualification": [{"code": {"text": qualification}}],
    }


PATIENTS: tuple[Json, ...] = (
    _patient("sanne-bakker", "Sanne", "Bakker", "1994-05-17", "female", "Breda", "06-11111111"),
    _patient("mohammed-el-amrani", "Mohammed", "El Amrani", "1988-11-02", "male", "Tilburg", "06-22222222"),
    _patient("eva-visser", "Eva", "Visser", "1979-02-23", "female", "Eindhoven", "06-33333333"),
    _patient("daan-mulder", "Daan", "Mulder", "2001-08-09", "male", "Den Bosch", "06-44444444"),
)

PRACTITIONERS: tuple[Json, ...] = (
    _practitioner("anna-de-vries", "Anna", "de Vries", "GZ-psycholoog", "drs."),
    _practitioner("bram-jansen", "Bram", "Jansen", "Verpleegkundig specialist GGZ"),
    _practitioner("lotte-smit", "Lotte", "Smit", "Jobcoach (IPS)"),
)


def _practitioner_role(rid: str, practitioner: Json, organization: str, specialty: str, role: str) -> Json:
    """A PractitionerRole of a demo professional: where and as what they work (displays only, no codes)."""
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "active": True,
        "practitioner": {"reference": _ref(practitioner), "display": _name(practitioner)},
        "organization": {"display": organization},
        "code": [{"text": role}],
        "specialty": [{"text": specialty}],
    }


def _name(resource: Json) -> str:
    return str(resource["name"][0]["text"])


def _ref(resource: Json) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


_SANNE, _MOHAMMED, _EVA, _DAAN = PATIENTS
_ANNA, _BRAM, _LOTTE = PRACTITIONERS

# Every demo professional works in one role at the demo clinic; Bram Jansen in two (the nomination picker asks
# which, e.g. in Sanne's group). The demo groups keep their professionals as Practitioner references, as
# data from before the roles would.
PRACTITIONER_ROLES: tuple[Json, ...] = (
    _practitioner_role("anna-de-vries-ggz", PRACTITIONERS[0], "GGZ Demo", "Psychologie", "GZ-psycholoog"),
    _practitioner_role("bram-jansen-ggz", PRACTITIONERS[1], "GGZ Demo", "Verpleegkunde", "Verpleegkundig specialist"),
    _practitioner_role("bram-jansen-fact", PRACTITIONERS[1], "GGZ Demo FACT Breda", "FACT", "Casemanager"),
    _practitioner_role("lotte-smit-ips", PRACTITIONERS[2], "GGZ Demo", "Arbeidsre-integratie", "Jobcoach (IPS)"),
)


@dataclass(frozen=True)
class DemoGroup:
    """One demo resource group and the stage it is in."""

    patient_id: str
    stage: GroupStatus
    group: ResourceGroup
    description: str  # one line for the docs and the demo's start message


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), AMS)


def _supporter(name: str, code: str, text: str, phone: str = "", email: str = "") -> Supporter:
    return Supporter(new_uid(), name, code, ROLE_CODES, phone=phone, email=email, relationship_text=text)


def _forming_group(today: date) -> ResourceGroup:
    """Mohammed: a new group; two nominees wait for their interview, one interview was held."""
    start = today - timedelta(days=12)
    g = ResourceGroup.start_new(
        patient=_ref(_MOHAMMED),
        patient_display=_name(_MOHAMMED),
        regieondersteuner=_ref(_BRAM),
        regieondersteuner_display=_name(_BRAM),
        name="Team Mohammed",
        today=start,
    )
    brother = _supporter("Youssef El Amrani", "BRO", "broer", phone="06-55555555")
    neighbour = _supporter("Henk de Boer", "NBOR", "buurman", email="henk.deboer@example.nl")
    friend = _supporter("Rachid", "FRND", "vriend uit het voetbalteam", phone="06-66666666")
    m_brother, m_neighbour, m_friend = (
        g.nominate(p.uid, p.name, start + timedelta(days=1), p) for p in (brother, neighbour, friend)
    )
    coach = g.nominate(_ref(_LOTTE), _name(_LOTTE), start + timedelta(days=2))
    g.record_interview(
        m_brother.uid,
        _at(today - timedelta(days=4), 16),
        {
            Section.VERWACHTINGEN: "Wil Mohammed steunen zonder alles over te nemen.",
            Section.INZET: "Kan elke maand een avond.",
            Section.RELATIE: "Oudere broer; ze zien elkaar elke week.",
            Section.BIJDRAGE: "Helpt met post en afspraken.",
        },
        visibility=InterviewVisibility.SHARED,
    )
    g.plan_interview(m_neighbour.uid, _at(today + timedelta(days=3), 10), now=_at(today - timedelta(days=3), 9, 15))
    g.plan_interview(m_friend.uid, _at(today + timedelta(days=5), 19, 30), now=_at(today - timedelta(days=2), 11))
    g.plan_interview(
        coach.uid,
        _at(today + timedelta(days=6), 9, 30),
        interviewer=_ref(_BRAM),
        now=_at(today - timedelta(days=1), 14),
    )
    g.add_goal("Weer rust in mijn hoofd", GoalTerm.LANG, start, LifeArea.GEVOEL)
    return g


def _active_group(today: date) -> ResourceGroup:
    """Sanne: an active group with goals, agreements, two held meetings with reports and scores."""
    start = today - timedelta(days=120)
    g = ResourceGroup.start_new(
        patient=_ref(_SANNE),
        patient_display=_name(_SANNE),
        regieondersteuner=_ref(_ANNA),
        regieondersteuner_display=_name(_ANNA),
        name="Team Sanne",
        today=start,
    )
    mother = _supporter("Ans Bakker", "MTH", "moeder", phone="06-12345678", email="ans.bakker@example.nl")
    friend = _supporter("Karim Haddou", "FRND", "vriend", phone="06-87654321")
    m_mother = g.nominate(mother.uid, mother.name, start, mother)
    m_friend = g.nominate(friend.uid, friend.name, start, friend)
    m_coach = g.nominate(_ref(_LOTTE), _name(_LOTTE), start + timedelta(days=2))
    g.plan_interview(m_mother.uid, _at(start + timedelta(days=7), 14), now=_at(start + timedelta(days=1), 10))
    g.record_interview(
        m_mother.uid,
        _at(start + timedelta(days=7), 14, 5),
        {
            Section.VERWACHTINGEN: "Wil weten hoe het met Sanne gaat en waar ze kan helpen.",
            Section.INZET: "Elke bijeenkomst, ook 's avonds.",
            Section.RELATIE: "Moeder; ze hebben samen een zware tijd doorgemaakt.",
            Section.BIJDRAGE: "Kan helpen met geldzaken en formulieren.",
        },
        visibility=InterviewVisibility.PROFESSIONALS,
    )
    g.admit(m_mother.uid, start + timedelta(days=8))
    g.set_core(m_mother.uid, True)
    g.record_interview(
        m_friend.uid,
        _at(start + timedelta(days=9), 11),
        {Section.BIJDRAGE: "Samen sporten."},
        visibility=InterviewVisibility.SHARED,
    )
    g.admit(m_friend.uid, start + timedelta(days=9))
    g.record_interview(
        m_coach.uid,
        _at(start + timedelta(days=10), 9, 30),
        {Section.INZET: "Maandelijks."},
        visibility=InterviewVisibility.SHARED,
    )
    g.admit(m_coach.uid, start + timedelta(days=10))
    g.change_status(GroupStatus.ACTIVE, start + timedelta(days=14))

    house = g.add_goal("Zelfstandig wonen", GoalTerm.LANG, start, LifeArea.WONEN, today + timedelta(days=300))
    work = g.add_goal("Werk vinden dat bij me past", GoalTerm.LANG, start, LifeArea.DAGBESTEDING)
    allowance = g.add_goal(
        "Huurtoeslag aanvragen", GoalTerm.KORT, start, LifeArea.GELD, today - timedelta(days=20), house.uid
    )
    sport = g.add_goal("Twee keer per week sporten", GoalTerm.KORT, start, LifeArea.SPORT)
    g.add_goal_note(house.uid, "Kijkt naar woningen in Breda-Noord.", _at(today - timedelta(days=50), 10), _ref(_ANNA))
    form = g.add_agreement("Samen de aanvraag invullen", start, m_mother.who, allowance.uid, today - timedelta(days=40))
    place = g.add_place("Buurthuis De Linde", "Lindelaan 4, Breda")

    first = g.plan_meeting(
        _at(today - timedelta(days=70), 15),
        place_uid=place.uid,
        theme=MeetingTheme.STRESS,
        theme_text="Omgaan met drukte",
    )
    g.assign_role(first.uid, m_mother.who, MeetingRole.VOORZITTER)
    g.assign_role(first.uid, m_friend.who, MeetingRole.TIJDBEWAKER)
    g.assign_role(first.uid, _ref(_ANNA), MeetingRole.NOTULIST)
    g.add_invitation(
        first.uid,
        "Welkom bij de eerste bijeenkomst van Team Sanne.",
        _at(today - timedelta(days=84), 9),
        _calendar("Team Sanne", _at(today - timedelta(days=70), 15)),
    )
    g.record_response(first.uid, m_mother.who, ParticipationStatus.ACCEPTED)
    g.record_response(first.uid, m_friend.who, ParticipationStatus.ACCEPTED)
    g.set_agenda(
        first.uid,
        [
            AgendaItem("Welkom en kennismaken"),
            AgendaItem("", goal_uid=house.uid),
            AgendaItem("", agreement_uid=form.uid),
        ],
        ready=True,
    )
    gym = g.add_agreement(  # made at the first meeting: its report lists it as new
        "Sportschool uitzoeken", today - timedelta(days=70), m_friend.who, sport.uid, today - timedelta(days=50)
    )
    g.score_progress(house.uid, 3, _at(today - timedelta(days=70), 15, 30), first.uid, "Eerste stap gezet")
    g.score_progress(allowance.uid, 5, _at(today - timedelta(days=70), 15, 40), first.uid)
    g.write_report(
        first.uid,
        sections={
            Section.SAMENVATTING: "Goede start. Iedereen stelde zich voor.",
            Section.BESLUITEN: "Ans helpt met de huurtoeslag. Karim zoekt een sportschool.",
        },
        attended=[_ref(_SANNE), m_mother.who, m_friend.who, _ref(_ANNA)],
        goals_discussed=[house.uid, allowance.uid],
        new_agreements=[gym.uid],
        written=_at(today - timedelta(days=70), 17),
    )
    _complete(g, form.uid)

    second = g.plan_meeting(_at(today - timedelta(days=14), 19), place_uid=place.uid)
    g.assign_role(second.uid, _ref(_SANNE), MeetingRole.VOORZITTER)
    g.assign_role(second.uid, m_coach.who, MeetingRole.NOTULIST)
    g.set_agenda(second.uid, [AgendaItem("", goal_uid=work.uid), AgendaItem("", agreement_uid=gym.uid)], ready=True)
    cv = g.add_agreement("Cv bijwerken", today - timedelta(days=14), _ref(_LOTTE), work.uid, today + timedelta(days=14))
    # Ans's own open agreement: something to mark done when she signs in at the portal as a member.
    viewing = g.add_agreement(
        "Samen twee woningen bekijken", today - timedelta(days=14), m_mother.who, house.uid, today + timedelta(days=21)
    )
    g.score_progress(house.uid, 5, _at(today - timedelta(days=14), 19, 20), second.uid, "Inschrijving woningnet loopt")
    g.score_progress(allowance.uid, 9, _at(today - timedelta(days=14), 19, 25), second.uid, "Toeslag toegekend")
    g.score_progress(work.uid, 2, _at(today - timedelta(days=14), 19, 40), second.uid)
    g.score_progress(sport.uid, 4, _at(today - timedelta(days=14), 19, 50), second.uid)
    g.write_report(
        second.uid,
        sections={
            Section.SAMENVATTING: "De huurtoeslag is rond. Sanne wil nu aan werk werken.",
            Section.BESLUITEN: "Lotte helpt met het cv. Ans gaat mee naar twee woningen.",
            Section.OVERIG: "Volgende keer bij Sanne thuis.",
        },
        attended=[_ref(_SANNE), m_mother.who, m_coach.who, _ref(_ANNA)],
        goals_discussed=[house.uid, allowance.uid, work.uid, sport.uid],
        new_agreements=[cv.uid, viewing.uid],
        written=_at(today - timedelta(days=13), 10),
    )
    planned_at = _at(today - timedelta(days=13), 11)  # right after the report: the next meeting, three months on
    g.plan_meeting(*g.propose_next_meeting_time(planned_at), now=planned_at)
    return g


def _ended_group(today: date) -> ResourceGroup:
    """Eva: a group that met for a year and then ended; everything is kept."""
    start = today - timedelta(days=420)
    g = ResourceGroup.start_new(
        patient=_ref(_EVA),
        patient_display=_name(_EVA),
        regieondersteuner=_ref(_ANNA),
        regieondersteuner_display=_name(_ANNA),
        name="Team Eva",
        today=start,
    )
    partner = _supporter("Joost Visser", "HUSB", "partner", phone="06-77777777")
    sister = _supporter("Marleen Visser", "SIS", "zus", email="marleen@example.nl")
    members = [g.nominate(s.uid, s.name, start, s) for s in (partner, sister)]
    for offset, member in enumerate(members):
        g.record_interview(
            member.uid,
            _at(start + timedelta(days=5 + offset), 13),
            {Section.BIJDRAGE: "Er zijn."},
            visibility=InterviewVisibility.SHARED,
        )
        g.admit(member.uid, start + timedelta(days=6 + offset))
    g.change_status(GroupStatus.ACTIVE, start + timedelta(days=10))
    goal = g.add_goal("Weer halve dagen werken", GoalTerm.LANG, start, LifeArea.DAGBESTEDING)
    step = g.add_goal("Vaste dagstructuur", GoalTerm.KORT, start, LifeArea.GEVOEL, None, goal.uid)
    deal = g.add_agreement("Elke ochtend om 8 uur opstaan", start, None, step.uid)
    for days_ago, score in ((380, 2), (290, 5), (200, 7), (110, 9)):
        meeting = g.plan_meeting(_at(today - timedelta(days=days_ago), 14), theme=MeetingTheme.SIGNALERINGSPLAN)
        g.score_progress(goal.uid, score, _at(today - timedelta(days=days_ago), 14, 30), meeting.uid)
        g.score_progress(step.uid, min(10, score + 1), _at(today - timedelta(days=days_ago), 14, 35), meeting.uid)
        g.write_report(
            meeting.uid,
            sections={Section.SAMENVATTING: f"Voortgang besproken; werken gaat met een {score}."},
            attended=[_ref(_EVA), *(m.who for m in members), _ref(_ANNA)],
            goals_discussed=[goal.uid, step.uid],
            new_agreements=[],
            written=_at(today - timedelta(days=days_ago), 16),
        )
    _complete(g, deal.uid)
    g.change_status(GroupStatus.ENDED, today - timedelta(days=60))
    return g


def _complete(group: ResourceGroup, agreement_uid: str) -> None:
    agreement = group.agreement(agreement_uid)
    group.edit_agreement(
        agreement.uid,
        description=agreement.description,
        owner=agreement.owner,
        goal_uid=agreement.goal_uid,
        due=agreement.due,
        status=AgreementStatus.COMPLETED,
    )


def _calendar(summary: str, start: datetime) -> str:
    stamp = start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Resourcegroep sandbox//NL\r\nBEGIN:VEVENT\r\n"
        f"UID:{new_uid()}@sandbox\r\nDTSTAMP:{stamp}\r\nDTSTART:{stamp}\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


_BUILDERS: tuple[tuple[str, GroupStatus, Callable[[date], ResourceGroup], str], ...] = (
    ("sanne-bakker", GroupStatus.ACTIVE, _active_group, "actieve groep met doelen, afspraken en verslagen"),
    ("mohammed-el-amrani", GroupStatus.FORMING, _forming_group, "groep in oprichting, gesprekken gepland"),
    ("eva-visser", GroupStatus.ENDED, _ended_group, "beëindigde groep"),
)


def demo_groups(today: date) -> list[DemoGroup]:
    """The demo's resource groups (Daan Mulder has none yet), built with the domain operations."""
    return [DemoGroup(pid, stage, build(today), text) for pid, stage, build, text in _BUILDERS]


def people_bundle() -> Json:
    """A transaction Bundle that creates or updates the demo patients and practitioners under their fixed ids."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{new_uid()}",
                "resource": resource,
                "request": {"method": "PUT", "url": _ref(resource)},
            }
            for resource in (*PRACTITIONERS, *PRACTITIONER_ROLES, *PATIENTS)
        ],
    }


def group_bundle(group: ResourceGroup, mode: MappingMode = MappingMode.NL_CORE) -> Json:
    """One transaction Bundle with every resource of a new group (POST, `urn:uuid:` references), in the mapping
    mode the app uses for this EPD (the sandbox in Koppeltaal mode: KT2)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{written.uid}",
                "resource": written.resource,
                "request": {"method": "POST", "url": written.resource["resourceType"]},
            }
            for written in group_to_fhir(group, mode=mode)
        ],
    }


def demo_bundles(today: date, mode: MappingMode = MappingMode.NL_CORE) -> list[Json]:
    """Every demo transaction in the order to post them: people first, then one per group."""
    return [people_bundle(), *(group_bundle(d.group, mode) for d in demo_groups(today))]


def demo_resources(today: date, mode: MappingMode = MappingMode.NL_CORE) -> list[Json]:
    """Every demo resource (the people and the groups' resources) as plain FHIR JSON."""
    return [e["resource"] for bundle in demo_bundles(today, mode) for e in bundle["entry"]]


# Posts one transaction Bundle somewhere (a store's `load`, or an HTTP POST to a FHIR base).
BundlePoster = Callable[[Json], object]


def seed(post: BundlePoster, today: date | None = None, mode: MappingMode = MappingMode.NL_CORE) -> int:
    """Write all demo data through `post` (the groups in `mode`); returns the number of resources written."""
    bundles = demo_bundles(today or date.today(), mode)
    for bundle in bundles:
        post(bundle)
    return sum(len(b["entry"]) for b in bundles)
