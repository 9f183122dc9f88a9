"""EPD-like pages: login, patient list, patient page with the app in an iframe (EHR launch), portal."""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.auth.views import SSO_SESSION_KEY
from sandbox.epd import EpdConfig, create_epd_blueprint, ehr_launch_url, standalone_url
from tests.unit.sandbox.auth.sandbox_auth_support import (
    FHIR_BASE,
    Sandbox,
    authorize_params,
    exchange,
    get_code,
    make_sandbox,
    pkce_pair,
    query_of,
)

APP_LAUNCH = "http://127.0.0.1:8500/launch"
APP_START = "http://127.0.0.1:8500/start?from=portal"


@pytest.fixture
def sb() -> Sandbox:
    sandbox = make_sandbox()
    config = EpdConfig(app_launch_url=APP_LAUNCH, fhir_base_url=FHIR_BASE, app_standalone_url=APP_START)
    sandbox.app.register_blueprint(create_epd_blueprint(config, sandbox.server.directory, sandbox.server))
    return sandbox


def _login(sb: Sandbox, practitioner: str = "pr1") -> None:
    response = sb.client.post("/epd/login", data={"practitioner": practitioner})
    assert response.status_code == 302 and response.headers["Location"].endswith("/epd/patients")


def _iframe_src(html: str) -> str:
    match = re.search(r'<iframe class="app-frame" src="([^"]+)" title="([^"]+)"', html)
    assert match is not None, "no iframe with a title on the page"
    return html_lib.unescape(match.group(1))


def test_pages_need_a_practitioner_login(sb: Sandbox) -> None:
    for path in ("/epd/", "/epd/patients", "/epd/patients/p1", "/epd/patients/p1/app"):
        response = sb.client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/epd/login"), path


def test_login_page_lists_practitioners_in_dutch_and_english(sb: Sandbox) -> None:
    html = sb.client.get("/epd/login").get_data(as_text=True)
    assert '<html lang="nl">' in html and "Inloggen in het EPD" in html
    assert "Dr. Anna de Vries" in html and "Sanne Bakker" not in html
    assert 'href="#main"' in html and '<main id="main">' in html
    english = sb.client.get("/epd/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Sign in to the EHR" in english


def test_login_refuses_an_unknown_practitioner(sb: Sandbox) -> None:
    response = sb.client.post("/epd/login", data={"practitioner": "p1"})
    assert response.status_code == 200
    assert "Kies eerst een zorgverlener." in response.get_data(as_text=True)


def test_patient_list_shows_the_directory(sb: Sandbox) -> None:
    _login(sb)
    html = sb.client.get("/epd/patients").get_data(as_text=True)
    assert "Mijn patiënten" in html
    assert "Sanne Bakker" in html and "Mohammed El Amrani" in html
    assert 'href="/epd/patients/p2"' in html
    assert "Ingelogd als Dr. Anna de Vries" in html


def test_patient_page_has_banner_and_app_button_without_a_frame(sb: Sandbox) -> None:
    _login(sb)
    html = sb.client.get("/epd/patients/p1").get_data(as_text=True)
    assert 'class="banner"' in html and "Sanne Bakker" in html and "p1" in html
    assert 'href="/epd/patients/p1/app">Resourcegroep</a>' in html
    assert "<iframe" not in html


def test_unknown_patient_is_not_found(sb: Sandbox) -> None:
    _login(sb)
    assert sb.client.get("/epd/patients/zz").status_code == 404
    assert sb.client.get("/epd/patients/zz/app").status_code == 404


def test_app_opens_in_an_iframe_with_iss_and_a_launch_for_this_patient_and_user(sb: Sandbox) -> None:
    _login(sb, "pr2")
    html = sb.client.get("/epd/patients/p2/app?encounter=e9").get_data(as_text=True)
    src = _iframe_src(html)
    assert src.startswith(APP_LAUNCH + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}
    assert query["iss"] == FHIR_BASE
    context = sb.server.launches.resolve(query["launch"])
    assert context is not None
    assert context.patient == "p2" and context.user == "Practitioner/pr2" and context.encounter == "e9"
    assert context.need_patient_banner is False

    # The app then runs the EHR launch with that value: the token carries the same patient.
    verifier, challenge = pkce_pair()
    params = authorize_params(
        challenge=challenge, launch=query["launch"], login_hint="", scope="launch openid fhirUser"
    )
    body = exchange(sb, "public-app", get_code(sb, params), verifier).get_json()
    assert body["patient"] == "p2" and body["encounter"] == "e9" and body["need_patient_banner"] is False


def test_each_opening_creates_a_fresh_launch(sb: Sandbox) -> None:
    _login(sb)
    first = _iframe_src(sb.client.get("/epd/patients/p1/app").get_data(as_text=True))
    second = _iframe_src(sb.client.get("/epd/patients/p1/app").get_data(as_text=True))
    assert first != second


def test_launch_urls_keep_existing_query_parameters() -> None:
    config = EpdConfig(app_launch_url="https://app.example/launch?tenant=a", fhir_base_url="https://epd.example/fhir/")
    url = ehr_launch_url(config, "L1")
    assert parse_qs(urlsplit(url).query) == {"tenant": ["a"], "iss": ["https://epd.example/fhir"], "launch": ["L1"]}
    assert standalone_url(config).startswith("https://app.example/launch?tenant=a&iss=")


def test_portal_patient_opens_the_app_and_authorize_knows_them(sb: Sandbox) -> None:
    assert sb.client.get("/epd/portal/me").headers["Location"].endswith("/epd/portal")
    portal = sb.client.get("/epd/portal").get_data(as_text=True)
    assert "Wie bent u?" in portal and "Sanne Bakker" in portal

    chosen = sb.client.post("/epd/portal", data={"patient": "p2"})
    assert chosen.headers["Location"].endswith("/epd/portal/me")
    page = sb.client.get("/epd/portal/me").get_data(as_text=True)
    assert "Welkom, Mohammed El Amrani" in page and "<iframe" not in page

    src = _iframe_src(sb.client.get("/epd/portal/me/app").get_data(as_text=True))
    assert src.startswith("http://127.0.0.1:8500/start?")
    assert parse_qs(urlsplit(src).query) == {"from": ["portal"], "iss": [FHIR_BASE]}
    with sb.client.session_transaction() as session:
        assert session[SSO_SESSION_KEY] == "Patient/p2"

    # The app's standalone authorize needs no second login: the portal sign-in is the sandbox's SSO.
    verifier, challenge = pkce_pair()
    response = sb.client.get("/auth/authorize", query_string=authorize_params(challenge=challenge, login_hint=""))
    assert response.status_code == 302
    body = exchange(sb, "public-app", query_of(response.headers["Location"])["code"], verifier).get_json()
    assert body["patient"] == "p2" and body["need_patient_banner"] is True


def test_portal_refuses_an_unknown_patient(sb: Sandbox) -> None:
    response = sb.client.post("/epd/portal", data={"patient": "pr1"})
    assert response.status_code == 200 and "Kies eerst wie u bent." in response.get_data(as_text=True)


def test_logout_forgets_the_user(sb: Sandbox) -> None:
    _login(sb)
    assert sb.client.post("/epd/logout").headers["Location"].endswith("/epd/login")
    assert sb.client.get("/epd/patients").headers["Location"].endswith("/epd/login")
    with sb.client.session_transaction() as session:
        assert SSO_SESSION_KEY not in session


def test_stylesheet_is_served(sb: Sandbox) -> None:
    assert sb.client.get("/epd/static/epd.css").status_code == 200
    assert sb.client.get("/auth/static/auth.css").status_code == 200


def test_a_launch_works_only_in_the_browser_that_made_it(sb: Sandbox) -> None:
    """A real EPD binds a launch to the session that created it: Bram's iframe address opened in Lotte's browser
    must not log her in as Bram (issue 13)."""
    _login(sb, "pr2")
    src = _iframe_src(sb.client.get("/epd/patients/p1/app").get_data(as_text=True))
    launch = {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}["launch"]
    _, challenge = pkce_pair()
    params = authorize_params(challenge=challenge, launch=launch, login_hint="", scope="launch openid fhirUser")

    other = sb.app.test_client()  # another browser, logged in at the EPD as someone else
    assert other.post("/epd/login", data={"practitioner": "pr1"}).status_code == 302
    refused = other.get("/auth/authorize", query_string=params)
    assert refused.status_code == 302
    answer = query_of(refused.headers["Location"])
    assert answer["error"] == "access_denied" and answer["state"] == params["state"] and "code" not in answer

    assert get_code(sb, params)  # the browser that made the launch still can use it
