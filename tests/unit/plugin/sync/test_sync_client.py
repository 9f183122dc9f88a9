"""FhirClient: retries, Retry-After, paging, error mapping, token refresh, permissions, logging."""

from __future__ import annotations

import email.utils
import json
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from plugin.sync.client import (
    FhirClient,
    RetryPolicy,
    StaticTokenProvider,
    bundle_permissions,
    entry_status,
    parse_etag,
    parse_json,
    parse_retry_after,
)
from plugin.sync.errors import (
    BadRequest,
    Forbidden,
    Gone,
    Invalid,
    NextLinkRefused,
    NotFound,
    PreconditionFailed,
    ServerUnavailable,
    Timeout,
    Unauthorized,
)

BASE = "https://ehr.test/fhir/R4"
NOW = 1_750_000_000.0


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class RefreshingToken:
    def __init__(self) -> None:
        self.token = "tok-1"
        self.refreshes = 0

    def __call__(self) -> str:
        return self.token

    def refresh(self) -> str:
        self.refreshes += 1
        self.token = f"tok-{self.refreshes + 1}"
        return self.token


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(sleeps: Sleeps, **kw: object) -> FhirClient:
    return FhirClient(
        BASE,
        StaticTokenProvider("secret-token"),
        sleep=sleeps,
        clock=lambda: NOW,
        rng=random.Random(7),
        **kw,  # type: ignore[arg-type]
    )


def oo(code: str, text: str = "") -> dict[str, object]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


GOAL = {"resourceType": "Goal", "id": "g1", "meta": {"versionId": "3"}}


# ---------------------------------------------------------------- basics


def test_read_sends_fhir_json_and_bearer_and_returns_etag(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", json=GOAL, headers={"ETag": 'W/"3"'})
    client = make(sleeps)
    resp = client.read("Goal", "g1")
    assert resp.status == 200 and resp.body == GOAL
    assert resp.etag == 'W/"3"' and resp.version_id == "3"
    sent = rsps.calls[0].request
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.headers["Authorization"] == "Bearer secret-token"
    assert client.request_count == 1


def test_create_sends_fhir_json_body_and_if_none_exist(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.post(f"{BASE}/Goal", json=GOAL, status=201, headers={"Location": f"{BASE}/Goal/g1/_history/3"})
    resp = make(sleeps).create({"resourceType": "Goal"}, if_none_exist="identifier=s|v")
    sent = rsps.calls[0].request
    assert sent.headers["Content-Type"].startswith("application/fhir+json")
    assert sent.headers["If-None-Exist"] == "identifier=s|v"
    assert json.loads(sent.body) == {"resourceType": "Goal"}
    assert resp.location == f"{BASE}/Goal/g1/_history/3"


def test_update_sends_if_match(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.put(f"{BASE}/Goal/g1", json=GOAL)
    make(sleeps).update({"resourceType": "Goal", "id": "g1"}, if_match='W/"2"')
    assert rsps.calls[0].request.headers["If-Match"] == 'W/"2"'


def test_etag_helpers() -> None:
    assert parse_etag('W/"12"') == "12" and parse_etag('"a"') == "a" and parse_etag("7") == "7"


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_transient_status_with_bounded_full_jitter(
    rsps: responses.RequestsMock, sleeps: Sleeps, status: int
) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=status)
    rsps.get(f"{BASE}/Goal/g1", status=status)
    rsps.get(f"{BASE}/Goal/g1", json=GOAL)
    client = make(sleeps, retry=RetryPolicy(base_delay=0.5, max_delay=0.75))
    assert client.read("Goal", "g1").body == GOAL
    assert client.request_count == 3 and len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 0.5 and 0 <= sleeps.calls[1] <= 0.75  # caps: 0.5 * 2^0, min(0.75, 0.5 * 2^1)


def test_retries_are_bounded(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=503, json=oo("transient"))
    client = make(sleeps, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ServerUnavailable) as info:
        client.read("Goal", "g1")
    assert client.request_count == 3 and len(sleeps.calls) == 2
    assert info.value.status == 503 and info.value.issues[0]["code"] == "transient"


def test_non_conditional_create_is_never_retried(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.post(f"{BASE}/Goal", status=503)
    client = make(sleeps)
    with pytest.raises(ServerUnavailable):
        client.create({"resourceType": "Goal"})
    assert client.request_count == 1 and sleeps.calls == []


def test_conditional_create_and_put_are_retried(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.post(f"{BASE}/Goal", status=502)
    rsps.post(f"{BASE}/Goal", json=GOAL, status=201)
    rsps.put(f"{BASE}/Goal/g1", status=504)
    rsps.put(f"{BASE}/Goal/g1", json=GOAL)
    client = make(sleeps)
    client.create({"resourceType": "Goal"}, if_none_exist="identifier=s|v")
    client.update({"resourceType": "Goal", "id": "g1"}, if_match='W/"3"')
    assert client.request_count == 4


@pytest.mark.parametrize("idempotent,expected_calls", [(False, 1), (True, 2)])
def test_transaction_retried_only_when_flagged_idempotent(
    rsps: responses.RequestsMock, sleeps: Sleeps, idempotent: bool, expected_calls: int
) -> None:
    rsps.post(BASE, status=503)
    rsps.post(BASE, json={"resourceType": "Bundle", "type": "transaction-response", "entry": []})
    client = make(sleeps)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    if idempotent:
        client.transaction(bundle, idempotent=True)
    else:
        with pytest.raises(ServerUnavailable):
            client.transaction(bundle, idempotent=False)
    assert client.request_count == expected_calls


def test_batch_of_reads_is_retried_but_batch_with_writes_is_not(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.post(BASE, status=503)
    client = make(sleeps, retry=RetryPolicy(max_attempts=2))
    reads = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Goal/1"}}]}
    writes = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "POST", "url": "Goal"}}]}
    with pytest.raises(ServerUnavailable):
        client.batch(reads)
    assert client.request_count == 2
    with pytest.raises(ServerUnavailable):
        client.batch(writes)
    assert client.request_count == 3  # one more: a batch that writes is not retried


def test_500_is_not_retried(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=500)
    client = make(sleeps)
    with pytest.raises(ServerUnavailable):
        client.read("Goal", "g1")
    assert client.request_count == 1


def test_retry_after_seconds_is_honoured(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=429, headers={"Retry-After": "7"})
    rsps.get(f"{BASE}/Goal/g1", json=GOAL)
    make(sleeps).read("Goal", "g1")
    assert sleeps.calls == [7.0]


def test_retry_after_http_date_is_honoured(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=503, headers={"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)})
    rsps.get(f"{BASE}/Goal/g1", json=GOAL)
    make(sleeps).read("Goal", "g1")
    assert sleeps.calls == [12.0]


def test_retry_after_longer_than_the_budget_gives_up_at_once(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=503, headers={"Retry-After": "3600"})
    client = make(sleeps)
    with pytest.raises(ServerUnavailable) as info:
        client.read("Goal", "g1")
    assert info.value.retry_after == 3600.0 and sleeps.calls == [] and client.request_count == 1


def test_parse_retry_after_edge_cases() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("²") is None  # a digit to str.isdigit, no number to float


def test_an_entrys_status_code_is_its_leading_ascii_number() -> None:
    assert entry_status("201 Created", 0) == 201 and entry_status(" 412 ", 500) == 412
    for odd in (None, "", "Created", "²01 Created", "2010 Created"):
        assert entry_status(odd, 500) == 500, odd
    assert parse_retry_after(email.utils.formatdate(NOW - 50, usegmt=True), lambda: NOW) == 0.0


def test_connection_error_retried_for_get_not_for_plain_post(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", body=requests.ConnectionError("reset"))
    rsps.get(f"{BASE}/Goal/g1", json=GOAL)
    rsps.post(f"{BASE}/Goal", body=requests.ConnectionError("reset"))
    client = make(sleeps)
    assert client.read("Goal", "g1").body == GOAL
    with pytest.raises(ServerUnavailable):
        client.create({"resourceType": "Goal"})
    assert client.request_count == 3


def test_read_timeout_maps_to_timeout_after_retries(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", body=requests.ReadTimeout("slow"))
    client = make(sleeps, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(Timeout):
        client.read("Goal", "g1")
    assert client.request_count == 2


def test_timeouts_are_configurable_and_sent(sleeps: Sleeps) -> None:
    seen: dict[str, object] = {}

    class Session(requests.Session):
        def request(self, method: str, url: str, **kw: object) -> requests.Response:  # type: ignore[override]
            seen.update(kw)
            resp = requests.Response()
            resp.status_code = 200
            resp._content = b"{}"
            return resp

    FhirClient(BASE, session=Session(), connect_timeout=1.5, read_timeout=9).read("Goal", "1")
    assert seen["timeout"] == (1.5, 9)
    assert FhirClient(BASE).timeout == (3.0, 15.0)


def test_the_shared_session_sends_what_requests_own_preparing_would(rsps: responses.RequestsMock) -> None:
    """A client on the shared session prepares its request itself (no `Session.request`): the same method,
    address, query, body and headers (the session's `User-Agent` and `Accept-Encoding` under the FHIR ones) as
    a plain session's `request` sends, with the client's timeout and no redirects followed."""
    rsps.post(BASE, json={"resourceType": "Bundle", "type": "batch-response", "entry": []})
    rsps.get(f"{BASE}/Goal", json={"resourceType": "Bundle", "type": "searchset"})
    plain = requests.Session()
    plain.trust_env = False
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Goal/1"}}]}
    sent = []
    for client in (
        FhirClient(BASE, StaticTokenProvider("t"), read_timeout=9),
        FhirClient(BASE, StaticTokenProvider("t"), read_timeout=9, session=plain),
    ):
        client.batch(bundle)
        client.search("Goal", [("patient", "Patient/p 1"), ("_count", "5")], headers={"Prefer": "handling=strict"})
    for call in rsps.calls:
        request = call.request
        sent.append((request.method, request.url, request.body, dict(request.headers)))
        assert request.req_kwargs["timeout"] == (3.0, 9)  # type: ignore[union-attr]
        assert request.req_kwargs["stream"] is True  # type: ignore[union-attr]
    assert sent[:2] == sent[2:]
    method, url, body, headers = sent[0]
    assert (method, url, json.loads(body or b"")) == ("POST", BASE, bundle)
    assert headers["Accept"] == "application/fhir+json" and headers["Authorization"] == "Bearer t"
    assert headers["Accept-Encoding"] == requests.utils.default_headers()["Accept-Encoding"]
    assert headers["User-Agent"].startswith("python-requests/")
    assert sent[1][1] == f"{BASE}/Goal?patient=Patient%2Fp+1&_count=5" and sent[1][3]["Prefer"] == "handling=strict"


# ---------------------------------------------------------------- token refresh


def test_401_refreshes_once_and_retries(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=401)
    rsps.get(f"{BASE}/Goal/g1", json=GOAL)
    token = RefreshingToken()
    client = FhirClient(BASE, token, sleep=sleeps)
    assert client.read("Goal", "g1").body == GOAL
    assert token.refreshes == 1
    assert [c.request.headers["Authorization"] for c in rsps.calls] == ["Bearer tok-1", "Bearer tok-2"]


def test_second_401_means_relaunch(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=401)
    token = RefreshingToken()
    client = FhirClient(BASE, token, sleep=sleeps)
    with pytest.raises(Unauthorized) as info:
        client.read("Goal", "g1")
    assert token.refreshes == 1 and client.request_count == 2
    assert "opnieuw" in info.value.user_message


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    "status,body,error",
    [
        (404, oo("not-found"), NotFound),
        (410, oo("deleted"), Gone),
        (400, oo("invalid", "Unknown search parameter"), Invalid),
        (400, oo("processing", "bad"), BadRequest),
        (422, oo("business-rule"), Invalid),
        (409, oo("conflict"), PreconditionFailed),
        (412, oo("processing", "Precondition Failed"), PreconditionFailed),
        (405, None, BadRequest),
    ],
)
def test_status_and_outcome_map_to_typed_errors(
    rsps: responses.RequestsMock, sleeps: Sleeps, status: int, body: object, error: type[Exception]
) -> None:
    rsps.get(f"{BASE}/Goal/g1", status=status, json=body)
    with pytest.raises(error) as info:
        make(sleeps).read("Goal", "g1")
    exc = info.value
    assert type(exc) is error
    assert exc.status == status  # type: ignore[attr-defined]
    assert exc.user_message and exc.diagnostics  # type: ignore[attr-defined]
    if body:
        assert exc.issues == body["issue"]  # type: ignore[attr-defined, index]


@pytest.mark.parametrize(
    "call,permission,phrase",
    [
        (lambda c: c.read("Goal", "g1"), "patient/Goal.r", "de app mag doelen niet inzien"),
        (lambda c: c.search("Task", {"patient": "p"}), "patient/Task.s", "de app mag afspraken niet zoeken"),
        (lambda c: c.create({"resourceType": "Goal"}), "patient/Goal.c", "de app mag doelen niet aanmaken"),
        (lambda c: c.update({"resourceType": "CareTeam", "id": "t"}), "patient/CareTeam.u", "niet wijzigen"),
    ],
)
def test_403_names_the_missing_permission(
    rsps: responses.RequestsMock, sleeps: Sleeps, call: object, permission: str, phrase: str
) -> None:
    rsps.add("GET", f"{BASE}/Goal/g1", status=403)
    rsps.add("GET", f"{BASE}/Task", status=403)
    rsps.add("POST", f"{BASE}/Goal", status=403)
    rsps.add("PUT", f"{BASE}/CareTeam/t", status=403)
    with pytest.raises(Forbidden) as info:
        call(make(sleeps))  # type: ignore[operator]
    assert info.value.permission == permission
    assert info.value.user_message.startswith("Geen toegang: ")
    assert phrase in info.value.user_message and permission in info.value.user_message


def test_403_on_a_transaction_names_every_scope_it_needs(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.post(BASE, status=403)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "POST", "url": "Goal"}},
            {"request": {"method": "PUT", "url": "CarePlan/1"}},
            {"request": {"method": "PUT", "url": "Goal/2"}},
            {"request": {"method": "POST", "url": "Provenance"}},
        ],
    }
    with pytest.raises(Forbidden) as info:
        make(sleeps, scope_context="user").transaction(bundle, idempotent=False)
    assert info.value.permission == "user/CarePlan.u user/Goal.cu user/Provenance.c"
    assert "Geen toegang" in info.value.user_message and "user/Goal.cu" in info.value.user_message
    assert bundle_permissions(bundle) == "patient/CarePlan.u patient/Goal.cu patient/Provenance.c"


# ---------------------------------------------------------------- paging


def page(n: int, next_url: str | None) -> dict[str, object]:
    links = [{"relation": "self", "url": f"{BASE}/Goal?page={n}"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": {"resourceType": "Goal", "id": f"g{n}"}}],
    }


def all_entries(client: FhirClient, rtype: str, params: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Every entry of a search, following next links (as the repository reads pages)."""
    return [e for p in client.pages(client.search(rtype, params or [])) for e in p.get("entry") or []]


def test_paging_follows_opaque_next_links(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Goal", json=page(1, f"{BASE}/Goal?_getpages=abc&_offset=1"))
    rsps.get(f"{BASE}/Goal?_getpages=abc&_offset=1", json=page(2, f"{BASE}?_getpages=abc&_offset=2"))
    rsps.get(f"{BASE}?_getpages=abc&_offset=2", json=page(3, None))
    client = make(sleeps)
    entries = all_entries(client, "Goal", [("patient", "p1")])
    assert [e["resource"]["id"] for e in entries] == ["g1", "g2", "g3"]
    assert client.request_count == 3
    assert rsps.calls[1].request.url == f"{BASE}/Goal?_getpages=abc&_offset=1"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.test/fhir/R4/Goal?page=2",  # other host
        "http://ehr.test/fhir/R4/Goal?page=2",  # other scheme
        "https://ehr.test:8443/fhir/R4/Goal?page=2",  # other port
        "https://ehr.test/other/Goal?page=2",  # outside the base
        "https://ehr.test/fhir/R4/../../admin?page=2",  # escapes the base
        "https://ehr.test/fhir/R4x/Goal",  # prefix trick
        "https://user:pw@ehr.test/fhir/R4/Goal",  # credentials
    ],
)
def test_foreign_next_link_is_refused(rsps: responses.RequestsMock, sleeps: Sleeps, next_url: str) -> None:
    rsps.get(f"{BASE}/Goal", json=page(1, next_url))
    client = make(sleeps)
    with pytest.raises(NextLinkRefused):
        all_entries(client, "Goal")
    assert client.request_count == 1


def test_next_link_with_explicit_default_port_is_accepted(sleeps: Sleeps) -> None:
    assert make(sleeps).check_next_link("https://EHR.test:443/fhir/R4/Goal?x=1")


# ---------------------------------------------------------------- logging


def test_logs_carry_no_token_and_no_query_values(
    rsps: responses.RequestsMock, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    rsps.get(f"{BASE}/Goal", status=503)
    rsps.get(f"{BASE}/Goal", json=page(1, None))
    caplog.set_level(logging.DEBUG, logger="plugin.sync")
    make(sleeps).search("Goal", {"description": "bang voor de buren", "patient": "p1"})
    text = caplog.text
    assert "GET /Goal?description,patient" in text
    assert "secret-token" not in text and "bang voor" not in text and "p1" not in text


# ---------------------------------------------------------------- parsing once, from the bytes


def test_the_body_is_parsed_from_the_bytes_and_kept_as_received(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    text = '{"resourceType":"Goal","id":"g1","note":[{"text":"Daniëlle"}]}'.encode()
    rsps.get(f"{BASE}/Goal/g1", body=text, content_type="application/fhir+json")
    resp = make(sleeps).read("Goal", "g1")
    assert resp.body == {"resourceType": "Goal", "id": "g1", "note": [{"text": "Daniëlle"}]}
    assert resp.raw == text


def test_what_the_fast_parser_refuses_is_read_by_the_standard_one(rsps: responses.RequestsMock, sleeps: Sleeps) -> None:
    rsps.get(f"{BASE}/Observation/o1", body=b'{"resourceType":"Observation","id":"o1","valueQuantity":{"value":NaN}}')
    resp = make(sleeps).read("Observation", "o1")
    assert resp.body is not None and resp.body["id"] == "o1"


def test_a_body_in_another_declared_charset_is_read_parsed_now_or_later(
    rsps: responses.RequestsMock, sleeps: Sleeps
) -> None:
    text = '{"resourceType":"Goal","id":"g1","note":[{"text":"Daniëlle"}]}'.encode("iso-8859-1")
    rsps.get(f"{BASE}/Goal/g1", body=text, content_type="application/fhir+json; charset=iso-8859-1")
    resp = make(sleeps).read("Goal", "g1")
    assert resp.body is not None and resp.body["note"] == [{"text": "Daniëlle"}]
    assert parse_json(resp.raw, resp.headers) == resp.body  # an answer left unparsed is read the same way


def test_a_body_orjson_cannot_write_is_written_by_the_standard_encoder(
    rsps: responses.RequestsMock, sleeps: Sleeps
) -> None:
    rsps.post(f"{BASE}/Observation", json={"resourceType": "Observation", "id": "o1"}, status=201)
    make(sleeps).create({"resourceType": "Observation", "valueInteger": 2**70, "note": [{"text": "één"}]})
    sent = rsps.calls[0].request.body
    assert json.loads(sent) == {"resourceType": "Observation", "valueInteger": 2**70, "note": [{"text": "één"}]}
    assert "één".encode() in sent  # UTF-8, not escaped
