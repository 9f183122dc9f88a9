"""The launch blueprint end to end (HTTP mocked): EHR launch, callback, home page, error pages, tabs."""

from __future__ import annotations

import pytest
import responses
from flask import Flask
from launch_fakes import FULL_GRANT, ISS, TOKEN, Clock, FakeEhr, launch, pending_nonce, query


def test_ehr_launch_to_home(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    home = launch(app, browser, ehr)
    page = browser.get(home)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Anna de Vries" in html  # patient banner and summary
    assert "Dr. Chris Bakker" in html
    assert "De resourcegroep bekijken en wijzigen" in html
    assert 'class="patient-banner"' in html
    assert "secret-access-token" not in html and "secret-refresh-token" not in html
    for response in (page,):
        assert "secret" not in response.headers.get("Set-Cookie", "")
    fhir_read = next(c for c in ehr.rsps.calls if c.request.url == f"{ISS}/Patient/p1")
    assert fhir_read.request.headers["Authorization"] == "Bearer secret-access-token-p1"


def test_unknown_iss_makes_no_request(app: Flask, rsps: responses.RequestsMock) -> None:
    page = app.test_client().get("/launch?iss=https://evil.example.org/fhir&launch=x")
    assert page.status_code == 400
    assert "Dit EPD is niet aangemeld" in page.get_data(as_text=True)
    assert len(rsps.calls) == 0


def test_malformed_iss(app: Flask, rsps: responses.RequestsMock) -> None:
    for url in ("/launch?launch=x", "/launch?iss=javascript:alert(1)&launch=x"):
        page = app.test_client().get(url)
        assert page.status_code == 400
        assert "Onbekend EPD-adres" in page.get_data(as_text=True)
    assert len(rsps.calls) == 0


def test_callback_state_problems(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    missing = browser.get("/callback?code=c")
    assert missing.status_code == 400
    assert "Deze inlog kan niet worden gecontroleerd" in missing.get_data(as_text=True)
    assert browser.get("/callback?code=c&state=forged").status_code == 400

    start = browser.get(f"/launch?iss={ISS}&launch=L")
    state = query(start.headers["Location"])["state"]
    ehr.answer_token(pending_nonce(app, state))
    assert browser.get(f"/callback?code=c&state={state}").status_code == 303
    replay = browser.get(f"/callback?code=c&state={state}")
    assert replay.status_code == 400


def test_state_from_another_browser(app: Flask, ehr: FakeEhr) -> None:
    victim, attacker = app.test_client(), app.test_client()
    state = query(attacker.get(f"/launch?iss={ISS}&launch=L").headers["Location"])["state"]
    assert victim.get(f"/callback?code=c&state={state}").status_code == 400


def test_authorization_error_is_shown_escaped(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    state = query(browser.get(f"/launch?iss={ISS}&launch=L").headers["Location"])["state"]
    page = browser.get(
        f"/callback?state={state}&error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "Het EPD gaf geen toegang" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_token_endpoint_failure_page(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    state = query(browser.get(f"/launch?iss={ISS}&launch=L").headers["Location"])["state"]
    ehr.rsps.upsert(responses.POST, TOKEN, json={"error": "invalid_grant"}, status=400)
    page = browser.get(f"/callback?state={state}&code=c")
    assert page.status_code == 502
    assert "Het inloggen is niet gelukt" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("error", "says", "never"),
    [
        ("invalid_client", "registratie", "over een paar minuten"),
        ("invalid_grant", "Start de app opnieuw", "over een paar minuten"),
        ("invalid_scope", "rechten (scopes)", "over een paar minuten"),
        ("temporarily_unavailable", "over een paar minuten", "registratie"),
    ],
)
def test_each_token_refusal_says_what_helps(app: Flask, ehr: FakeEhr, error: str, says: str, never: str) -> None:
    browser = app.test_client()
    state = query(browser.get(f"/launch?iss={ISS}&launch=L").headers["Location"])["state"]
    ehr.rsps.upsert(responses.POST, TOKEN, json={"error": error}, status=400)
    html = browser.get(f"/callback?state={state}&code=c").get_data(as_text=True)
    assert says in html and never not in html


def test_invalid_id_token_page(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    state = query(browser.get(f"/launch?iss={ISS}&launch=L").headers["Location"])["state"]
    ehr.answer_token(pending_nonce(app, state), id_token=ehr.id_token("wrong-nonce"))
    page = browser.get(f"/callback?state={state}&code=c")
    assert page.status_code == 502
    assert "De inlog kon niet worden gecontroleerd" in page.get_data(as_text=True)


def test_expired_launch_page(app: Flask, ehr: FakeEhr, clock: Clock) -> None:
    browser = app.test_client()
    home = launch(app, browser, ehr, refresh_token=None)
    clock.now += 3601
    page = browser.get(home)
    assert page.status_code == 401
    html = page.get_data(as_text=True)
    assert "De sessie is afgelopen" in html and "Start opnieuw vanuit het EPD" in html


def test_failed_refresh_asks_to_start_again(app: Flask, ehr: FakeEhr, clock: Clock) -> None:
    browser = app.test_client()
    home = launch(app, browser, ehr)
    clock.now += 3590
    ehr.rsps.upsert(responses.POST, TOKEN, json={"error": "invalid_grant"}, status=400)
    page = browser.get(home)
    assert page.status_code == 401
    assert "Start opnieuw vanuit het EPD" in page.get_data(as_text=True)


def test_refresh_on_page_load(app: Flask, ehr: FakeEhr, clock: Clock) -> None:
    browser = app.test_client()
    home = launch(app, browser, ehr)
    clock.now += 3590
    ehr.rsps.upsert(
        responses.POST,
        TOKEN,
        json={"access_token": "at-new", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-new"},
    )
    assert browser.get(home).status_code == 200
    last_read = [c for c in ehr.rsps.calls if c.request.url == f"{ISS}/Patient/p1"][-1]
    assert last_read.request.headers["Authorization"] == "Bearer at-new"


def test_partial_grant_shows_read_only_reason(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    read_only = " ".join(s.replace(".crus", ".rs") for s in FULL_GRANT)
    html = browser.get(launch(app, browser, ehr, scope=read_only)).get_data(as_text=True)
    assert "Alleen bekijken" in html
    assert "alleen toestemming gegeven om te lezen" in html


def test_two_tabs_never_mix(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    first = launch(app, browser, ehr, patient="p1")
    second = launch(app, browser, ehr, patient="p2")
    assert first != second
    assert "Anna de Vries" in browser.get(first).get_data(as_text=True)
    page_two = browser.get(second).get_data(as_text=True)
    assert "Bram Jansen" in page_two and "Anna de Vries" not in page_two
    assert "Anna de Vries" in browser.get(first).get_data(as_text=True)


def test_other_browser_gets_403(app: Flask, ehr: FakeEhr) -> None:
    owner = app.test_client()
    home = launch(app, owner, ehr)
    page = app.test_client().get(home)
    assert page.status_code == 403
    assert "Geen toegang tot deze pagina" in page.get_data(as_text=True)


def test_standalone_launch(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    start = browser.get("/").get_data(as_text=True)
    assert "Inloggen bij Test EPD" in start and 'href="/standalone/epd"' in start
    location = browser.get("/standalone/epd").headers["Location"]
    params = query(location)
    assert "launch/patient" in params["scope"].split() and "launch" not in params
    assert params["redirect_uri"] == "https://app.example.org/callback"
    assert browser.get("/standalone/unknown").status_code == 400


def _session_id(browser: object) -> str | None:
    cookie = browser.get_cookie("rg_session")  # type: ignore[attr-defined]
    return None if cookie is None else str(cookie.value)


def test_a_session_id_planted_before_the_launch_is_worth_nothing_after_it(app: Flask, ehr: FakeEhr) -> None:
    """Session fixation: the attacker makes a session, plants its id in the victim's browser; the victim logs in."""
    attacker = app.test_client()
    attacker.get(f"/launch?iss={ISS}&launch=L-attacker")  # any request that gives the attacker a session
    planted = _session_id(attacker)
    assert planted is not None
    victim = app.test_client()
    victim.set_cookie("rg_session", planted)
    home = launch(app, victim, ehr)
    renewed = _session_id(victim)
    assert renewed is not None and renewed != planted  # a new id at the callback
    assert victim.get(home).status_code == 200  # the victim's launch moved with the new id
    assert attacker.get(home).status_code == 403  # the planted id gets nothing


def test_a_stranger_cannot_burn_the_victims_state(app: Flask, ehr: FakeEhr) -> None:
    victim, stranger = app.test_client(), app.test_client()
    state = query(victim.get(f"/launch?iss={ISS}&launch=L-p1").headers["Location"])["state"]
    assert stranger.get(f"/callback?code=c&state={state}").status_code == 400
    ehr.answer_token(pending_nonce(app, state), patient="p1")
    done = victim.get(f"/callback?code=code-p1&state={state}")
    assert done.status_code == 303, done.get_data(as_text=True)
    assert victim.get(done.headers["Location"]).status_code == 200


def test_a_second_launch_in_the_same_browser_keeps_the_first_one_working(app: Flask, ehr: FakeEhr) -> None:
    """Each callback renews the session id; launches made before (other tabs) move along with it."""
    browser = app.test_client()
    first = launch(app, browser, ehr, patient="p1")
    before = _session_id(browser)
    second = launch(app, browser, ehr, patient="p2")
    assert _session_id(browser) != before
    assert browser.get(first).status_code == 200 and browser.get(second).status_code == 200
