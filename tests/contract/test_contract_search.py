"""Every search parameter the app uses, _include/_revinclude/iterate, paging, sorting, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.contract.conftest import Fhir, refs, unique
from tests.contract.data import IDENT, PRODUCT, Group, write_group


@pytest.fixture(scope="module")
def groups(fhir: Fhir) -> Iterator[tuple[Group, Group]]:
    """Two patients' full groups on the server under test (the second one must never leak in)."""
    yield write_group(fhir, unique("g")), write_group(fhir, unique("o"))


def _match(fhir: Fhir, query: str) -> set[str]:
    bundle = fhir.search(query)
    return refs(bundle, "match")


# (query template, roles expected as the exact match set). {role} is replaced by "Type/id",
# {role.id} by the bare id, {tag} by the group's tag.
CASES: list[tuple[str, list[str]]] = [
    ("Goal?_id={goal_long.id}", ["goal_long"]),
    ("Goal?_id={goal_long.id},{goal_short.id}", ["goal_long", "goal_short"]),
    ("Goal?identifier={ident}|{tag}-goal_short", ["goal_short"]),
    ("Goal?patient={patient.id}", ["goal_long", "goal_short"]),
    ("Goal?patient={patient}", ["goal_long", "goal_short"]),
    ("Goal?subject={patient}", ["goal_long", "goal_short"]),
    ("Goal?patient={patient}&lifecycle-status=proposed", ["goal_short"]),
    ("Goal?patient={patient}&category={product}|wonen", ["goal_long", "goal_short"]),
    ("CareTeam?patient={patient}&status=active", ["team"]),
    ("CareTeam?participant={related}", ["team"]),
    ("CareTeam?participant={practitioner}&status=active", ["team"]),
    ("CarePlan?patient={patient}&category={product}|resourcegroepplan", ["plan"]),
    ("CarePlan?subject={patient}&category=resourcegroepplan", ["plan"]),
    ("CarePlan?patient={patient.id}&status=active", ["plan"]),
    ("CarePlan?care-team={team}", ["plan"]),
    ("CarePlan?goal={goal_short}", ["plan"]),
    ("CarePlan?activity-reference={task2}", ["plan"]),
    ("Task?based-on={plan}", ["task1", "task2"]),
    ("Task?focus={goal_short}", ["task1"]),
    ("Task?owner={practitioner}", ["task2"]),
    ("Task?patient={patient}&status=requested", ["task1"]),
    ("Task?patient={patient}&status=requested,completed", ["task1", "task2"]),
    ("Appointment?supporting-info={plan}", ["meeting_past", "meeting_next"]),
    ("Appointment?actor={location}", ["meeting_past"]),
    ("Appointment?actor={practitioner2}", ["meeting_next"]),
    ("Appointment?patient={patient}", ["meeting_past", "meeting_next"]),
    ("Appointment?patient={patient}&date=ge2026-03-01", ["meeting_next"]),
    ("Appointment?patient={patient}&date=lt2026-03-01", ["meeting_past"]),
    ("Appointment?patient={patient}&date=2026-02-01", ["meeting_past"]),
    ("Appointment?patient={patient}&date=ge2026-01-01&date=le2026-12-31", ["meeting_past", "meeting_next"]),
    ("Appointment?patient={patient}&status=fulfilled", ["meeting_past"]),
    ("Appointment?patient={patient}&service-type={product}|resourcegroepbijeenkomst", ["meeting_past", "meeting_next"]),
    ("Communication?based-on={plan}", ["agenda", "interview"]),
    ("Communication?part-of={meeting_past}", ["report"]),
    ("Communication?subject={patient}&category={product}|verslag", ["report"]),
    ("Communication?patient={patient}&category=nominatiegesprek", ["interview"]),
    ("Communication?recipient={team}", ["report"]),
    ("Communication?patient={patient}&status=preparation", ["agenda"]),
    ("Observation?focus={goal_long}", ["progress"]),
    ("Observation?patient={patient}&code={product}|doelvoortgang", ["progress"]),
    ("Observation?subject={patient}&date=2026-02", ["progress"]),
    ("RelatedPerson?patient={patient}", ["related"]),
    ("Practitioner?identifier={ident}|{tag}-practitioner2", ["practitioner2"]),
    ("Practitioner?name=devries{tag}", ["practitioner"]),
    ("Patient?identifier=urn:oid:2.16.840.1.113883.2.4.6.3|MRN-{tag}", ["patient"]),
    ("Patient?name=jansen{tag}", ["patient"]),
    ("Patient?name=JANSEN{tag}", ["patient"]),
    ("Provenance?target={plan}", ["provenance"]),
    ("Location?name=Spreekkamer {tag}", ["location"]),
]


def _fill(template: str, group: Group) -> str:
    out = template.replace("{ident}", IDENT).replace("{product}", PRODUCT).replace("{tag}", group.tag)
    for role in sorted(group.refs, key=len, reverse=True):
        out = out.replace("{" + role + ".id}", group.id(role)).replace("{" + role + "}", group.refs[role])
    assert "{" not in out, out
    return out


@pytest.mark.parametrize(("template", "roles"), CASES, ids=[c[0] for c in CASES])
def test_search_parameter(fhir: Fhir, groups: tuple[Group, Group], template: str, roles: list[str]) -> None:
    group, _ = groups
    assert _match(fhir, _fill(template, group)) == {group.refs[r] for r in roles}


def test_last_updated_search(fhir: Fhir, groups: tuple[Group, Group]) -> None:
    group, _ = groups
    stamp = group.resources["goal_long"]["meta"]["lastUpdated"]
    day = stamp[:10]
    assert group.refs["goal_long"] in _match(fhir, f"Goal?patient={group.refs['patient']}&_lastUpdated={day}")
    assert _match(fhir, f"Goal?patient={group.refs['patient']}&_lastUpdated=gt2100-01-01") == set()
    assert len(_match(fhir, f"Goal?patient={group.refs['patient']}&_lastUpdated=ge2020-01-01")) == 2


def test_post_search_equals_get_search(fhir: Fhir, groups: tuple[Group, Group]) -> None:
    group, _ = groups
    r = fhir.session.post(
        f"{fhir.base}/Goal/_search",
        data={"patient": group.refs["patient"], "lifecycle-status": "active"},
        timeout=30,
    )
    assert r.status_code == 200
    assert refs(r.json(), "match") == {group.refs["goal_long"]}


def test_summary_count_gives_only_the_total(fhir: Fhir, groups: tuple[Group, Group]) -> None:
    group, _ = groups
    bundle = fhir.search(f"Communication?patient={group.refs['patient']}&_summary=count")
    assert bundle["total"] == 3
    assert not bundle.get("entry")


def test_count_and_next_links_page_through_everything(fhir: Fhir, groups: tuple[Group, Group]) -> None:
    group, _ = groups
    query = f"Communication?patient={group.refs['patient']}&_count=2"
    page = fhir.search(query)
    assert page["total"] == 3
    assert len(refs(page, "match")) == 2
    seen = set(refs(page, "match"))
    pages = 1
    while True:
        nxt = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
        if not nxt:
            break
        assert nxt[0].startswith(fhir.base)  # same server, opaque link
        page = fhir.search(nxt[0])
        seen |= refs(page, "match")
        pages += 1
        assert pages <= 3
    assert pages == 2
    assert seen == {group.refs[r] for r in ("agenda", "report", "interview")}


def test_default_page_size_is_bounded_and_total_is_exact(fhir: Fhir) -> None:
    tag = unique("many")
    entries = [
        {
            "resource": {"resourceType": "Location", "status": "active", "name": f"{tag} kamer {i}"},
            "request": {"method": "POST", "url": "Location"},
        }
        for i in range(25)
    ]
    assert fhir.transaction(entries).status_code == 200
    bundle = fhir.search(f"Location?name={tag}")
    assert bundle["total"] == 25
    assert len(refs(bundle, "match")) == 20
    assert any(link["relation"] == "next" for link in bundle["link"])
    assert len(refs(fhir.search(f"Location?name={tag}&_count=100"), "match")) == 25


def test_sort_on_date_and_last_updated(fhir: Fhir, groups: tuple[Group, Group]) -> None:
    group, _ = groups
    patient = group.refs["patient"]

    def order(query: str) -> list[str]:
        bundle = fhir.search(query)
        return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]

    past, nxt = group.refs["meeting_past"], group.refs["meeting_next"]
    assert order(f"Appointment?patient={patient}&_sort=date") == [past, nxt]
    assert order(f"Appointment?patient={patient}&_sort=-date") == [nxt, past]
    goal = fhir.get(group.refs["goal_long"]).json()
    assert fhir.put(group.refs["goal_long"], {**goal, "lifecycleStatus": "on-hold"}).status_code == 200
    newest_first = order(f"Goal?patient={patient}&_sort=-_lastUpdated")
    assert newest_first[0] == group.refs["goal_long"]
    assert order(f"Goal?patient={patient}&_sort=_lastUpdated")[-1] == group.refs["goal_long"]


def test_include_and_revinclude_mark_modes(fhir: Fhir, groups: tuple[Group, Group]) -> None:
    group, _ = groups
    bundle = fhir.search(f"CareTeam?patient={group.refs['patient']}&_include=CareTeam:participant")
    assert refs(bundle, "match") == {group.refs["team"]}
    members = {group.refs[r] for r in ("patient", "practitioner", "related", "practitioner2")}
    assert refs(bundle, "include") == members
    assert bundle["total"] == 1
    bundle = fhir.search(f"Goal?_id={group.id('goal_long')}&_revinclude=Observation:focus")
    assert refs(bundle, "include") == {group.refs["progress"]}


def test_unknown_search_parameter_is_400(fhir: Fhir) -> None:
    r = fhir.get("Goal?bogusparam=1")
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


def test_practitioners_with_their_roles_in_one_search(fhir: Fhir) -> None:
    """The nomination picker: practitioners by name with their roles (_revinclude), and a role with its
    practitioner (_include), each one request."""
    family = f"Rolcontract{uuid.uuid4().hex[:8]}"
    person = fhir.create({"resourceType": "Practitioner", "name": [{"family": family, "given": ["Ria"]}]})
    role = fhir.create(
        {
            "resourceType": "PractitionerRole",
            "active": True,
            "practitioner": {"reference": f"Practitioner/{person['id']}"},
            "organization": {"display": "GGZ Contract"},
            "code": [{"text": "Jobcoach"}],
        }
    )
    bundle = fhir.search(f"Practitioner?name:contains={family[3:]}&_count=20&_revinclude=PractitionerRole:practitioner")
    assert refs(bundle, "match") == {f"Practitioner/{person['id']}"}
    assert refs(bundle, "include") == {f"PractitionerRole/{role['id']}"}
    bundle = fhir.search(f"PractitionerRole?_id={role['id']}&_include=PractitionerRole:practitioner")
    assert refs(bundle, "match") == {f"PractitionerRole/{role['id']}"}
    assert refs(bundle, "include") == {f"Practitioner/{person['id']}"}
