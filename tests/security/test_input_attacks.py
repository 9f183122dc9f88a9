"""Hostile input in every text field of the running app: stored and reflected XSS (checked in the HTML and, for the
stored payloads, in a real browser), iCalendar injection through the `.ics` download, 1 MB fields, control
characters and invisible-only names, impossible dates. Hostile markup is stored as typed and shown escaped; what
cannot be valid is refused with a Dutch message and leaves the FHIR record as it was."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Dialog, sync_playwright

from tests.e2e.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.security.attack import ANNA, SANNE, Browser, assert_unchanged, record, refused
from tests.security.worlds import Loaded, load_groups
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

MARK = "xss-probe"
SCRIPT = f"<script>window.__xss='{MARK}'</script>"
PAYLOAD = f"{SCRIPT}<img src=x onerror=\"window.__xss='{MARK}'\">\"'><svg onload=alert(1)>"
RAW = ("<script>window.__xss", "<img src=x", "<svg onload")  # must never appear unescaped in a page
ICS_INJECTION = "Thema\r\nATTENDEE:mailto:evil@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:nep;x"


def _future(days: int) -> str:
    return f"{date.today() + timedelta(days=days):%Y-%m-%d}T19:30"


@dataclass(frozen=True)
class TextField:
    """One text field: who fills it in, where, the rest of a valid form, and the field."""

    who: str  # "anna" (regieondersteuner) or "sanne" (the patient)
    path: str  # relative to the launch; {goal}, {planned}, {held} filled in from Sanne's group
    form: dict[str, Any]
    name: str

    def url(self, uids: dict[str, str]) -> str:
        return self.path.format(**uids)

    @property
    def id(self) -> str:
        return f"{self.path.split('/')[0]}:{self.name}"


FIELDS = (
    TextField("anna", "naam", {}, "name"),
    TextField("anna", "doelen/nieuw", {"term": "kort"}, "text"),
    TextField("anna", "doelen/{goal}/notitie", {}, "note"),
    TextField("anna", "afspraken/nieuw", {"owner": f"Patient/{SANNE}"}, "description"),
    TextField(
        "anna",
        "bijeenkomsten/nieuw",
        {"start": _future(41), "minutes": "60", "place": "new", "new_place_address": "Laan 1"},
        "new_place_name",
    ),
    TextField(
        "anna",
        "bijeenkomsten/nieuw",
        {"start": _future(42), "minutes": "60", "place": "new", "new_place_name": "Plek"},
        "new_place_address",
    ),
    TextField(
        "anna",
        "bijeenkomsten/nieuw",
        {"start": _future(43), "minutes": "60", "place": "later", "theme": "anders"},
        "theme_text",
    ),
    TextField("anna", "bijeenkomsten/{planned}/uitnodiging", {}, "message"),
    TextField("anna", "bijeenkomsten/{planned}/agenda", {"lines-0-kind": "free", "lines-0-ref": ""}, "lines-0-text"),
    TextField("anna", "bijeenkomsten/{held}/verslag", {"attended": [f"Patient/{SANNE}"]}, "samenvatting"),
    TextField("anna", "leden/nomineren/naaste", {"relationship": "FRND"}, "name"),
    TextField("anna", "leden/nomineren/hulpverlener", {"profession": "62247001"}, "pro_name"),
    TextField("sanne", "wens", {"place": "Het park"}, "text"),
    TextField("sanne", "wens", {"text": "Graag buiten"}, "place"),
    TextField("sanne", "bijeenkomsten/{planned}/agenda/punt", {}, "text"),
)
PAGES = (
    "",
    "leden",
    "doelen",
    "doelen/{goal}",
    "afspraken",
    "bijeenkomsten",
    "bijeenkomsten/{planned}",
    "bijeenkomsten/{planned}/agenda",
    "bijeenkomsten/{planned}/agenda/afdrukken",
    "bijeenkomsten/{held}",
    "bijeenkomsten/{held}/verslag",
    "bijeenkomsten/{held}/verslag/afdrukken",
    "tijdlijn",
    "wens",
)


@dataclass
class Setting:
    stack: Stack
    anna: Browser
    sanne: Browser
    uids: dict[str, str]
    stored: dict[str, int] = field(default_factory=dict)  # field id -> status of the hostile save

    def browser(self, who: str) -> Browser:
        return self.anna if who == "anna" else self.sanne


def _uids(group: Loaded) -> dict[str, str]:
    meetings = sorted(group.group.meetings, key=lambda m: m.start)
    planned = [m.uid for m in meetings if m.is_planned]
    held = [m.uid for m in meetings if not m.is_planned]
    goal = next(g.uid for g in group.group.goals if g.text == "Zelfstandig wonen")
    return {"planned": planned[0], "held": held[-1], "goal": goal}


def make_setting(stack: Stack, tmp: Path) -> Setting:
    """Anna (EPD) and Sanne (portal) launched for Sanne's group, with the uids of its goal and meetings."""
    sanne_group = load_groups(stack, tmp, {SANNE: f"Practitioner/{ANNA}"})[SANNE]
    return Setting(
        stack, Browser.ehr(stack, ANNA, SANNE), Browser.portal(stack, f"Patient/{SANNE}"), _uids(sanne_group)
    )


def store_hostile(setting: Setting) -> Setting:
    """The hostile payload saved through every text field (each a valid save: it is stored as typed)."""
    for text_field in FIELDS:
        form = {**text_field.form, text_field.name: f"{PAYLOAD} {text_field.id}"}
        response = setting.browser(text_field.who).post(text_field.url(setting.uids), form)
        setting.stored[text_field.id] = response.status_code
    return setting


@pytest.fixture(scope="module")
def setting(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Setting:
    return make_setting(stack, tmp_path_factory.mktemp("input"))


@pytest.fixture(scope="module")
def stored(setting: Setting) -> Setting:
    return store_hostile(setting)


def page_urls(setting: Setting) -> list[tuple[Browser, str]]:
    return [(b, p.format(**setting.uids)) for b in (setting.anna, setting.sanne) for p in PAGES]


# ------------------------------------------------------------------------------------------------ stored XSS


def test_hostile_markup_is_stored_as_typed_in_every_text_field(stored: Setting) -> None:
    refused_saves = {k: v for k, v in stored.stored.items() if v != 303}
    assert refused_saves == {}, f"hostile text must be stored as typed (303), got {refused_saves}"
    store = stored.stack.sandbox.store
    assert store is not None
    with store._lock:
        rows = store._conn.execute("SELECT json FROM current WHERE json LIKE ?", (f"%{MARK}%",)).fetchall()
    assert rows, "the payload is nowhere in the record"


def test_stored_markup_is_shown_escaped_on_every_page(stored: Setting) -> None:
    shown = 0
    for browser, path in page_urls(stored):
        response = browser.get(path)
        assert response.status_code in (200, 403), (path, response.status_code)
        for raw in RAW:
            assert raw not in response.text, f"{path}: unescaped {raw!r}"
        shown += SCRIPT in htmllib.unescape(response.text)  # there, as text
    assert shown >= 8, f"the stored text shows (escaped) on only {shown} pages: the check would prove little"


# ------------------------------------------------------------------------------------------------ in a browser
# Debian's Chromium opens the pages with the launched session: no script of the payload runs, no dialog opens and
# the page holds no element the payload would have made.

PATIENT_PAGES = ("", "wens", "bijeenkomsten/{planned}/agenda")
MADE_BY_THE_PAYLOAD = "img[src='x'], svg[onload], [onerror], script:not([src])"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.e2e
@pytest.mark.parametrize("who", ["anna", "sanne"])
def test_no_stored_script_runs_in_the_browser(stored: Setting, chromium: Chromium, who: str) -> None:
    launched: Browser = stored.browser(who)
    context = chromium.new_context()
    app = urlsplit(stored.stack.app_url)
    context.add_cookies([{"name": "rg_session", "value": launched.app_cookie, "url": f"{app.scheme}://{app.netloc}/"}])
    dialogs: list[str] = []
    seen_text = 0
    try:
        page = context.new_page()

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        for path in PAGES if who == "anna" else PATIENT_PAGES:
            url = launched.url(path.format(**stored.uids))
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status in (200, 403), (url, response and response.status)
            assert page.evaluate("() => window.__xss === undefined"), f"{url}: a stored script ran"
            made = page.eval_on_selector_all(MADE_BY_THE_PAYLOAD, "els => els.map(e => e.outerHTML)")
            assert made == [], f"{url}: the payload made elements: {made}"
            seen_text += MARK in page.inner_text("body")
    finally:
        context.close()
    assert dialogs == [], dialogs
    assert seen_text >= (4 if who == "anna" else 1), (
        "the payload is shown (as text) on too few pages for this check to mean much"
    )


# ------------------------------------------------------------------------------------------------ reflected XSS


def test_reflected_markup_in_query_and_path_is_escaped(setting: Setting) -> None:
    anna = setting.anna
    before = record(setting.stack)
    urls = [
        f"?{urlencode({'lang': PAYLOAD})}",
        f"leden/nomineren?{urlencode({'zoek': PAYLOAD, 'kies': PAYLOAD})}",
        f"doelen/nieuw?{urlencode({'stap_van': PAYLOAD})}",
        f"afspraken/nieuw?{urlencode({'doel': PAYLOAD})}",
        f"status?{urlencode({'action': PAYLOAD})}",
        f"caseload?{urlencode({'ended': PAYLOAD, 'plan': PAYLOAD})}",
        f"doelen/{quote(PAYLOAD, safe='')}",
        f"bijeenkomsten/{quote(PAYLOAD, safe='')}",
        f"leden/{quote(PAYLOAD, safe='')}",
        f"/launch?{urlencode({'iss': PAYLOAD, 'launch': PAYLOAD})}",
        f"/standalone/{quote(PAYLOAD, safe='')}",
        f"/callback?{urlencode({'code': PAYLOAD, 'state': PAYLOAD, 'error': PAYLOAD})}",
        f"/?{urlencode({'lang': PAYLOAD})}",
    ]
    for url in urls:
        response = anna.get(url)
        assert response.status_code < 500, (url, response.status_code)
        for raw in RAW:
            assert raw not in response.text, f"{url}: reflected unescaped {raw!r}"
    assert_unchanged(setting.stack, before)


def test_the_ehrs_error_description_is_shown_escaped(setting: Setting) -> None:
    """The authorization server's `error_description` is shown on the error page: escaped, never as markup."""
    browser = Browser(setting.stack)
    browser.epd_login(ANNA)
    state = re.search(r"[?&]state=([^&]+)", browser.authorize_url(SANNE))
    assert state is not None
    query = {"error": "access_denied", "error_description": PAYLOAD, "state": state.group(1)}
    response = browser.get(f"/callback?{urlencode(query)}")
    refused(response, 403, "Het EPD gaf geen toegang")
    assert htmllib.escape("<script>window.__xss") in response.text  # the EHR's message is shown, as text
    for raw in RAW:
        assert raw not in response.text


# ------------------------------------------------------------------------------------------------ .ics


def _unfold(ics: str) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", ics).split("\r\n")


def test_the_ics_download_cannot_be_given_extra_properties(setting: Setting) -> None:
    anna = setting.anna
    renamed = anna.post("naam", {"name": "Team\r\nATTENDEE:mailto:evil@example.com"})
    plan = {
        "start": _future(60),
        "minutes": "60",
        "place": "new",
        "new_place_name": ICS_INJECTION,
        "new_place_address": ICS_INJECTION,
        "theme": "anders",
        "theme_text": ICS_INJECTION,
    }
    planned = anna.post("bijeenkomsten/nieuw", plan)
    assert planned.status_code == 303, planned.text[-800:]
    meeting = planned.headers["Location"].rstrip("/")
    invited = anna.post(f"{meeting}/uitnodiging", {"message": ICS_INJECTION})
    assert invited.status_code in (303, 422), invited.status_code

    response = anna.get(f"{meeting}/bijeenkomst.ics")

    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/calendar")
    lines = _unfold(response.text)
    assert lines.count("BEGIN:VEVENT") == 1 and lines.count("END:VEVENT") == 1, lines
    assert not [line for line in lines if line.startswith(("ATTENDEE", "SUMMARY:nep"))], lines
    typed = [line for line in lines if line.startswith(("LOCATION", "DESCRIPTION", "SUMMARY"))]
    assert typed and all("\r" not in line for line in lines)
    assert any("\\n" in line for line in typed), typed  # the line breaks are escaped text, not new lines
    assert renamed.status_code in (303, 422)


# ------------------------------------------------------------------------------------------------ sizes


@pytest.mark.parametrize("text_field", FIELDS, ids=[f.id for f in FIELDS])
def test_a_one_megabyte_field_is_refused_and_nothing_is_stored(setting: Setting, text_field: TextField) -> None:
    browser = setting.browser(text_field.who)
    token = browser.csrf_token()
    before = record(setting.stack)
    for size in (1024 * 1024, 100_000):  # over the app's 1 MB request limit; under it, but far too long for a field
        form = {**text_field.form, text_field.name: "x" * size}
        response = browser.post(text_field.url(setting.uids), form, csrf=token)
        if response.status_code == 413:
            refused(response, 413, "Te veel om in één keer te versturen", f"{text_field.id} ({size} bytes)")
        else:
            refused(response, 422, "te lang", f"{text_field.id} ({size} characters)")
        assert_unchanged(setting.stack, before, text_field.id)


# ------------------------------------------------------------------------------------------------ control characters

CONTROL = (
    ("nul", "Naam\x00 met NUL", "stuurteken"),
    ("escape", "\x1b[2J\x1b[31mRood\x1b[0m", "stuurteken"),
    ("bell", "Tekst\x07", "stuurteken"),
    ("zero-width-only", "\u200b\u200c\u200d\u2060\ufeff", "Vul "),
)


@pytest.mark.parametrize("text_field", FIELDS, ids=[f.id for f in FIELDS])
def test_control_characters_and_invisible_text_are_refused(setting: Setting, text_field: TextField) -> None:
    browser = setting.browser(text_field.who)
    before = record(setting.stack)
    for name, typed, message in CONTROL:
        if message == "Vul " and text_field.id in OPTIONAL_FIELDS:
            continue  # an optional field left (visibly) empty is fine; its control characters are not
        response = browser.post(text_field.url(setting.uids), {**text_field.form, text_field.name: typed})
        refused(response, 422, message, f"{text_field.id} {name}")
        assert_unchanged(setting.stack, before, f"{text_field.id} {name}")


# Fields that may be left empty: invisible-only text there counts as empty, which is allowed.
OPTIONAL_FIELDS = frozenset(
    {
        "bijeenkomsten:new_place_address",
        "bijeenkomsten:theme_text",
        "bijeenkomsten:message",
        "bijeenkomsten:lines-0-text",
        "bijeenkomsten:samenvatting",
        "wens:text",
        "wens:place",
    }
)


# ------------------------------------------------------------------------------------------------ dates

DATE_FIELDS: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("agreement due", "afspraken/nieuw", {"description": "Bellen", "owner": f"Patient/{SANNE}"}, "due"),
    ("goal due", "doelen/nieuw", {"text": "Een doel", "term": "kort"}, "due"),
    ("meeting start", "bijeenkomsten/nieuw", {"minutes": "60", "place": "later"}, "start"),
    ("meeting reschedule", "bijeenkomsten/{planned}/verplaatsen", {"minutes": "60", "place": "later"}, "start"),
)
BAD_DAY = "Vul een datum in"
BAD_MOMENT = "Vul een datum en tijd in"
IMPOSSIBLE_DAYS = tuple(
    (day, BAD_DAY)
    for day in ("31-02-2031", "30-02-2031", "00-01-2031", "01-13-2031", "01-01-0000", "01-01-99999", "29-02-2031")
)
IMPOSSIBLE_MOMENTS = (
    ("2031-02-31T19:30", BAD_MOMENT),
    ("0000-01-01T19:30", BAD_MOMENT),
    ("99999-01-01T19:30", BAD_MOMENT),
    ("2031-01-01T25:00", BAD_MOMENT),
    # In Amsterdam the clock jumps from 02:00 to 03:00 that night: this time does not exist.
    ("2031-03-30T02:30", "Deze tijd bestaat niet"),
    # ... and from 03:00 back to 02:00 on this one: the time exists twice, the app asks which one.
    ("2031-10-26T02:30", "Deze tijd komt twee keer voor"),
)
VALID = {"due": "28-02-2031", "start": "2031-03-30T03:30"}  # the same forms with a real date are saved


@pytest.mark.parametrize(("what", "path", "form", "name"), DATE_FIELDS, ids=[d[0] for d in DATE_FIELDS])
def test_impossible_dates_are_refused_with_a_message(
    setting: Setting, what: str, path: str, form: dict[str, Any], name: str
) -> None:
    url = path.format(**setting.uids)
    before = record(setting.stack)
    for value, message in IMPOSSIBLE_MOMENTS if name == "start" else IMPOSSIBLE_DAYS:
        response = setting.anna.post(url, {**form, name: value})
        refused(response, 422, message, f"{what} {value}")
        assert_unchanged(setting.stack, before, f"{what} {value}")
    assert setting.anna.post(url, {**form, name: VALID[name]}).status_code == 303, f"{what}: the form itself is broken"
