"""Another patient's ids in every URL and form field of a launch for Sanne: Mohammed's (a forming group) and Eva's
(an ended group) goals, meetings, members, agreements and resources. Anna may see and change Sanne's group, so every
refusal here comes from the ids, not from her role. Each attempt is refused with a Dutch page, shows nothing of the
other patient, and leaves the FHIR record as it was."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from fhir_mappings.rights import Role
from plugin.meetings.forms import response_key
from tests.security.attack import (
    ANNA,
    BRAM,
    MOHAMMED,
    SANNE,
    Browser,
    Route,
    app_routes,
    assert_unchanged,
    record,
    refused,
    resources,
    turned_down,
)
from tests.security.worlds import Loaded, load_groups
from tests.support.stack import Stack
from tests.unit.plugin.test_rights_matrix import CASES, World

pytestmark = pytest.mark.integration

EVA = "eva-visser"
REFUSALS = (403, 404, 409, 422)
# What a page for Sanne must never show: the other patients' names, their supporters and their goals.
FOREIGN_TEXTS = ("Mohammed", "Youssef", "Henk de Boer", "Weer rust in mijn hoofd", "Eva Visser", "Joost Visser")
KIND_OF_ARGUMENT = {
    "goal_uid": "goal",
    "meeting_uid": "meeting",
    "member_uid": "member",
    "agreement_uid": "agreement",
    "wish_uid": "wish",
}


@dataclass
class Setting:
    stack: Stack
    anna: Browser
    sanne: Loaded
    foreign: dict[str, list[str]]  # kind -> uids of Mohammed's and Eva's groups
    routes: list[Route]


@pytest.fixture(scope="module")
def setting(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Setting:
    tmp = tmp_path_factory.mktemp("cross-patient")
    mohammed = Browser.portal(stack, f"Patient/{MOHAMMED}")  # a wish of his own, so his group has one to aim at
    wished = mohammed.post("wens", {"theme": "stress"})
    assert wished.status_code == 303, wished.text[-800:]
    bram = Browser.ehr(stack, BRAM, MOHAMMED)  # and a meeting and an agreement in his group
    meeting = {"start": "2031-05-06T19:30", "minutes": "60", "place": "later"}
    agreement = {"description": "Samen naar de huisarts", "owner": f"Patient/{MOHAMMED}"}
    for path, form in (("bijeenkomsten/nieuw", meeting), ("afspraken/nieuw", agreement)):
        made = bram.post(path, form)
        assert made.status_code == 303, made.text[-800:]
    groups = load_groups(
        stack, tmp, {SANNE: f"Practitioner/{ANNA}", MOHAMMED: f"Practitioner/{BRAM}", EVA: f"Practitioner/{ANNA}"}
    )
    foreign = {kind: groups[MOHAMMED].uids(kind)[:1] + groups[EVA].uids(kind)[:1] for kind in KIND_OF_ARGUMENT.values()}
    assert all(foreign.values()), foreign
    return Setting(stack, Browser.ehr(stack, ANNA, SANNE), groups[SANNE], foreign, app_routes(tmp))


def _shows_nothing_foreign(response: requests.Response, what: str) -> None:
    for text in FOREIGN_TEXTS:
        assert text not in response.text, f"{what}: shows {text!r}"


def _uid_routes(setting: Setting, method: str) -> list[Route]:
    found = [
        r
        for r in setting.routes
        if method in r.methods and "context_id" in r.arguments and r.arguments & set(KIND_OF_ARGUMENT)
    ]
    assert found, method
    return found


def _attempts(setting: Setting, route: Route) -> Iterator[tuple[str, str]]:
    """(path, uid) for the route with each foreign uid of its kind in its place."""
    [argument] = route.arguments & set(KIND_OF_ARGUMENT)
    for uid in setting.foreign[KIND_OF_ARGUMENT[argument]]:
        yield route.path({"context_id": setting.anna.context_id, argument: uid}), uid


def test_every_page_with_an_id_refuses_another_patients_id(setting: Setting) -> None:
    before = record(setting.stack)
    tried = expected = 0
    for route in _uid_routes(setting, "GET"):
        expected += len(list(_attempts(setting, route)))
        for path, _ in _attempts(setting, route):
            response = setting.anna.get(path)
            refused(
                response, (403, 404), "Pagina niet gevonden" if response.status_code == 404 else "Geen toegang", path
            )
            _shows_nothing_foreign(response, path)
            tried += 1
    assert tried == expected > 0
    assert_unchanged(setting.stack, before)


def _sanne_world(setting: Setting) -> World:
    return World(setting.sanne.loaded, who=f"Practitioner/{ANNA}", role=Role.REGIEONDERSTEUNER)


def _valid_form(setting: Setting, endpoint: str) -> dict[str, Any]:
    """The form the rights matrix sends to this route (valid for Sanne's group), or an empty one where the matrix
    builds it from people its own setup nominates."""
    world = _sanne_world(setting)
    for case in CASES:
        if case.endpoint == endpoint:
            try:
                return dict(case.form(world))
            except (StopIteration, AssertionError, ValueError):
                return {}
    raise AssertionError(f"no case for {endpoint} in the rights matrix")


def test_every_action_with_an_id_refuses_another_patients_id(setting: Setting) -> None:
    before = record(setting.stack)
    tried = expected = 0
    for route in _uid_routes(setting, "POST"):
        form = _valid_form(setting, route.endpoint)
        for path, _ in _attempts(setting, route):
            response = setting.anna.post(path, form)
            what = f"POST {route.endpoint} {path}"
            assert_unchanged(setting.stack, before, what)
            message = turned_down(setting.anna, response, what)
            assert message, what
            _shows_nothing_foreign(response, what)
            tried += 1
        expected += len(list(_attempts(setting, route)))
    assert tried == expected > 0


def _foreign_form_fields(setting: Setting, stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    """Forms of Sanne's group with, in one field each, a reference into another patient's record."""
    world = _sanne_world(setting)
    planned = world.planned
    held = world.held
    mohammed_goal = setting.foreign["goal"][0]
    eva_agreement = setting.foreign["agreement"][0]
    eva_meeting = setting.foreign["meeting"][0]
    youssef = next(r["id"] for r in resources(stack, "RelatedPerson") if "Youssef" in str(r.get("name")))
    their_appointments = [
        a["id"]
        for a in resources(stack, "Appointment")
        if any(f"Patient/{p}" in str(a.get("participant")) for p in (MOHAMMED, EVA))
    ]
    assert their_appointments
    someone_else = f"Patient/{MOHAMMED}"
    return [
        ("afspraken/nieuw", {"description": "Voor een ander", "owner": someone_else}),
        ("afspraken/nieuw", {"description": "Voor een ander", "owner": f"RelatedPerson/{youssef}"}),
        (
            "afspraken/nieuw",
            {"description": "Voor een ander doel", "owner": f"Patient/{SANNE}", "goal_uid": mohammed_goal},
        ),
        (
            f"afspraken/{world.agreement('Cv bijwerken')}",
            {"description": "Cv bijwerken", "owner": someone_else, "status": "in-progress"},
        ),
        ("doelen/nieuw", {"text": "Stap van een ander doel", "term": "kort", "parent_uid": mohammed_goal}),
        (f"doelen/{world.goal('Zelfstandig wonen')}/voortgang", {"score": "6", "meeting_uid": eva_meeting}),
        (f"bijeenkomsten/{planned}/rollen", {"voorzitter": someone_else, "notulist": "", "tijdbewaker": ""}),
        (f"bijeenkomsten/{planned}/reacties", {response_key(someone_else): "accepted"}),
        (f"bijeenkomsten/{held}/verslag", {"samenvatting": "Verslag", "attended": [someone_else]}),
        (
            f"bijeenkomsten/{held}/verslag",
            {
                "samenvatting": "Verslag",
                "attended": [f"Patient/{SANNE}"],
                "scores-0-goal": mohammed_goal,
                "scores-0-discussed": "y",
                "scores-0-score": "7",
            },
        ),
        (
            f"bijeenkomsten/{planned}/agenda",
            {"lines-0-kind": "goal", "lines-0-ref": mohammed_goal, "lines-0-include": "y"},
        ),
        (
            f"bijeenkomsten/{planned}/agenda",
            {"lines-0-kind": "agreement", "lines-0-ref": eva_agreement, "lines-0-include": "y"},
        ),
        (
            "bijeenkomsten/nieuw",
            {"start": "2031-03-04T19:30", "minutes": "60", "place": setting.foreign["meeting"][-1]},
        ),
        ("wens", {"chair": someone_else, "theme": "stress"}),
        *[("onleesbaar/afzeggen", {"resource": f"Appointment/{a}"}) for a in their_appointments[:2]],
        ("onleesbaar/afzeggen", {"resource": someone_else}),
    ]


def test_another_patients_reference_in_a_form_field_is_refused(setting: Setting) -> None:
    before = record(setting.stack)
    for path, form in _foreign_form_fields(setting, setting.stack):
        response = setting.anna.post(path, form)
        what = f"POST {path} {sorted(form)}"
        assert_unchanged(setting.stack, before, what)
        assert turned_down(setting.anna, response, what), what
        _shows_nothing_foreign(response, what)
