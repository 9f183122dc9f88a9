"""`resourcegroep doctor` against mocked EHRs (`responses`): a full one, one without transactions, broken ones."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from fhir_mappings.query import GROUP_INCLUDES
from plugin import cli
from plugin.doctor import EX_CANNOT_WORK, EX_OK, Level, diagnose, main
from plugin.sync.capabilities import LoadStrategy
from smart_launch.scopes import GROUP_RESOURCE_TYPES

ISS = "https://ehr.test/fhir/R4"
JsonDict = dict[str, Any]

SMART: JsonDict = {
    "issuer": "https://ehr.test/auth",
    "authorization_endpoint": "https://ehr.test/auth/authorize",
    "token_endpoint": "https://ehr.test/auth/token",
    "capabilities": ["launch-ehr", "launch-standalone", "permission-v2", "permission-v1", "client-public"],
    "code_challenge_methods_supported": ["S256"],
    "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
    "scopes_supported": ["openid", "fhirUser", "launch", "online_access"],
}


def resource(rtype: str, *codes: str) -> JsonDict:
    return {
        "type": rtype,
        "interaction": [{"code": c} for c in codes or ("read", "search-type", "create", "update")],
        "versioning": "versioned-update",
        "conditionalCreate": True,
        "searchInclude": [v for k, v in GROUP_INCLUDES if k.startswith("_include")],
        "searchRevInclude": [v for k, v in GROUP_INCLUDES if k.startswith("_revinclude")],
    }


def statement(*, system: tuple[str, ...] = ("transaction", "batch")) -> JsonDict:
    types = [*GROUP_RESOURCE_TYPES, "Provenance", "AuditEvent", "Patient", "Practitioner"]
    return {
        "resourceType": "CapabilityStatement",
        "fhirVersion": "4.0.1",
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": c} for c in system],
                "resource": [resource(t) for t in types],
            }
        ],
    }


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def serve(rsps: responses.RequestsMock, smart: JsonDict | None, metadata: JsonDict) -> None:
    if smart is None:
        rsps.add("GET", f"{ISS}/.well-known/smart-configuration", status=404)
    else:
        rsps.add("GET", f"{ISS}/.well-known/smart-configuration", json=smart)
    rsps.add("GET", f"{ISS}/metadata", json=metadata)


def lines(out: str) -> dict[str, str]:
    """feature -> 'LEVEL why' from the printed report."""
    found = {}
    for line in out.splitlines():
        level, _, rest = line.partition(" ")
        if level in ("OK", "WARN", "FAIL"):
            feature, _, why = rest.strip().partition("  ")
            found[feature.strip()] = f"{level} {why.strip()}"
    return found


def test_a_full_ehr_works_with_includes_and_transactions(
    rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(rsps, SMART, statement())
    assert cli.main(["doctor", "--iss", ISS]) == EX_OK
    out = capsys.readouterr().out
    report = lines(out)
    assert all(v.startswith("OK") for v in report.values()), report
    for feature in ("EHR launch", "Standalone launch", "PKCE S256", "Scopes", "Refresh tokens", "Transactions"):
        assert feature in report
    for rtype in GROUP_RESOURCE_TYPES:
        assert report[rtype] == "OK read search-type create update"
    assert "load strategy: include" in out and "save strategy: transaction" in out
    assert out.rstrip().endswith("result: the app can work here (0 warning(s))")


def test_a_server_without_transactions_saves_sequentially_and_still_works(
    rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(rsps, SMART, statement(system=("batch",)))
    assert main(["--iss", ISS]) == EX_OK
    out = capsys.readouterr().out
    report = lines(out)
    assert report["Transactions"].startswith("WARN not supported: saves go entry by entry")
    assert report["Batch"].startswith("OK")
    assert "save strategy: sequential" in out and "load strategy: include" in out
    assert "result: the app can work here (1 warning(s))" in out


def test_without_transactions_batch_and_includes_the_load_is_sequential(rsps: responses.RequestsMock) -> None:
    metadata = statement(system=())
    for res in metadata["rest"][0]["resource"]:
        res["searchInclude"], res["searchRevInclude"] = [], []
    serve(rsps, SMART, metadata)
    diagnosis = diagnose(ISS)
    assert (diagnosis.load_strategy, diagnosis.save_strategy) == (LoadStrategy.SEQUENTIAL, "sequential")
    assert diagnosis.exit_code == EX_OK
    assert {c.feature for c in diagnosis.warnings} == {"Transactions", "Batch", "_include/_revinclude"}


def test_no_pkce_s256_or_no_careteam_search_means_the_app_cannot_work(
    rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    smart = {**SMART, "code_challenge_methods_supported": ["plain"]}
    metadata = statement()
    team = next(r for r in metadata["rest"][0]["resource"] if r["type"] == "CareTeam")
    team["interaction"] = [{"code": "read"}]
    goal = next(r for r in metadata["rest"][0]["resource"] if r["type"] == "Goal")
    goal["interaction"] = [{"code": "read"}, {"code": "search-type"}]
    serve(rsps, smart, metadata)
    assert main(["--iss", ISS]) == EX_CANNOT_WORK
    report = lines(capsys.readouterr().out)
    assert report["PKCE S256"].startswith("FAIL S256 is not advertised (plain)")
    assert report["CareTeam"] == "FAIL no search-type create update: no group can be loaded"
    assert report["Goal"] == "WARN no create update: this part is read-only"


def test_smart_endpoints_only_in_the_capability_statement_warn(rsps: responses.RequestsMock) -> None:
    metadata = copy.deepcopy(statement())
    oauth = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    metadata["rest"][0]["security"] = {
        "extension": [
            {
                "url": oauth,
                "extension": [
                    {"url": "authorize", "valueUri": "https://ehr.test/auth/authorize"},
                    {"url": "token", "valueUri": "https://ehr.test/auth/token"},
                ],
            }
        ]
    }
    serve(rsps, None, metadata)
    diagnosis = diagnose(ISS)
    levels = {c.feature: c.level for c in diagnosis.checks}
    assert levels["SMART discovery"] is Level.WARN
    assert levels["PKCE S256"] is Level.FAIL  # nothing advertised: the app cannot rely on it
    assert diagnosis.exit_code == EX_CANNOT_WORK


def test_no_smart_and_not_r4_fail(rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]) -> None:
    serve(rsps, None, {**statement(), "fhirVersion": "5.0.0"})
    assert main(["--iss", ISS]) == EX_CANNOT_WORK
    report = lines(capsys.readouterr().out)
    assert report["SMART discovery"].startswith("FAIL no SMART endpoints")
    assert report["FHIR version"] == "FAIL 5.0.0: the app speaks FHIR R4 (4.0.x)"


def test_an_unreachable_ehr_fails_and_a_bad_iss_is_a_usage_error(
    rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    rsps.add("GET", f"{ISS}/metadata", status=500)
    rsps.add("GET", f"{ISS}/.well-known/smart-configuration", status=500)
    assert main(["--iss", ISS]) == EX_CANNOT_WORK
    out = capsys.readouterr().out
    assert "FAIL CapabilityStatement" in " ".join(out.split()) and "cannot work here" in out
    assert main(["--iss", "ehr.test"]) == 2


def test_undeclared_includes_are_probed_with_a_token(rsps: responses.RequestsMock) -> None:
    metadata = statement()
    for res in metadata["rest"][0]["resource"]:
        del res["searchInclude"], res["searchRevInclude"]
    serve(rsps, SMART, metadata)
    probe = rsps.add(
        "GET", f"{ISS}/CarePlan", json={"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
    )
    without = diagnose(ISS)
    assert probe.call_count == 0 and without.load_strategy is LoadStrategy.BATCH
    probed = diagnose(ISS, token="tok")
    assert probe.call_count == 1
    assert probe.calls[0].request.headers["Prefer"] == "handling=strict"
    assert probe.calls[0].request.headers["Authorization"] == "Bearer tok"
    assert probed.load_strategy is LoadStrategy.INCLUDE
