"""The patient as regisseur, end to end in a real browser (issue 11): Sanne opens the app from the sandbox
portal and puts forward what she wants (wishes for the next meeting, an agenda item, a score, a nomination with
her reason, a goal of her own); Anna then sees it in the context view as Sanne's and takes it up in one step.
What the record holds afterwards is read from the sandbox's FHIR store."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from fhir_mappings.codes import CS_ARTIFACT, EXT_NOMINATION_REASON, EXT_PROPOSED_BY, Artifact
from tests.e2e.browser_support import SLOW, WIDE, AppInEpd, group_resources, ui
from tests.support.stack import Stack

SANNE = "Patient/sanne-bakker"
PHONE = 360
# What Sanne puts forward, per run (each width writes its own, so the checks find exactly theirs).
PLACE = {PHONE: "In het park bij de vijver", 1280: "In de bibliotheek"}
AGENDA_ITEM = {PHONE: "Hoe ik mijn week plan", 1280: "Wat ik wil met mijn vrije tijd"}
NOMINEE = {PHONE: "Peter de Groot", 1280: "Mira de Groot"}
REASON = "Die persoon kent me al twintig jaar en is er altijd."
OWN_GOAL = {PHONE: "Elke week een keer koken voor vrienden", 1280: "Een cursus fotograferen volgen"}


def in_browser(browser: Browser, stack: Stack, width: int = WIDE) -> AppInEpd:
    context = browser.new_context(locale="nl-NL", viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    running = AppInEpd(context.new_page(), stack)
    running.watch_dialogs()
    return running


def portal_launch(app: AppInEpd, person: str) -> None:
    """Log in at the sandbox portal as `person` and open the app (standalone launch) in the portal's iframe."""
    page, stack = app.page, app.stack
    page.goto(f"{stack.sandbox_url}/epd/portal")
    page.get_by_label(person, exact=False).check()
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{stack.sandbox_url}/epd/portal/me")
    page.get_by_role("link", name="Resourcegroep", exact=False).first.click()
    app.frame.locator(".choice-list a").first.click()  # the app's start page: log in at the clinic
    app.frame.wait_for_url(re.compile(re.escape(stack.app_url) + r"/c/[^/]+/$"), timeout=SLOW)


def extension(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension") or [] if e.get("url") == url]


def is_wish(resource: dict[str, Any]) -> bool:
    codes = [c for cat in resource.get("category") or [] for c in cat.get("coding") or []]
    return any(c.get("system") == CS_ARTIFACT and c.get("code") == Artifact.WISH.value for c in codes)


def document_fits(app: AppInEpd) -> None:
    """The app's page is never wider than its frame (no sideways scrolling), on a phone too."""
    width, inner = app.frame.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{app.frame.url}: {width} px wide in a {inner} px frame"


# Each run writes to the same demo group: the second finds the first one's input taken up, and adds its own.
@pytest.mark.parametrize("width", [PHONE, WIDE], ids=["phone-360", "screen-1280"])
def test_the_patient_directs_and_the_clinician_takes_it_up(browser: Browser, stack: Stack, width: int) -> None:
    place, agenda_item, nominee, own_goal = PLACE[width], AGENDA_ITEM[width], NOMINEE[width], OWN_GOAL[width]
    sanne = in_browser(browser, stack, width)
    portal_launch(sanne, "Sanne Bakker")
    frame = sanne.frame
    expect(sanne.h1()).to_have_text(ui("Your resource group"))
    waiting = frame.locator("section.waiting-for-you")
    expect(waiting).to_contain_text(sanne.dutch("What is waiting for you"))
    expect(frame.locator("svg.sparkline").first).to_be_visible()
    document_fits(sanne)
    sanne.check_page("patient-home", narrow=True)
    if width == PHONE:  # who looked at her group (NEN 7513): her own right, on her phone
        sanne.follow(frame.get_by_role("link", name=ui("Who looked at your group")))
        expect(frame.locator("table.access-log tbody tr").first).to_contain_text("Sanne Bakker")
        sanne.check_page("patient-access-log", narrow=True)
        sanne.nav("Overview")

    # Her wishes for the next meeting: a place, her mother as chair, a theme.
    sanne.follow(frame.get_by_role("link", name=ui("Give your wishes for the next meeting")))
    frame.get_by_label(ui("Where would you like to meet?")).fill(place)
    frame.get_by_label(ui("Who would you like to chair the meeting?")).select_option(label="Ans Bakker")
    frame.get_by_label(ui("Is there a theme you want to talk about?")).select_option("stress")
    document_fits(sanne)
    sanne.check_page("patient-wish")
    sanne.save(frame.get_by_role("button", name=ui("Send my wishes")))
    expect(frame.locator("main")).to_contain_text(place)

    # An item for the agenda of the next meeting, from the link in "what is waiting for you".
    sanne.follow(frame.locator("section.waiting-for-you a[href*='/agenda']"))
    frame.get_by_label(ui("Your agenda item")).fill(agenda_item)
    sanne.save(frame.get_by_role("button", name=ui("Add to the agenda")))

    # Her own score for a goal, before the meeting (not at a meeting).
    sanne.nav("Goals")
    sanne.follow(frame.get_by_role("link", name="Zelfstandig wonen").first)
    score = 7 if width == PHONE else 8
    frame.locator(f"input[name=score][value='{score}']").check()
    sanne.save(frame.get_by_role("button", name=ui("Save score")))

    # Someone she wants in her group, and why; the word "nomineren" is explained where it is offered.
    sanne.nav("Overview")
    sanne.follow(frame.get_by_role("link", name=ui("Suggest someone for your group")))
    expect(frame.locator("main")).to_contain_text("Nomineren betekent")
    person = frame.locator("form").filter(has=frame.locator("#reason"))  # someone she knows (not a professional)
    person.get_by_label(ui("Name")).fill(nominee)
    person.get_by_label(ui("Who is this for you?")).select_option("FRND")
    person.get_by_label(ui("Why do you want this person in your group? (you may leave this empty)")).fill(REASON)
    document_fits(sanne)
    sanne.check_page("patient-nominate")
    sanne.save(person.get_by_role("button", name=ui("Nominate this person")))

    # A goal of her own, in her own words.
    sanne.nav("Goals")
    sanne.follow(frame.get_by_role("link", name=ui("Add a goal")).first)
    frame.get_by_label(re.compile("^" + sanne.dutch("The goal"))).fill(own_goal)
    frame.get_by_role("radio", name=ui("short term")).check()
    sanne.save(frame.get_by_role("button", name=ui("Add goal")))
    sanne.nav("Overview")
    expect(frame.locator("main")).to_contain_text(own_goal)
    assert sanne.accessibility_report() == ""
    sanne.context.close()

    # Anna opens Sanne's record in the EPD: Sanne's input is there, marked as hers, ready to take up.
    anna = in_browser(browser, stack, width)
    anna.launch("Anna de Vries", "Sanne Bakker")
    frame = anna.frame
    sanne_input = frame.locator("section.patient-input")
    expect(sanne_input.get_by_role("heading", level=2)).to_have_text("Van Sanne")
    for words in (anna.dutch("Wish for the next meeting"), place, "Ans Bakker", own_goal, REASON, agenda_item):
        expect(sanne_input).to_contain_text(words)
    expect(sanne_input).to_contain_text("Voorstel van Sanne")
    document_fits(anna)
    anna.check_page("context-patient-input", narrow=True)
    anna.save(sanne_input.get_by_role("button", name=ui("Take up in the meeting")))
    anna.save(frame.locator("section.patient-input").get_by_role("button", name=ui("Take up the goal")))
    expect(frame.locator("section.patient-input")).not_to_contain_text(place)
    assert anna.accessibility_report() == ""
    anna.context.close()

    record = group_resources(stack, SANNE)
    [wish] = [c for c in record["Communication"] if is_wish(c) and place in str(c.get("payload"))]
    assert wish["status"] == "completed" and wish["sender"]["reference"] == SANNE
    meeting = next(a for a in record["Appointment"] if a["id"] == wish["partOf"][0]["reference"].split("/")[-1])
    assert any(place in (p["actor"].get("display") or "") for p in meeting["participant"])
    [goal] = [g for g in record["Goal"] if g["description"]["text"] == own_goal]
    assert goal["lifecycleStatus"] == "active"  # proposed by Sanne, taken up by Anna
    assert any(
        o.get("valueInteger") == score and o["performer"][0]["reference"] == SANNE for o in record["Observation"]
    )
    [team] = record["CareTeam"]
    [peter] = [p for p in team["participant"] if p["member"].get("display") == nominee]
    assert extension(peter, EXT_PROPOSED_BY)[0]["valueReference"]["reference"] == SANNE
    assert extension(peter, EXT_NOMINATION_REASON)[0]["valueString"] == REASON
    agenda_items = [
        item
        for c in record["Communication"]
        for item in c.get("payload") or []
        if (item.get("contentString") or "") == agenda_item
    ]
    assert agenda_items and extension(agenda_items[0], EXT_PROPOSED_BY)[0]["valueReference"]["reference"] == SANNE
