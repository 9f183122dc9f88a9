"""Every role trying what it may not do, over real launches: the patient and her supporters log in at the
sandbox's portal (standalone launch), the care professionals at the EPD (EHR launch). The cases and the expectations
are the rights matrix's (tests/unit/plugin/test_rights_matrix.py, which runs every route × every role on the test
client); here the refusals among them go through the whole stack: each ends in the 403 page "Dit is niet voor jouw
rol" (or, for a page, "not found" where the matrix expects it) and leaves the FHIR record as it was. The POSTs are a
slice of the matrix (SLICE); the pages are all of its pages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fhir_mappings.rights import Role, actor_in
from tests.security.attack import (
    ANNA,
    BRAM,
    LOTTE,
    SANNE,
    Browser,
    assert_unchanged,
    record,
    refused,
    related_person_id,
)
from tests.security.worlds import Loaded, load_groups
from tests.support.stack import Stack
from tests.unit.plugin.test_rights_matrix import (
    CASES,
    PAGES,
    REFUSED_TITLE,
    Case,
    Page,
    When,
    World,
    allowed,
    expected_status,
)

pytestmark = pytest.mark.integration

# A slice of the matrix's POST cases: each area, a create, an edit, a decision and the group's lifecycle.
SLICE = frozenset(
    {
        "group.rename",
        "group.lifecycle",
        "group.take_over",
        "goals.new",
        "goals.score",
        "agreements.new",
        "agreements.mark_done (Lotte's)",
        "meetings.plan",
        "meetings.mark",
        "notes.report",
        "members.nominate_person",
        "members.set_core",
        "members.hand_over",
    }
)
NOMINEE = "Tom Jansen"  # nominated by Anna through the app in the setup; logs in at the portal as a RelatedPerson


@dataclass(frozen=True)
class Login:
    name: str
    role: Role
    practitioner: str = ""  # EHR launch at the EPD
    portal: str = ""  # standalone launch: "Patient/x", or the name of a RelatedPerson


LOGINS = (
    Login("regisseur", Role.REGISSEUR, portal=f"Patient/{SANNE}"),
    Login("member-related-person", Role.MEMBER, portal="Karim Haddou"),
    Login("member-practitioner", Role.MEMBER, practitioner=LOTTE),
    Login("nominee", Role.NOMINEE, portal=NOMINEE),
    Login("care-professional", Role.CARE_PROFESSIONAL, practitioner=BRAM),
)


@pytest.fixture(scope="module")
def sanne(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    anna = Browser.ehr(stack, ANNA, SANNE)
    nominated = anna.post("leden/nomineren/naaste", {"name": NOMINEE, "relationship": "FRND"})
    assert nominated.status_code == 303, nominated.text[-800:]
    return load_groups(stack, tmp_path_factory.mktemp("roles"), {SANNE: f"Practitioner/{ANNA}"})[SANNE]


def test_the_slice_names_cases_of_the_matrix() -> None:
    assert {case.name for case in CASES} >= SLICE


@pytest.fixture(scope="module")
def logged_in() -> dict[str, tuple[Browser, str]]:
    """The browsers launched so far in this module, by login name (each role logs in once)."""
    return {}


def _log_in(stack: Stack, login: Login, cache: dict[str, tuple[Browser, str]]) -> tuple[Browser, str]:
    """The browser launched for Sanne as `login`, and the launch's user reference."""
    if login.name not in cache:
        cache[login.name] = _launch(stack, login)
    return cache[login.name]


def _launch(stack: Stack, login: Login) -> tuple[Browser, str]:
    if login.practitioner:
        return Browser.ehr(stack, login.practitioner, SANNE), f"Practitioner/{login.practitioner}"
    person = login.portal if "/" in login.portal else f"RelatedPerson/{related_person_id(stack, login.portal)}"
    return Browser.portal(stack, person), person


def _world(sanne: Loaded, user: str, role: Role) -> World:
    world = World(sanne.loaded)
    who = next((s.uid for s in sanne.group.supporters if str(sanne.loaded.index.ref(s.uid)) == user), user)
    world.who, world.role = who, role
    assert actor_in(sanne.group, who).role is role, (user, role)
    return world


def _computable(case: Case | Page, world: World) -> str | None:
    """The case's path in Sanne's group; None where it names something only the matrix's own setup makes."""
    try:
        return case.path(world)
    except (StopIteration, AssertionError, ValueError):
        return None


@pytest.mark.parametrize("login", LOGINS, ids=[login.name for login in LOGINS])
def test_a_role_cannot_do_what_the_rights_table_does_not_give_it(
    stack: Stack, sanne: Loaded, logged_in: dict[str, tuple[Browser, str]], login: Login
) -> None:
    browser, user = _log_in(stack, login, logged_in)
    world = _world(sanne, user, login.role)
    before = record(stack)
    tried = []
    for case in CASES:
        if case.name not in SLICE:
            continue
        path = _computable(case, world)
        if path is None or (allowed(case, world) and case.when_allowed != When.HAS_REGIEONDERSTEUNER):
            continue
        try:
            form = case.form(world)
        except (StopIteration, AssertionError, ValueError):
            form = {}
        response = browser.post(path.lstrip("/"), form)
        refused(response, 403, REFUSED_TITLE, f"{login.name} {case.name} POST {path}")
        assert_unchanged(stack, before, f"{login.name} {case.name}")
        tried.append(case.name)
    assert len(tried) >= 3, tried  # every role here is refused at least this many of the slice


@pytest.mark.parametrize("login", LOGINS, ids=[login.name for login in LOGINS])
def test_a_role_cannot_open_the_pages_it_may_not_see(
    stack: Stack, sanne: Loaded, logged_in: dict[str, tuple[Browser, str]], login: Login
) -> None:
    browser, user = _log_in(stack, login, logged_in)
    world = _world(sanne, user, login.role)
    before = record(stack)
    tried = 0
    for page in PAGES:
        path = _computable(page, world)
        if path is None:
            continue
        want = expected_status(page, world)
        if want == 200:
            continue
        response = browser.get(path.lstrip("/"))
        refused(response, want, REFUSED_TITLE if want == 403 else "Pagina niet gevonden", f"{login.name} {page.name}")
        tried += 1
    if login.role is not Role.REGISSEUR:
        assert tried > 0, login.name
    assert_unchanged(stack, before, login.name)
