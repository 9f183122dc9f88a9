"""The sandbox endpoint fronting the real Medplum engine: token check in front, requests passed on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from sandbox.access import AccessGrant
from sandbox.fhir import SmartUrls, create_fhir_app
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

PUBLIC = "http://sandbox.test/fhir"
SOON = time.time() + 3600


class Tokens:
    """A fake verifier whose grants the tests fill in once the upstream ids are known."""

    def __init__(self) -> None:
        self.grants: dict[str, AccessGrant] = {"user": AccessGrant("app", frozenset({"user/*.cruds"}), expires_at=SOON)}

    def __call__(self, token: str) -> AccessGrant | None:
        return self.grants.get(token)


@pytest.fixture(scope="module")
def upstream_data(medplum_base: str) -> dict[str, str]:
    """Two patients with a goal each, written straight into Medplum."""
    s = requests.Session()
    out: dict[str, str] = {}
    for key in ("a", "b"):
        p = s.post(
            f"{medplum_base}/Patient", json={"resourceType": "Patient", "name": [{"family": f"Proxy{key}"}]}, timeout=30
        ).json()
        g = s.post(
            f"{medplum_base}/Goal",
            json={
                "resourceType": "Goal",
                "lifecycleStatus": "active",
                "description": {"text": f"goal {key}"},
                "subject": {"reference": f"Patient/{p['id']}"},
            },
            timeout=30,
        ).json()
        out[f"patient_{key}"], out[f"goal_{key}"] = p["id"], g["id"]
    return out


@pytest.fixture
def proxied(medplum_base: str, upstream_data: dict[str, str]) -> Iterator[tuple[FlaskClient, Tokens]]:
    tokens = Tokens()
    tokens.grants["patient-a"] = AccessGrant(
        "app", frozenset({"patient/*.cruds"}), patient=upstream_data["patient_a"], expires_at=SOON
    )
    app = create_fhir_app(
        upstream_url=medplum_base,
        verifier=tokens,
        base_path="/fhir",
        public_base_url=PUBLIC,
        smart=SmartUrls(authorize="http://auth.test/authorize", token="http://auth.test/token"),
    )
    yield app.test_client(), tokens


def _h(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/fhir+json",
        "Accept": "application/fhir+json",
    }


def test_no_token_is_401_before_anything_goes_upstream(proxied: tuple[FlaskClient, Tokens]) -> None:
    client, _ = proxied
    r = client.get("/fhir/Patient")
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


def test_metadata_is_upstreams_with_smart_security_and_our_base(
    proxied: tuple[FlaskClient, Tokens], medplum_base: str
) -> None:
    client, _ = proxied
    r = client.get("/fhir/metadata")
    assert r.status_code == 200
    cs = r.get_json()
    assert cs["software"]["name"].startswith("medplum")
    assert cs["implementation"]["url"] == PUBLIC
    assert medplum_base not in r.get_data(as_text=True)
    uris = cs["rest"][0]["security"]["extension"][0]
    assert uris["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def test_create_read_update_pass_through_with_headers_rewritten(
    proxied: tuple[FlaskClient, Tokens], medplum_base: str
) -> None:
    client, _ = proxied
    r = client.post(
        "/fhir/Practitioner", json={"resourceType": "Practitioner", "name": [{"family": "Door"}]}, headers=_h("user")
    )
    assert r.status_code == 201
    created = r.get_json()
    assert r.headers["Location"].startswith(f"{PUBLIC}/Practitioner/{created['id']}")
    etag = r.headers["ETag"]
    read = client.get(f"/fhir/Practitioner/{created['id']}", headers=_h("user"))
    assert read.status_code == 200 and read.headers["ETag"] == etag
    ok = client.put(
        f"/fhir/Practitioner/{created['id']}",
        json={**created, "active": True},
        headers={**_h("user"), "If-Match": etag},
    )
    assert ok.status_code == 200
    stale = client.put(
        f"/fhir/Practitioner/{created['id']}",
        json={**created, "active": False},
        headers={**_h("user"), "If-Match": etag},
    )
    assert stale.status_code == 412
    # what the proxy did really happened upstream
    upstream = requests.get(f"{medplum_base}/Practitioner/{created['id']}", timeout=30).json()
    assert upstream["active"] is True


def test_if_none_exist_and_prefer_are_passed_on(proxied: tuple[FlaskClient, Tokens]) -> None:
    client, _ = proxied
    tag = uuid.uuid4().hex
    body = {"resourceType": "Practitioner", "identifier": [{"system": "urn:test:proxy", "value": tag}]}
    criteria = {"If-None-Exist": f"identifier=urn:test:proxy|{tag}"}
    first = client.post("/fhir/Practitioner", json=body, headers={**_h("user"), **criteria})
    second = client.post(
        "/fhir/Practitioner", json=body, headers={**_h("user"), **criteria, "Prefer": "return=minimal"}
    )
    assert first.status_code == 201 and second.status_code == 200
    found = client.get(f"/fhir/Practitioner?identifier=urn:test:proxy|{tag}", headers=_h("user")).get_json()
    assert found["total"] == 1


def test_next_links_and_full_urls_point_at_the_sandbox(proxied: tuple[FlaskClient, Tokens], medplum_base: str) -> None:
    client, _ = proxied
    tag = uuid.uuid4().hex[:10]
    for i in range(3):
        client.post("/fhir/Location", json={"resourceType": "Location", "name": f"{tag} {i}"}, headers=_h("user"))
    page = client.get(f"/fhir/Location?name={tag}&_count=2", headers=_h("user")).get_json()
    assert all(e["fullUrl"].startswith(PUBLIC) for e in page["entry"])
    nxt = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert nxt.startswith(PUBLIC) and medplum_base not in nxt
    second = client.get(nxt.removeprefix("http://sandbox.test"), headers=_h("user")).get_json()
    seen = {e["resource"]["id"] for e in page["entry"]} | {e["resource"]["id"] for e in second["entry"]}
    assert len(seen) == 3


def test_transaction_passes_through(proxied: tuple[FlaskClient, Tokens], upstream_data: dict[str, str]) -> None:
    client, _ = proxied
    urn = f"urn:uuid:{uuid.uuid4()}"
    tx: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": urn,
                "resource": {
                    "resourceType": "CareTeam",
                    "status": "active",
                    "subject": {"reference": f"Patient/{upstream_data['patient_a']}"},
                },
                "request": {"method": "POST", "url": "CareTeam"},
            },
            {
                "resource": {
                    "resourceType": "CarePlan",
                    "status": "active",
                    "intent": "plan",
                    "subject": {"reference": f"Patient/{upstream_data['patient_a']}"},
                    "careTeam": [{"reference": urn}],
                },
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ],
    }
    r = client.post("/fhir", json=tx, headers=_h("patient-a"))
    assert r.status_code == 200, r.get_data(as_text=True)
    team, plan = (e["resource"] for e in r.get_json()["entry"])
    assert plan["careTeam"][0]["reference"] == f"CareTeam/{team['id']}"


def test_patient_token_is_confined_when_fronting(
    proxied: tuple[FlaskClient, Tokens], upstream_data: dict[str, str]
) -> None:
    client, _ = proxied
    h = _h("patient-a")
    goals = client.get("/fhir/Goal", headers=h).get_json()
    assert {e["resource"]["id"] for e in goals["entry"]} >= {upstream_data["goal_a"]}
    assert upstream_data["goal_b"] not in {e["resource"]["id"] for e in goals["entry"]}
    patients = client.get("/fhir/Patient", headers=h).get_json()
    assert {e["resource"]["id"] for e in patients["entry"]} == {upstream_data["patient_a"]}
    assert client.get(f"/fhir/Goal/{upstream_data['goal_a']}", headers=h).status_code == 200
    assert client.get(f"/fhir/Goal/{upstream_data['goal_b']}", headers=h).status_code == 403
    assert client.get(f"/fhir/Patient/{upstream_data['patient_b']}", headers=h).status_code == 403
    assert client.get(f"/fhir/Goal?patient={upstream_data['patient_b']}", headers=h).status_code == 403
    other_goal = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "x"},
        "subject": {"reference": f"Patient/{upstream_data['patient_b']}"},
    }
    assert client.post("/fhir/Goal", json=other_goal, headers=h).status_code == 403
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": other_goal, "request": {"method": "POST", "url": "Goal"}}],
    }
    assert client.post("/fhir", json=bundle, headers=h).status_code == 403


def test_delete_is_refused_in_front(proxied: tuple[FlaskClient, Tokens], upstream_data: dict[str, str]) -> None:
    client, _ = proxied
    assert client.delete(f"/fhir/Goal/{upstream_data['goal_a']}", headers=_h("user")).status_code == 405
    assert client.get(f"/fhir/Goal/{upstream_data['goal_a']}", headers=_h("user")).status_code == 200


def test_unreachable_upstream_is_502() -> None:
    app = create_fhir_app(
        upstream_url=f"http://127.0.0.1:{free_port()}/fhir/R4",
        verifier=Tokens(),
        base_path="/fhir",
        upstream_timeout=(1.0, 2.0),
    )
    r = app.test_client().get("/fhir/Patient", headers=_h("user"))
    assert r.status_code == 502
    assert r.get_json()["resourceType"] == "OperationOutcome"
