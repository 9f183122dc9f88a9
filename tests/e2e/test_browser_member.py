"""A member's story in a real browser: Ans Bakker (Sanne's mother, a RelatedPerson) signs in at the sandbox portal,
opens the app by standalone launch, looks at the next meeting, says she will come, and marks her own agreement
done with a short note. Then the FHIR store is checked: her answer on the Appointment, the Task completed with
her note, a Provenance naming her. Her pages are checked with axe-core and at 360 px wide.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_support import (
    SLOW,
    AppInEpd,
    all_of,
    blocking_violations,
    ui,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PATIENT = "Patient/sanne-bakker"
MEMBER = "Ans Bakker"
HER_AGREEMENT = "Samen twee woningen bekijken"
OTHERS_AGREEMENTS = ("Cv bijwerken", "Sportschool uitzoeken")
NOTE = "Twee woningen in Breda-Noord bekeken. De tweede was mooi! <b>echt</b>"
PHONE = 360


def member_reference(stack: Stack, name: str) -> str:
    found = [p for p in stack.sandbox.directory.related_people() if p.display == name]
    assert len(found) == 1, name
    return f"RelatedPerson/{found[0].id}"


def sanne_meetings(stack: Stack) -> list[dict[str, Any]]:
    """Sanne's meeting Appointments (not the interviews), oldest first."""
    meetings = [
        a
        for a in all_of(stack, "Appointment")
        if any(c.get("code") == "resourcegroepbijeenkomst" for s in a.get("serviceType", []) for c in s["coding"])
        and any(p.get("actor", {}).get("reference") == PATIENT for p in a.get("participant", []))
    ]
    return sorted(meetings, key=lambda a: a["start"])


def sign_in_at_the_portal(app: AppInEpd, name: str) -> None:
    """The portal: pick yourself among the related people, open the app, log in at the clinic (standalone)."""
    page = app.page
    stack = app.stack
    page.goto(f"{stack.sandbox_url}/epd/portal")
    page.get_by_label(name, exact=True).check()
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/portal/me")
    expect(page.locator("h1")).to_have_text(f"Welkom, {name}")
    expect(page.locator("main")).to_contain_text("naaste van Sanne Bakker")
    page.get_by_role("link", name="Resourcegroep openen").click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/portal/me/app")
    frame = app.frame
    frame.locator(".choice-list a").first.click()  # the app's start page: log in at the clinic
    frame.wait_for_url(re.compile(re.escape(stack.app_url) + r"/c/[^/]+/.*"), timeout=SLOW)
    expect(frame.locator("h1")).to_be_visible(timeout=SLOW)


def check_on_a_phone(page: Page, url: str, name: str, findings: dict[str, list[str]]) -> None:
    """Open an app page on its own at 360 px: never wider than the screen; axe's serious/critical findings."""
    from axe_playwright_python.sync_playwright import Axe

    phone = page.context.new_page()
    try:
        phone.set_viewport_size({"width": PHONE, "height": 800})
        response = phone.goto(url)
        assert response is not None and response.status == 200, url
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, f"{name}: the page is {width} px wide on a {PHONE} px screen"
        findings[name] = blocking_violations(Axe().run(phone))
    finally:
        phone.close()
        page.bring_to_front()


def test_a_member_answers_the_invitation_and_marks_her_agreement_done_with_a_note(app: AppInEpd) -> None:
    stack = app.stack
    ans = member_reference(stack, MEMBER)
    planned = [m for m in sanne_meetings(stack) if m["status"] in ("proposed", "booked")]
    assert len(planned) == 1, "the demo data has one planned meeting for Sanne's group"
    meeting_id = planned[0]["id"]
    provenance_before = len(all_of(stack, "Provenance"))
    phone_findings: dict[str, list[str]] = {}

    sign_in_at_the_portal(app, MEMBER)
    frame = app.frame
    # A member: no "attention needed" list for care professionals, no group management.
    expect(frame.locator("main")).to_contain_text("Team Sanne")
    expect(frame.get_by_role("button", name=ui("Pause the group"))).to_have_count(0)
    check_on_a_phone(app.page, frame.url, "overview", phone_findings)

    # The next meeting: when, where, who chairs; she says she will come.
    app.nav("Meetings")
    check_on_a_phone(app.page, frame.url, "meetings", phone_findings)
    expect(frame.get_by_role("link", name=ui("Plan a meeting"))).to_have_count(0)
    app.follow(frame.locator("section[aria-labelledby=planned-h] a").first)
    main = frame.locator("main")
    expect(main).to_contain_text(app.dutch("When"))
    expect(main).to_contain_text(app.dutch("Chair"))
    expect(main).to_contain_text("Zet het in je kalender")
    check_on_a_phone(app.page, frame.url, "meeting", phone_findings)
    app.save(frame.get_by_role("button", name=ui("I am coming")))
    expect(main).to_contain_text(re.compile(r"Je antwoord nu:\s*komt"))

    # Her own agreements only; she marks hers done, with a note.
    app.nav("Agreements")
    expect(app.h1()).to_have_text(ui("My agreements"))
    expect(main).to_contain_text(HER_AGREEMENT)
    for other in OTHERS_AGREEMENTS:
        expect(main).not_to_contain_text(other)
    check_on_a_phone(app.page, frame.url, "agreements", phone_findings)
    app.follow(frame.get_by_role("link", name=re.compile(app.dutch("Done, with a note"))))
    expect(frame.get_by_role("heading", name=ui("Have you done it?"))).to_be_visible()
    check_on_a_phone(app.page, frame.url, "agreement", phone_findings)
    frame.get_by_label(ui("A short note (optional)")).fill(NOTE)
    app.save(frame.get_by_role("button", name=ui("Mark done")))
    done = frame.locator("section[aria-labelledby=done-h]")
    expect(done).to_contain_text(HER_AGREEMENT)
    expect(done).to_contain_text(NOTE)  # shown as text, never as markup
    expect(frame.locator("main b")).to_have_count(0)

    # What the EHR holds now.
    appointment = next(a for a in all_of(stack, "Appointment") if a["id"] == meeting_id)
    answers = {p["actor"]["reference"]: p["status"] for p in appointment["participant"] if "actor" in p}
    assert answers[ans] == "accepted"
    assert answers[PATIENT] == "needs-action"  # nobody else's answer changed
    [task] = [t for t in all_of(stack, "Task") if t.get("description") == HER_AGREEMENT]
    assert task["status"] == "completed"
    assert [n["text"] for n in task["note"]] == [NOTE]
    assert task["note"][0]["authorReference"]["reference"] == ans and task["note"][0]["time"]
    for other in OTHERS_AGREEMENTS:
        assert next(t for t in all_of(stack, "Task") if t.get("description") == other)["status"] == "requested"
    provenance = all_of(stack, "Provenance")
    assert len(provenance) == provenance_before + app.saves == provenance_before + 2
    mine = [p for p in provenance if any(a.get("who", {}).get("reference") == ans for a in p.get("agent", []))]
    assert {p["activity"].get("text") for p in mine} >= {"Gereageerd op de uitnodiging", "Afspraak klaar gemeld"}

    app.check_no_dialogs()
    assert {page: found for page, found in phone_findings.items() if found} == {}
