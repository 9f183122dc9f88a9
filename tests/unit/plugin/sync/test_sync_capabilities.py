"""Capability detection and the load strategy."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from plugin.sync.capabilities import (
    GROUP_INCLUDES,
    GROUP_SEARCH_TYPES,
    CapabilityCache,
    LoadStrategy,
    ServerCapabilities,
    choose_load_strategy,
    probe_includes,
)
from plugin.sync.client import FhirClient

BASE = "https://ehr.test/fhir/R4"
TYPES = sorted({*GROUP_SEARCH_TYPES, "Patient", "Provenance", "Location"})


def statement(*, includes: bool | None, transaction: bool = True, batch: bool = True) -> dict[str, Any]:
    resources = []
    for t in TYPES:
        res: dict[str, Any] = {
            "type": t,
            "interaction": [{"code": c} for c in ("read", "vread", "update", "create", "search-type")],
            "searchParam": [{"name": "patient", "type": "reference"}, {"name": "identifier", "type": "token"}],
            "conditionalCreate": True,
            "versioning": "versioned-update",
        }
        if includes is not None and t == "CarePlan":
            res["searchInclude"] = (
                ["CarePlan:care-team", "CarePlan:goal", "CarePlan:activity-reference"] if includes else []
            )
            res["searchRevInclude"] = [v for k, v in GROUP_INCLUDES if k.startswith("_revinclude")] if includes else []
        if includes and t in ("CareTeam", "Appointment"):
            res["searchInclude"] = [v for k, v in GROUP_INCLUDES if k == "_include:iterate" and v.startswith(t)]
        resources.append(res)
    system = [{"code": c} for c, on in (("transaction", transaction), ("batch", batch)) if on]
    return {
        "resourceType": "CapabilityStatement",
        "fhirVersion": "4.0.1",
        "rest": [{"mode": "server", "interaction": system, "resource": resources}, {"mode": "client"}],
    }


def test_full_server_is_parsed_and_loads_with_includes() -> None:
    caps = ServerCapabilities.from_statement(BASE + "/", statement(includes=True))
    assert caps.base_url == BASE and caps.fhir_version == "4.0.1"
    assert caps.supports_transaction and caps.supports_batch
    assert caps.supports("Goal", "search-type") and not caps.supports("Goal", "delete")
    assert caps.resources["Goal"].conditional_create and caps.resources["Goal"].versioning == "versioned-update"
    assert caps.includes_declared(GROUP_INCLUDES) is True
    assert choose_load_strategy(caps) is LoadStrategy.INCLUDE


def test_server_without_the_includes_loads_with_one_batch() -> None:
    caps = ServerCapabilities.from_statement(BASE, statement(includes=False))
    assert caps.includes_declared(GROUP_INCLUDES) is False
    assert choose_load_strategy(caps) is LoadStrategy.BATCH


def test_server_missing_one_include_is_not_include() -> None:
    st = statement(includes=True)
    careteam = next(r for r in st["rest"][0]["resource"] if r["type"] == "CareTeam")
    careteam["searchInclude"] = []
    caps = ServerCapabilities.from_statement(BASE, st)
    assert choose_load_strategy(caps) is LoadStrategy.BATCH


def test_server_without_transaction_or_batch_is_sequential_and_logged_degraded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caps = ServerCapabilities.from_statement(BASE, statement(includes=False, transaction=False, batch=False))
    assert not caps.supports_transaction and not caps.supports_batch
    with caplog.at_level(logging.WARNING, logger="plugin.sync.capabilities"):
        assert choose_load_strategy(caps) is LoadStrategy.SEQUENTIAL
    assert "degraded" in caplog.text


def test_undeclared_includes_follow_the_probe() -> None:
    caps = ServerCapabilities.from_statement(BASE, statement(includes=None))
    assert caps.includes_declared(GROUP_INCLUDES) is None
    assert choose_load_strategy(caps) is LoadStrategy.BATCH  # not probed: do not assume
    probed = ServerCapabilities(
        caps.base_url, caps.fhir_version, caps.resources, caps.system_interactions, includes_probed=True
    )
    assert choose_load_strategy(probed) is LoadStrategy.INCLUDE


def test_not_a_capability_statement_is_an_error() -> None:
    with pytest.raises(Exception, match="CapabilityStatement"):
        ServerCapabilities.from_statement(BASE, {"resourceType": "OperationOutcome"})


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def test_probe_uses_strict_handling_and_reads_a_400_as_unsupported(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/CarePlan", status=400, json={"resourceType": "OperationOutcome", "issue": []})
    client = FhirClient(BASE)
    assert probe_includes(client) is False
    sent = rsps.calls[0].request
    assert sent.headers["Prefer"] == "handling=strict"
    assert "_include%3Aiterate=CareTeam%3Aparticipant" in str(sent.url)
    assert "_revinclude=Communication%3Abased-on" in str(sent.url)


def test_cache_fetches_once_per_ttl_and_probes_undeclared_includes(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/metadata", json=statement(includes=None))
    rsps.get(f"{BASE}/CarePlan", json={"resourceType": "Bundle", "type": "searchset", "total": 0})
    now = [1000.0]
    cache = CapabilityCache(ttl=60, clock=lambda: now[0])
    client = FhirClient(BASE)
    assert choose_load_strategy(cache.get(client)) is LoadStrategy.INCLUDE
    assert cache.get(client) is cache.get(client)
    assert client.request_count == 2  # metadata + probe
    now[0] += 61
    cache.get(client)
    assert client.request_count == 4


def test_cache_is_per_server(rsps: responses.RequestsMock) -> None:
    other = "https://other.test/fhir"
    rsps.get(f"{BASE}/metadata", json=statement(includes=True))
    rsps.get(f"{other}/metadata", json=statement(includes=False, transaction=False))
    cache = CapabilityCache()
    assert cache.get(FhirClient(BASE)).supports_transaction
    assert not cache.get(FhirClient(other)).supports_transaction
    assert choose_load_strategy(cache.get(FhirClient(other))) is LoadStrategy.BATCH
