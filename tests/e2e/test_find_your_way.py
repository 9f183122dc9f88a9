"""Finding your way in a real browser: the caseload link and its rows, the error summary that takes the focus,
the character counter of a long text (static/forms.js, loaded under the strict CSP), and the timeline's day."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser_support import AppInEpd, ui

# A 700 px high window: the error summary must come into it.
pytestmark = pytest.mark.parametrize("app", [700], indirect=True)


def test_error_summary_takes_the_focus_and_long_texts_count_down(app: AppInEpd) -> None:
    frame = app.launch("Anna de Vries", "Sanne Bakker")
    errors: list[str] = []
    app.page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    with frame.expect_navigation():
        frame.goto(re.sub(r"(/c/[^/]+)/.*", r"\1/doelen/nieuw", frame.url))
    area = frame.locator("textarea#text")
    limit = int(area.get_attribute("maxlength") or "0")
    assert limit > 10
    counter = frame.locator("#text-count")
    expect(counter).to_be_hidden()  # far from the limit: no counter

    with frame.expect_navigation():
        frame.get_by_role("button", name=ui("Add goal")).click()
    summary = frame.locator("#problems")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert frame.evaluate("document.getElementById('problems').getBoundingClientRect().top") < 700
    summary.locator("a[href='#text']").click()
    expect(area).to_be_focused()

    area.fill("x" * (limit - 5))
    expect(counter).to_be_visible()
    expect(counter).to_have_text(app.dutch("{left} characters left").replace("{left}", "5"))
    area.fill("kort")
    expect(counter).to_be_hidden()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_care_professional_goes_from_the_group_to_the_caseload_and_back(app: AppInEpd) -> None:
    frame = app.launch("Anna de Vries", "Sanne Bakker")
    app.follow(frame.get_by_role("link", name=ui("My resource groups")))
    row = frame.locator("table.data tbody tr").filter(has_text="Sanne")
    link = row.get_by_role("link", name=re.compile("Sanne"))
    assert link.get_attribute("target") == "_top"
    link.click()
    app.page.wait_for_url(re.compile(r".*/epd/patients/sanne-bakker/app$"))
    expect(app.frame.locator("h1")).to_be_visible(timeout=30_000)


def test_the_timeline_goes_to_a_day_from_its_form_and_back(app: AppInEpd) -> None:
    """The timeline's form: a day in its date field, sent with Enter from the field, shows the events up to and
    including that day, with a way back to the newest; a newer link walks towards today."""
    frame = app.launch("Anna de Vries", "Sanne Bakker")
    with frame.expect_navigation():
        frame.goto(re.sub(r"(/c/[^/]+)/.*", r"\1/tijdlijn", frame.url))
    newest = frame.locator("ol.timeline time").first.get_attribute("datetime") or ""
    times = [t.get_attribute("datetime") or "" for t in frame.locator("ol.timeline time").all()]
    day = sorted({t[:10] for t in times})[0]  # the oldest day with an event: everything newer is left out
    field = frame.get_by_label(ui("Up to and including"))
    field.fill(day)  # (typed, the field's order of day and month follows the browser's language)
    with frame.expect_navigation():
        field.press("Enter")
    assert f"datum={day}" in frame.url
    shown = [t.get_attribute("datetime") or "" for t in frame.locator("ol.timeline time").all()]
    assert shown and all(t[:10] <= day for t in shown) and newest not in shown
    expect(frame.get_by_text(re.compile(app.dutch("Back to the newest")))).to_be_visible()
    with frame.expect_navigation():
        frame.get_by_role("link", name=ui("Newer events")).click()
    assert "tot=" in frame.url and frame.locator("ol.timeline time").count() > 0
