"""NEN 7513 over real launches: an AuditEvent exists for every page view and every save of this run, naming
user and patient, refusals included; it lands in the sandbox EPD's FHIR record (which takes AuditEvents)."""

from __future__ import annotations

import time
from collections import Counter

from fhir_mappings.audit import AccessRecord, AuditAction, AuditOutcome, from_audit_event
from tests.security.attack import ANNA, LOTTE, SANNE, Browser, resources
from tests.support.stack import Stack

PAGES = {
    "": "view_overview",
    "leden": "view_members",
    "doelen": "view_goals",
    "afspraken": "view_own_agreements",
    "bijeenkomsten": "view_meetings",
    "tijdlijn": "view_timeline",
    "inzage": "view_access_log",
    "verbinding": "view_launch",  # the launch summary reads the Patient for its name
}


def audit_records(stack: Stack, user: str, expected: int) -> list[AccessRecord]:
    """The app's AuditEvents of `user` in the record, once at least `expected` arrived (written in the background)."""
    found: list[AccessRecord] = []
    for _ in range(150):  # the trail writes every 2 s; wait for it, up to 15 s
        found = [r for r in map(from_audit_event, resources(stack, "AuditEvent")) if r is not None and r.user == user]
        if len(found) >= expected:
            break
        time.sleep(0.1)
    return sorted(found, key=lambda r: r.recorded)


def test_every_page_view_and_save_of_a_run_has_an_audit_event_naming_user_and_patient(stack: Stack) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    views = 1  # the launch lands on the overview
    for path in PAGES:
        assert anna.get(path).status_code == 200, path
        views += 1
    saved = anna.post("doelen/nieuw", {"text": "Elke dag een ommetje", "term": "kort"})
    assert saved.status_code == 303, saved.text[-500:]
    lotte = Browser.ehr(stack, LOTTE, SANNE)  # a plain member
    assert lotte.get("doelen").status_code == 403

    annas = audit_records(stack, f"Practitioner/{ANNA}", views + 2)
    counted = Counter(r.app_action for r in annas)
    # the launch's landing page, the pages, the overview once more (for the form's CSRF token), the save
    expected = {**dict.fromkeys(PAGES.values(), 1), "view_overview": 3, "add_goal": 1}
    assert counted == Counter(expected), counted
    assert all(r.patient == f"Patient/{SANNE}" and r.outcome is AuditOutcome.SUCCESS for r in annas)
    assert all(r.address == "127.0.0.1" for r in annas)
    # her role in the group, where the page loaded the group; the launch summary does not look it up
    assert {r.role for r in annas if r.app_action != "view_launch"} == {"regieondersteuner"}
    assert next(r.role for r in annas if r.app_action == "view_launch") == "unknown"
    save = next(r for r in annas if r.app_action == "add_goal")
    goal = next(g for g in resources(stack, "Goal") if g["description"]["text"] == "Elke dag een ommetje")
    assert save.action is AuditAction.UPDATE and f"Goal/{goal['id']}" in save.entities

    lottes = audit_records(stack, f"Practitioner/{LOTTE}", 2)
    assert [(r.app_action, r.outcome, r.role) for r in lottes] == [
        ("view_overview", AuditOutcome.SUCCESS, "member"),
        ("view_goals", AuditOutcome.REFUSED, "member"),
    ]
