"""A whole resource group in a real browser, inside the sandbox EPD's iframe, then checked in the FHIR store.

Daan Mulder (no group yet) gets a group from the first launch to the end: members nominated, interviewed and
admitted; goals and agreements; a meeting with place, chair, agenda and report with scores; the group ended.
Every main page is checked with axe-core and saved as a screenshot; one form is done with the keyboard only;
hostile text (script tags, quotes, right-to-left text, emoji) must come back literally and never run.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.browser_support import (
    AppInEpd,
    all_of,
    choose,
    group_resources,
    pattern,
    ui,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PATIENT = "Patient/daan-mulder"
PRACTITIONER = "Practitioner/anna-de-vries"
CS = "https://resourcegroep.nl/fhir/CodeSystem/"
RTL = "مرحبا שלום"
HOSTILE = f"<script>alert(1)</script>\"'& {RTL} 🎉👩🏽‍⚕️"
GROUP_NAME = f"Team Daan {HOSTILE}"
LONG_GOALS = (f"Zelf koken en wonen {HOSTILE}", "Werk vinden dat bij me past")
SHORT_GOALS = ("Huurtoeslag aanvragen", "Een cv maken met de jobcoach")
CIRCLE = (("Ans Mulder", "MTH", "06-12345678", "ans@example.nl"), ("Karim Haddad", "FRND", "", ""))
# Lotte Smit has one PractitionerRole in the EHR: the picker adds her by it (docs/mapping.md).
PRACTITIONER_NOMINEE = ("Smit", "PractitionerRole/lotte-smit-ips", "Lotte Smit")
INTERVIEW = {
    "Expectations": "Wil weten hoe het met Daan gaat",
    "Commitment": "Eens per drie maanden, en tussendoor bellen",
    "Relationship and history": "Kent Daan al lang",
    "Contribution to the goals": "Helpt met formulieren en koken",
}
AGREEMENTS = (f"Samen het formulier invullen {HOSTILE}", "Drie vacatures opzoeken")
REPORT_SUMMARY = f"Goede start. {HOSTILE}"
REPORT_DECISION = "Volgende keer bij Daan thuis."
NEW_AGREEMENT = "Karim gaat mee naar de eerste training"
SCORES = {LONG_GOALS[0]: ("4", "Eerste stap gezet"), LONG_GOALS[1]: ("6", "Twee gesprekken gehad")}
PLACE = "Buurthuis De Linde"
PLACE_ADDRESS = "Lindelaan 4, Den Bosch"


def confirm_past_date(app: AppInEpd, button: Locator) -> None:
    """A date that has passed is asked about first (422, everything kept): tick "yes, with this date"."""
    with app.frame.expect_navigation():
        button.click()
    expect(app.frame.locator(".problem-box")).to_contain_text(
        app.dutch("This date has already passed. Do you want to record it anyway?")
    )
    app.frame.get_by_label(ui("Yes, record it with this date")).check()


def earlier_today() -> str:
    """A minute that has passed today, Amsterdam time, as a datetime-local value (midnight just after midnight)."""
    now = datetime.now(AMSTERDAM).replace(second=0, microsecond=0)
    moment = max(now - timedelta(minutes=2), now.replace(hour=0, minute=0))
    return moment.strftime("%Y-%m-%dT%H:%M")


def amsterdam_today() -> date:
    """Today as the app sees it (Europe/Amsterdam)."""
    return datetime.now(AMSTERDAM).date()


def codes(concepts: list[dict[str, Any]] | None, system: str) -> set[str]:
    """The codes of `system` in a list of CodeableConcepts."""
    return {c["code"] for cc in concepts or [] for c in cc.get("coding") or [] if c.get("system") == system}


# ---------------------------------------------------------------------- steps in the browser


def start_group(app: AppInEpd) -> None:
    """The start page of a patient without a group: the name the patient chose (the hostile one)."""
    frame = app.frame
    expect(app.h1()).to_have_text(ui("Start a resource group"))
    frame.get_by_label(ui("Name of the group")).fill(GROUP_NAME)
    app.save(frame.get_by_role("button", name=ui("Start the group")))
    expect(app.h1()).to_have_text(ui("Overview"))
    expect(frame.locator(".group-name")).to_contain_text(GROUP_NAME)


def nominate(app: AppInEpd) -> list[str]:
    """Nominate two people from the patient's circle and one practitioner found by searching; their names."""
    frame = app.frame
    app.nav("Members")
    for name, relationship, phone, email in CIRCLE:
        app.follow(frame.get_by_role("link", name=ui("Nominate someone")))
        form = frame.locator("form", has=frame.get_by_role("button", name=ui("Nominate this person")))
        form.get_by_label(ui("Name")).fill(name)
        form.get_by_label(ui("Who is this for the patient?")).select_option(relationship)
        form.get_by_label(ui("Phone number (optional)")).fill(phone)
        form.get_by_label(ui("E-mail address (optional)")).fill(email)
        app.save(form.get_by_role("button", name=ui("Nominate this person")))

    search, reference, display = PRACTITIONER_NOMINEE
    app.follow(frame.get_by_role("link", name=ui("Nominate someone")))
    app.check_page("nominate")
    frame.get_by_label(ui("Name of the practitioner")).fill(search)
    app.follow(frame.get_by_role("search").get_by_role("button", name=ui("Search")))
    pick = frame.locator("form", has=frame.locator(f"input[name=practitioner][value='{reference}']"))
    expect(pick.get_by_role("button")).to_contain_text(display)
    app.save(pick.get_by_role("button"))
    names = [c[0] for c in CIRCLE] + [display]
    nominees = frame.locator("section", has=frame.get_by_role("heading", name=ui("Nominated")))
    for name in names:
        expect(nominees.get_by_role("link", name=name, exact=True)).to_be_visible()
    return names


def interview_and_admit(app: AppInEpd, name: str, *, core: bool = False) -> None:
    """Plan the introductory interview (earlier today: the nomination was today too), confirm the time that has
    passed, write the interview down (four topics), and admit the nominee."""
    frame = app.frame
    app.nav("Members")
    app.follow(frame.get_by_role("link", name=name, exact=True))
    moment = earlier_today()
    frame.get_by_label(ui("Date and time of the introductory interview")).fill(moment)
    confirm_past_date(app, frame.get_by_role("button", name=ui("Save the date")))
    app.save(frame.get_by_role("button", name=ui("Save the date")))
    expect(frame.get_by_label(ui("When was the interview held?"))).to_have_value(moment)
    for section, text in INTERVIEW.items():
        frame.get_by_label(ui(section)).fill(f"{text} ({name})")
    frame.get_by_label(ui("Shared with the patient")).check()
    app.save(frame.get_by_role("button", name=ui("Save the interview")))
    frame.get_by_label(ui("becomes a member of the group")).check()
    app.save(frame.get_by_role("button", name=ui("Save")))
    if core:
        app.save(frame.get_by_role("button", name=ui("Make core member")))
        app.check_page("member")


def add_goal_with_the_keyboard(app: AppInEpd, text: str) -> None:
    """The whole 'add a goal' form with Tab, typing and Enter only; every stop shows where the focus is."""
    frame = app.frame
    keyboard = app.page.keyboard
    frame.locator("main").focus()  # where the skip link lands: the start of the page's content
    app.tab_to("#text")
    keyboard.type(text)
    app.tab_to("input[name=term]")  # into the term radios: arrow keys choose within the group
    for _ in range(2):
        if frame.locator("#term-0").is_checked():
            break
        keyboard.press("ArrowUp")
    expect(frame.get_by_label(ui("long term"))).to_be_checked()
    app.tab_to("#life_area")
    keyboard.type(app.dutch("living")[:3])  # type-ahead in a closed select
    expect(frame.locator("#life_area")).to_have_value("wonen")
    app.tab_to("button[type=submit]")
    app.save_with_enter()


def add_goals(app: AppInEpd) -> None:
    """Two long-term goals (one typed with the keyboard only) and a short-term step under each."""
    frame = app.frame
    app.nav("Goals")
    app.follow(frame.get_by_role("link", name=ui("Add a goal")))
    add_goal_with_the_keyboard(app, LONG_GOALS[0])

    app.follow(frame.get_by_role("link", name=ui("Add a goal")))
    frame.get_by_label(ui("The goal")).fill(LONG_GOALS[1])
    frame.get_by_label(ui("long term")).check()
    frame.get_by_label(ui("Life area")).select_option("dagbesteding-werk")
    app.save(frame.get_by_role("button", name=ui("Add goal")))

    # A step from the long-term goal's own link: term and goal are chosen already.
    first = frame.locator("article.goal-card", has=frame.get_by_role("heading", name=LONG_GOALS[0], exact=True))
    app.follow(first.get_by_role("link", name=ui("Add a step", exact=False)))
    expect(frame.get_by_label(ui("short term"))).to_be_checked()
    frame.get_by_label(ui("The goal")).fill(SHORT_GOALS[0])
    app.save(frame.get_by_role("button", name=ui("Add goal")))

    # A step made by hand: short term, and the long-term goal chosen from the list.
    app.follow(frame.get_by_role("link", name=ui("Add a goal")))
    frame.get_by_label(ui("The goal")).fill(SHORT_GOALS[1])
    frame.get_by_label(ui("short term")).check()
    choose(frame.get_by_label(ui("Step towards the long-term goal")), LONG_GOALS[1])
    frame.get_by_label(ui("Reached by (optional)")).fill((amsterdam_today() + timedelta(days=60)).isoformat())
    app.save(frame.get_by_role("button", name=ui("Add goal")))

    for text in LONG_GOALS:  # shown back literally: the hostile text is text, not markup
        expect(frame.get_by_role("heading", level=3, name=text, exact=True)).to_be_visible()
    for parent, step in zip(LONG_GOALS, SHORT_GOALS, strict=True):
        card = frame.locator("article.goal-card", has=frame.get_by_role("heading", name=parent, exact=True))
        expect(card.get_by_role("heading", level=4, name=step, exact=True)).to_be_visible()
    app.check_no_dialogs()


def make_agreements(app: AppInEpd, owners: tuple[str, str]) -> None:
    """Two agreements: one for a goal with a date ahead, one already past its date (it must stand out)."""
    frame = app.frame
    app.nav("Agreements")
    for text, owner, goal, days in (
        (AGREEMENTS[0], owners[0], SHORT_GOALS[0], 21),
        (AGREEMENTS[1], owners[1], LONG_GOALS[1], -3),
    ):
        app.follow(frame.get_by_role("link", name=ui("Make an agreement")))
        frame.get_by_label(ui("What will be done")).fill(text)
        choose(frame.get_by_label(ui("Who does it")), owner)
        frame.get_by_label(ui("By when (optional)")).fill((amsterdam_today() + timedelta(days=days)).isoformat())
        choose(frame.get_by_label(ui("For which goal (optional)")), goal)
        if days < 0:
            confirm_past_date(app, frame.get_by_role("button", name=ui("Make agreement")))
        app.save(frame.get_by_role("button", name=ui("Make agreement")))
    table = frame.locator("table.agreements").first
    expect(table.get_by_role("rowheader", name=AGREEMENTS[0], exact=True)).to_be_visible()
    late = frame.locator("tr.overdue")
    expect(late).to_have_count(1)
    expect(late).to_contain_text(AGREEMENTS[1])
    app.check_no_dialogs()
    app.check_page("agreements")


def plan_meeting(app: AppInEpd, chair: str, minutes: str, time_keeper: str) -> None:
    """Plan a meeting at a new place with a theme, agree the roles, invite everyone, note the answers."""
    frame = app.frame
    app.nav("Meetings")
    app.check_page("meetings")
    app.follow(frame.get_by_role("link", name=ui("Plan a meeting")))
    # The form proposes a date and 60 minutes; the place is new and the theme one of the list.
    when = frame.get_by_label(ui("Date and start time"))
    expect(when).not_to_have_value("")
    # The proposal lies ahead; this meeting took place earlier today, so its report is written afterwards.
    start = (datetime.now(AMSTERDAM) - timedelta(hours=2)).replace(second=0, microsecond=0)
    when.fill(start.replace(minute=start.minute - start.minute % 5).strftime("%Y-%m-%dT%H:%M"))
    expect(frame.get_by_label(ui("How long (minutes)"))).to_have_value("60")
    frame.get_by_label(ui("A new place")).check()
    frame.get_by_label(ui("Name of the new place")).fill(PLACE)
    frame.get_by_label(ui("Address of the new place")).fill(PLACE_ADDRESS)
    frame.get_by_label(ui("Theme"), exact=True).select_option("stress")
    confirm_past_date(app, frame.get_by_role("button", name=ui("Plan the meeting")))
    app.save(frame.get_by_role("button", name=ui("Plan the meeting")))
    expect(frame.locator("main dl.facts")).to_contain_text(PLACE)

    choose(frame.get_by_label(ui("Chair")), chair)
    choose(frame.get_by_label(ui("Minute taker")), minutes)
    choose(frame.get_by_label(ui("Time keeper")), time_keeper)
    app.save(frame.get_by_role("button", name=ui("Save roles")))
    expect(frame.get_by_label(ui("Chair"))).to_have_value(re.compile(".+"))

    expect(frame.get_by_label(ui("Message"))).to_contain_text(PLACE)
    app.save(frame.get_by_role("button", name=ui("Send the invitation")))
    expect(frame.locator("ul.invitations li")).to_have_count(1)

    answers = frame.locator("form", has=frame.get_by_role("button", name=ui("Save answers")))
    answers.get_by_label(chair, exact=True).select_option("accepted")
    answers.get_by_label(time_keeper, exact=True).select_option("tentative")
    app.save(answers.get_by_role("button", name=ui("Save answers")))

    calendar = app.download(frame.get_by_role("link", name=ui("Download for your calendar (.ics)")))
    assert "BEGIN:VCALENDAR" in calendar and PLACE in calendar, calendar
    app.check_page("meeting-detail")


def containing(text: str) -> re.Pattern[str]:
    """Any accessible name with `text` in it (labels of lines add words around a goal or agreement)."""
    return re.compile(pattern(text))


def prepare_agenda(app: AppInEpd) -> None:
    """The agenda from goals and agreements plus an item in own words, marked ready; its print view."""
    frame = app.frame
    app.follow(frame.locator("main ul.actions").get_by_role("link", name=ui("Agenda")))
    items = frame.get_by_role("group", name=ui("Items, in order"))
    for text in (LONG_GOALS[0], LONG_GOALS[1], AGREEMENTS[0]):
        items.get_by_role("checkbox", name=containing(text)).check()
    items.get_by_role("textbox").first.fill("Welkom en voorstellen")
    frame.get_by_label(ui("The agenda is ready")).check()
    app.save(frame.get_by_role("button", name=ui("Save agenda")))
    agenda = frame.locator("ol.agenda-list > li")
    expect(agenda).to_have_count(4)
    expect(frame.locator("ol.agenda-list")).to_contain_text(LONG_GOALS[0])
    app.check_page("agenda")
    app.follow(frame.get_by_role("link", name=ui("Print the agenda")))
    expect(frame.locator("ol.agenda-list > li")).to_have_count(4)
    app.check_page("agenda-print", print_view=True)
    app.follow(frame.get_by_role("link", name=ui("Back to the agenda")))


def write_report(app: AppInEpd, present: list[str]) -> None:
    """The report: who came, a score and note per goal, what was said and decided, one new agreement."""
    frame = app.frame
    links = frame.get_by_role("navigation", name=ui("This meeting"))
    app.follow(links.get_by_role("link", name=ui("Report")))
    came = frame.get_by_role("group", name=ui("Tick everyone who came to the meeting"))
    for name in present:
        came.get_by_label(name, exact=True).check()
    for goal, (score, note) in SCORES.items():
        line = frame.get_by_role("group", name=goal, exact=True)
        line.get_by_label(ui("Score (0 to 10)")).select_option(score)
        line.get_by_label(ui("Short note with the score")).fill(note)
    frame.get_by_label(ui("What was discussed")).fill(REPORT_SUMMARY)
    frame.get_by_label(ui("Decisions")).fill(REPORT_DECISION)
    first_new = frame.locator("fieldset.agreement-line").first
    first_new.get_by_label(ui("What was agreed")).fill(NEW_AGREEMENT)
    choose(first_new.get_by_label(ui("Who does it")), CIRCLE[1][0])
    choose(first_new.get_by_label(ui("For which goal")), LONG_GOALS[0])
    app.save(frame.get_by_role("button", name=ui("Save report")))

    # The page keeps the form (the report can still be corrected) with what was saved in it.
    expect(frame.get_by_label(ui("What was discussed"))).to_have_value(REPORT_SUMMARY)
    expect(frame.locator("main")).to_contain_text(NEW_AGREEMENT)
    app.check_no_dialogs()
    app.check_page("report")

    # The print view shows the report as text: the hostile summary literally, the scores, the new agreement.
    app.follow(frame.get_by_role("link", name=ui("Print the report")))
    said = frame.locator("section", has=frame.get_by_role("heading", name=ui("What was discussed")))
    expect(said.locator("p")).to_have_text(REPORT_SUMMARY)
    scores = frame.locator("table.scores")
    for goal, (score, _) in SCORES.items():
        expect(scores.get_by_role("row", name=containing(goal))).to_contain_text(score)
    expect(frame.locator("table.agreements")).to_contain_text(NEW_AGREEMENT)
    app.check_no_dialogs()
    app.check_page("report-print", print_view=True)
    app.follow(frame.get_by_role("link", name=ui("Back to the report")))


def see_the_chart(app: AppInEpd) -> None:
    """A second score on the goal's own page; its chart shows both (with a table of the same numbers)."""
    frame = app.frame
    app.nav("Goals")
    card = frame.locator("article.goal-card", has=frame.get_by_role("heading", name=LONG_GOALS[1], exact=True))
    expect(card.locator(".latest-score")).to_contain_text(SCORES[LONG_GOALS[1]][0])
    app.follow(card.get_by_role("link", name=containing(app.dutch("Progress, notes and changes"))).first)
    score_form = frame.locator("form", has=frame.get_by_role("button", name=ui("Save score")))
    score_form.get_by_role("radio", name="7", exact=True).check()
    score_form.get_by_label(ui("Short note (optional)")).fill("Sollicitatiebrief verstuurd")
    app.save(score_form.get_by_role("button", name=ui("Save score")))
    chart = frame.locator("figure.chart-figure svg[role=img]")
    expect(chart).to_be_visible()
    expect(frame.locator("table.scores tbody tr")).to_have_count(2)
    app.check_page("goal-chart")


def end_group(app: AppInEpd) -> None:
    frame = app.frame
    app.nav("Overview")
    app.follow(frame.get_by_role("link", name=ui("End the group")))
    frame.get_by_label(ui("Yes, I am sure")).check()
    app.save(frame.get_by_role("button", name=ui("End the group")))
    expect(frame.locator(".group-name .badge")).to_have_text(ui("ended"))


# ---------------------------------------------------------------------- checks in the FHIR store


EXT = "https://resourcegroep.nl/fhir/StructureDefinition/"
GOAL_RELATIONSHIP = "http://hl7.org/fhir/StructureDefinition/goal-relationship"
ATTENDER = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def refs(items: list[dict[str, Any]] | None, key: str | None = None) -> list[str]:
    """The references in a list of Reference elements (or of elements holding one under `key`)."""
    out = []
    for item in items or []:
        target = item.get(key) or {} if key else item
        if isinstance(target.get("reference"), str):
            out.append(target["reference"])
    return out


def ext_value(resource: dict[str, Any], name: str) -> Any:
    """The value of a product extension (`EXT + name`), whatever its type."""
    for ext in resource.get("extension") or []:
        if ext.get("url") == EXT + name:
            return next(v for k, v in ext.items() if k.startswith("value"))
    return None


def of_category(resources: list[dict[str, Any]], element: str, code: str) -> list[dict[str, Any]]:
    """The resources whose `element` (a CodeableConcept or a list of them) has the artifact code."""
    out = []
    for r in resources:
        value = r.get(element)
        concepts = value if isinstance(value, list) else [value] if value else []
        if code in codes(concepts, CS + "artifact"):
            out.append(r)
    return out


def check_store(app: AppInEpd, names: dict[str, str]) -> None:
    """Every resource of the group, in the sandbox's FHIR store, as docs/mapping.md describes it."""
    found = group_resources(app.stack, PATIENT)
    by_ref = {ref(r): r for rs in found.values() for r in rs}

    # The group: CareTeam + CarePlan, both ended; the name stored literally (not escaped).
    teams = of_category(found["CareTeam"], "category", "resourcegroep")
    assert len(teams) == 1, teams
    team = teams[0]
    assert team["name"] == GROUP_NAME
    assert team["status"] == "inactive" and team["period"]["end"] and team["period"]["start"]
    plans = of_category(found["CarePlan"], "category", "resourcegroepplan")
    assert len(plans) == 1, plans
    plan = plans[0]
    assert plan["status"] == "completed" and plan["intent"] == "plan" and plan["title"] == GROUP_NAME
    assert refs(plan["careTeam"]) == [ref(team)]
    plan_ref = ref(plan)

    # People: two RelatedPersons of Daan; participants with roles and nomination states.
    people = {r["name"][0]["text"]: r for r in found["RelatedPerson"]}
    assert set(people) == {names["mother"], names["friend"]}, set(people)
    mother, friend = people[names["mother"]], people[names["friend"]]
    assert mother["relationship"][0]["coding"][0]["code"] == "MTH"
    assert friend["relationship"][0]["coding"][0]["code"] == "FRND"
    assert {t["system"]: t["value"] for t in mother["telecom"]} == {"phone": CIRCLE[0][2], "email": CIRCLE[0][3]}
    lotte = PRACTITIONER_NOMINEE[1]
    participants = {p["member"]["reference"]: p for p in team["participant"]}
    assert set(participants) == {PATIENT, PRACTITIONER, ref(mother), ref(friend), lotte}, set(participants)
    role = {who: codes(p.get("role"), CS + "member-role") for who, p in participants.items()}
    assert role[PATIENT] >= {"regisseur"} and role[PRACTITIONER] >= {"regieondersteuner"}
    assert role[ref(mother)] == {"lid", "kernlid"}, role[ref(mother)]
    assert role[ref(friend)] == {"lid"} and role[lotte] == {"lid"}
    for nominee in (ref(mother), ref(friend), lotte):
        state = participants[nominee]["extension"]
        assert state[0]["url"] == EXT + "nomination-state" and state[0]["valueCoding"]["code"] == "lid", state
        assert participants[nominee]["member"]["display"] and participants[nominee]["period"]["start"]

    # Interviews: per nominee a fulfilled Appointment and a completed record with the four sections.
    interview_apps = [
        a
        for a in of_category(found["Appointment"], "serviceType", "nominatiegesprek")
        if plan_ref in refs(a.get("supportingInformation"))
    ]
    records = of_category(found["Communication"], "category", "nominatiegesprek")
    assert len(interview_apps) == 3 and len(records) == 3, (len(interview_apps), len(records))
    nominee_keys = {participants[n]["id"] for n in (ref(mother), ref(friend), lotte)}
    assert {ext_value(a, "member-key") for a in interview_apps} == nominee_keys
    assert {ext_value(c, "member-key") for c in records} == nominee_keys
    for record in records:
        assert record["status"] == "completed" and refs(record["basedOn"]) == [plan_ref]
        assert refs(record["partOf"])[0] in {ref(a) for a in interview_apps}
        sections = {p["extension"][0]["valueCoding"]["code"] for p in record["payload"]}
        assert sections == {"verwachtingen", "inzet", "relatie", "bijdrage"}, sections
    assert all(a["status"] == "fulfilled" for a in interview_apps)

    # Goals: two long-term, two short-term, each short one a milestone of its long one; listed by the plan.
    goals = {g["description"]["text"]: g for g in found["Goal"]}
    assert set(goals) == set(LONG_GOALS) | set(SHORT_GOALS), set(goals)  # the hostile goal text literally
    assert set(refs(plan["goal"])) == {ref(g) for g in goals.values()}
    for text in LONG_GOALS:
        assert codes(goals[text].get("category"), CS + "goal-term") == {"lang"}
    for parent, step in zip(LONG_GOALS, SHORT_GOALS, strict=True):
        assert codes(goals[step].get("category"), CS + "goal-term") == {"kort"}
        milestones = [e for e in goals[parent].get("extension") or [] if e["url"] == GOAL_RELATIONSHIP]
        targets = [
            sub["valueReference"]["reference"] for e in milestones for sub in e["extension"] if sub["url"] == "target"
        ]
        assert targets == [ref(goals[step])], (parent, milestones)
    assert codes(goals[LONG_GOALS[0]].get("category"), CS + "life-area") == {"wonen"}

    # Agreements: Tasks listed by the plan, pointing back to it, with owner, goal and date.
    tasks = {t["description"]: t for t in found["Task"]}
    assert set(tasks) == {*AGREEMENTS, NEW_AGREEMENT}, set(tasks)  # the hostile agreement literally
    assert set(refs(plan["activity"], "reference")) == {ref(t) for t in tasks.values()}
    for task in tasks.values():
        assert refs(task["basedOn"]) == [plan_ref] and "afspraak" in codes([task["code"]], CS + "artifact")
    assert tasks[AGREEMENTS[0]]["owner"]["reference"] == ref(mother)
    assert tasks[AGREEMENTS[0]]["focus"]["reference"] == ref(goals[SHORT_GOALS[0]])
    assert tasks[AGREEMENTS[1]]["owner"]["reference"] == lotte
    assert tasks[AGREEMENTS[1]]["restriction"]["period"]["end"] < amsterdam_today().isoformat()
    assert tasks[NEW_AGREEMENT]["owner"]["reference"] == ref(friend)

    # The meeting: held, at a Location, with the chair, theme, attendance; agenda, report and invitation.
    meetings = [
        a
        for a in of_category(found["Appointment"], "serviceType", "resourcegroepbijeenkomst")
        if plan_ref in refs(a.get("supportingInformation"))
    ]
    assert len(meetings) == 1, meetings
    meeting = meetings[0]
    assert meeting["status"] == "fulfilled" and meeting["minutesDuration"] == 60
    assert codes(meeting.get("reasonCode"), CS + "meeting-theme") == {"stress"}
    actors = {p["actor"]["reference"]: p for p in meeting["participant"] if p.get("actor")}
    place_refs = [a for a in actors if a.startswith("Location/")]
    assert len(place_refs) == 1, actors
    location = app.stack.sandbox.store.read("Location", place_refs[0].split("/")[1])  # type: ignore[union-attr]
    assert location["name"] == PLACE and location["address"]["text"] == PLACE_ADDRESS
    assert codes(actors[ref(mother)]["type"], CS + "meeting-role") == {"voorzitter"}
    assert codes(actors[PRACTITIONER]["type"], CS + "meeting-role") == {"notulist"}
    assert codes(actors[ref(friend)]["type"], CS + "meeting-role") == {"tijdbewaker"}
    assert actors[ref(mother)]["status"] == "accepted" and actors[ref(friend)]["status"] == "tentative"
    came = {who for who, p in actors.items() if "ATND" in codes(p.get("type"), ATTENDER)}
    assert came == {PATIENT, PRACTITIONER, ref(mother), lotte}, came

    about_meeting = [c for c in found["Communication"] if ref(meeting) in refs(c.get("partOf"))]
    agenda = of_category(about_meeting, "category", "agenda")
    report = of_category(about_meeting, "category", "verslag")
    invitation = of_category(about_meeting, "category", "uitnodiging")
    assert len(agenda) == len(report) == len(invitation) == 1, [c["category"] for c in about_meeting]
    agenda_payload = agenda[0]["payload"]
    assert agenda[0]["status"] == "completed" and len(agenda_payload) == 4
    assert [p["contentReference"]["reference"] for p in agenda_payload if "contentReference" in p] == [
        ref(goals[LONG_GOALS[0]]),
        ref(goals[LONG_GOALS[1]]),
        ref(tasks[AGREEMENTS[0]]),
    ]
    assert "Welkom en voorstellen" in [p.get("contentString") for p in agenda_payload]
    sections = {p["extension"][0]["valueCoding"]["code"]: p["contentString"] for p in report[0]["payload"]}
    assert sections == {"samenvatting": REPORT_SUMMARY, "besluiten": REPORT_DECISION}  # hostile text literally
    assert refs(report[0]["recipient"])[0] == ref(team)
    assert set(refs(report[0]["about"])) >= {ref(goals[g]) for g in SCORES} | {ref(tasks[NEW_AGREEMENT])}
    calendar = [p["contentAttachment"] for p in invitation[0]["payload"] if "contentAttachment" in p]
    assert calendar and calendar[0]["contentType"] == "text/calendar"
    assert set(refs(invitation[0]["recipient"])) == {PATIENT, PRACTITIONER, ref(mother), ref(friend), lotte}

    # Progress: two scores at the meeting, one on the goal page; all based on the plan, focused on a goal.
    scores = sorted(found["Observation"], key=lambda o: o["valueInteger"])
    assert [o["valueInteger"] for o in scores] == [4, 6, 7], scores
    for obs in scores:
        assert "doelvoortgang" in codes([obs["code"]], CS + "artifact") and refs(obs["basedOn"]) == [plan_ref]
        assert obs["focus"][0]["reference"] in {ref(goals[g]) for g in LONG_GOALS}
    at_meeting = [o for o in scores if ext_value(o, "meeting")]
    assert [ext_value(o, "meeting")["reference"] for o in at_meeting] == [ref(meeting)] * 2
    assert scores[0]["focus"][0]["reference"] == ref(goals[LONG_GOALS[0]])
    assert scores[0]["note"][0]["text"] == SCORES[LONG_GOALS[0]][1]

    assert all(
        r.get("subject", r.get("for", r.get("patient", {}))).get("reference") == PATIENT
        for r in by_ref.values()
        if r["resourceType"] != "Appointment"
    )
    check_provenance(app, found)


def check_provenance(app: AppInEpd, found: dict[str, list[dict[str, Any]]]) -> None:
    ours = {f"{rtype}/{r['id']}" for rtype, rs in found.items() for r in rs}
    mine = [
        p for p in all_of(app.stack, "Provenance") if any(t.get("reference") in ours for t in p.get("target") or [])
    ]
    assert len(mine) == app.saves, f"{len(mine)} Provenances for {app.saves} saves"
    for prov in mine:
        who = prov["agent"][0]["who"]["reference"]
        assert who.endswith(PRACTITIONER), who


# ---------------------------------------------------------------------- the test


def test_a_whole_resource_group_in_the_epd_iframe(app: AppInEpd, stack: Stack) -> None:
    started = time.perf_counter()
    app.launch("Anna de Vries", "Daan Mulder")
    app.check_page("start")
    start_group(app)

    mother, friend, practitioner = nominate(app)
    for name in (mother, friend, practitioner):
        interview_and_admit(app, name, core=name == mother)
    app.nav("Members")
    app.check_page("members")

    add_goals(app)
    app.check_page("goals")
    make_agreements(app, owners=(mother, practitioner))
    plan_meeting(app, chair=mother, minutes="Anna de Vries", time_keeper=friend)
    prepare_agenda(app)
    write_report(app, present=["Daan Mulder", mother, practitioner, "Anna de Vries"])
    see_the_chart(app)

    app.nav("Overview")
    expect(app.frame.locator(".group-name")).to_contain_text(GROUP_NAME)
    expect(app.frame.locator(".group-name .badge")).to_have_text(ui("active"))  # the first held meeting
    app.check_page("overview", narrow=True)
    app.nav("Timeline")
    app.check_page("timeline")
    # NEN 7513: who looked at the group, from the audit trail (the sandbox takes the AuditEvents).
    app.follow(app.frame.get_by_role("link", name=ui("Who looked at this group")))
    expect(app.frame.locator("table.access-log tbody tr").first).to_contain_text("Anna de Vries")
    app.check_page("access-log")

    end_group(app)
    app.check_page("overview-ended")

    app.check_no_dialogs()
    with app.timed("store checks"):
        check_store(app, names={"mother": mother, "friend": friend, "practitioner": practitioner})
    app.timings["total"] = time.perf_counter() - started
    print("\ntimings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in app.timings.items()) + f"; {app.saves} saves")
    app.write_axe_artifact()
    assert app.accessibility_report() == "", "serious or critical axe violations:\n" + app.accessibility_report()
