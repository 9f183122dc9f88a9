"""The SMART launch driven by HTTP only: sandbox EPD + app on loopback ports, a requests session as browser."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.demo_data import PATIENTS
from tests.support.stack import Stack, iframe_src, running_stack

PRACTITIONER = "anna-de-vries"
PATIENT = "sanne-bakker"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def _facts(page: str) -> dict[str, str]:
    """The launch summary's <dt>/<dd> pairs (label -> value), text only."""
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", page, flags=re.S)
    return {html.unescape(k).strip(): html.unescape(re.sub(r"<[^>]+>", "", v)).strip() for k, v in pairs}


def ehr_launch(stack: Stack, practitioner: str, patient: str) -> tuple[requests.Session, requests.Response]:
    """Log in at the EPD, open the patient's app iframe, and follow its src to the app's first view."""
    browser = requests.Session()
    login = browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": practitioner}, timeout=10)
    assert login.status_code == 200 and login.url == f"{stack.sandbox_url}/epd/patients"
    patient_page = browser.get(f"{stack.sandbox_url}/epd/patients/{patient}/app", timeout=10)
    assert patient_page.status_code == 200
    src = iframe_src(patient_page.text)
    query = parse_qs(urlsplit(src).query)
    assert src.startswith(f"{stack.app_url}/launch?")
    assert query["iss"] == [stack.fhir_base] and len(query["launch"][0]) >= 16
    first_view = browser.get(src, timeout=30)
    # The app's cookie and the sandbox's cookie live side by side on 127.0.0.1.
    assert {"rg_session", "sandbox_session"} <= {c.name for c in browser.cookies}
    return browser, first_view


def launch_facts(browser: requests.Session, first_view: requests.Response) -> dict[str, str]:
    """The facts of the launch summary page, linked from the group pages."""
    summary = browser.get(first_view.url + "verbinding", timeout=10)
    assert summary.status_code == 200
    return _facts(summary.text)


def test_ehr_launch_from_the_patient_page_reaches_the_app_for_that_patient_and_user(stack: Stack) -> None:
    browser, first_view = ehr_launch(stack, PRACTITIONER, PATIENT)

    assert first_view.status_code == 200
    assert "Overzicht" in first_view.text
    assert re.fullmatch(rf"{re.escape(stack.app_url)}/c/[A-Za-z0-9_-]+/", first_view.url)
    hops = [urlsplit(r.url) for r in first_view.history]
    assert [h.path for h in hops] == ["/launch", "/auth/authorize", "/callback"]
    facts = launch_facts(browser, first_view)
    assert facts["Patiënt"] == "Sanne Bakker"
    assert facts["Ingelogd als"] == "Anna de Vries"
    assert facts["Wat de app mag doen"] == "De resourcegroep bekijken en wijzigen"


def test_another_patient_and_practitioner_get_their_own_launch(stack: Stack) -> None:
    browser, first_view = ehr_launch(stack, "bram-jansen", "mohammed-el-amrani")

    facts = launch_facts(browser, first_view)
    assert facts["Patiënt"] == "Mohammed El Amrani"
    assert facts["Ingelogd als"] == "Bram Jansen"


def test_a_made_up_launch_value_does_not_open_the_app(stack: Stack) -> None:
    browser = requests.Session()
    browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": PRACTITIONER}, timeout=10)
    src = iframe_src(browser.get(f"{stack.sandbox_url}/epd/patients/{PATIENT}/app", timeout=10).text)
    forged = re.sub(r"launch=[^&]+", "launch=made-up-launch-value-123456", src)

    response = browser.get(forged, timeout=30)

    assert "/c/" not in response.url
    assert response.status_code >= 400


def test_standalone_launch_from_the_patient_portal(stack: Stack) -> None:
    browser = requests.Session()
    chosen = browser.post(f"{stack.sandbox_url}/epd/portal", data={"patient": "eva-visser"}, timeout=10)
    assert chosen.url == f"{stack.sandbox_url}/epd/portal/me"
    src = iframe_src(browser.get(f"{stack.sandbox_url}/epd/portal/me/app", timeout=10).text)
    assert src.startswith(f"{stack.app_url}/?")

    start_page = browser.get(src, timeout=10)
    assert start_page.status_code == 200
    link = re.search(r'href="(/standalone/[^"]+)"', start_page.text)
    assert link is not None, "the app's start page offers no login at the sandbox EPD"
    first_view = browser.get(f"{stack.app_url}{html.unescape(link.group(1))}", timeout=30)

    assert first_view.status_code == 200 and "/c/" in first_view.url
    facts = launch_facts(browser, first_view)
    assert facts["Patiënt"] == "Eva Visser"
    assert facts["Ingelogd als"] == "Eva Visser"


def test_the_sandbox_refuses_the_fhir_endpoint_without_a_token(stack: Stack) -> None:
    response = requests.get(f"{stack.fhir_base}/Patient/{PATIENT}", timeout=10)

    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_launch_through_the_sandbox_fronting_medplum(medplum_base: str, tmp_path: Path) -> None:
    with running_stack(tmp_path, upstream_url=medplum_base) as fronting:
        # The demo data now lives in Medplum, written there straight (the sandbox has no store of its own).
        direct = requests.get(f"{medplum_base}/Patient/{PATIENT}", timeout=10)
        assert direct.status_code == 200 and direct.json()["name"][0]["family"] == "Bakker"
        groups = requests.get(f"{medplum_base}/CareTeam", params={"subject": f"Patient/{PATIENT}"}, timeout=10)
        assert groups.json().get("entry"), "the demo group was not written to Medplum"
        assert fronting.sandbox.store is None

        browser, first_view = ehr_launch(fronting, PRACTITIONER, PATIENT)
        assert first_view.status_code == 200 and "/c/" in first_view.url
        facts = launch_facts(browser, first_view)

    assert "Bijeenkomsten" in first_view.text or "Overzicht" in first_view.text
    assert facts["Patiënt"] == "Sanne Bakker"
    assert facts["Ingelogd als"] == "Anna de Vries"


def test_every_demo_patient_is_on_the_epd_list(stack: Stack) -> None:
    browser = requests.Session()
    page = browser.post(f"{stack.sandbox_url}/epd/login", data={"practitioner": PRACTITIONER}, timeout=10).text

    for patient in PATIENTS:
        assert f"/epd/patients/{patient['id']}" in page
        assert html.escape(patient["name"][0]["text"]) in page
