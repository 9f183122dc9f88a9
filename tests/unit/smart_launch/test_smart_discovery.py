"""Discovery: .well-known/smart-configuration, the CapabilityStatement fallback, and the cache TTL."""

from __future__ import annotations

import pytest
import requests
import responses
from smart_fakes import AUTHORIZE, ISS, TOKEN, Clock, smart_configuration

from smart_launch import OAUTH_URIS_EXTENSION, Discovery, DiscoveryError


def capability_statement() -> dict[str, object]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS_EXTENSION,
                            "extension": [
                                {"url": "authorize", "valueUri": AUTHORIZE},
                                {"url": "token", "valueUri": TOKEN},
                                {"url": "revoke", "valueUri": "https://epd.example.org/oauth/revoke"},
                            ],
                        }
                    ]
                },
            }
        ],
    }


def test_well_known_configuration_is_used(rsps: responses.RequestsMock, clock: Clock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", json=smart_configuration())
    config = Discovery(requests.Session(), clock=clock).get(ISS)
    assert config.authorization_endpoint == AUTHORIZE
    assert config.token_endpoint == TOKEN
    assert config.supports_v2_scopes
    assert config.source == "smart-configuration"
    assert rsps.calls[0].request.headers["Accept"] == "application/json"


def test_falls_back_to_capability_statement(rsps: responses.RequestsMock, clock: Clock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", status=404)
    rsps.get(f"{ISS}/metadata", json=capability_statement())
    config = Discovery(requests.Session(), clock=clock).get(ISS)
    assert config.source == "capability-statement"
    assert (config.authorization_endpoint, config.token_endpoint) == (AUTHORIZE, TOKEN)
    assert config.revocation_endpoint == "https://epd.example.org/oauth/revoke"
    assert not config.supports_v2_scopes  # an old server: v1 scopes
    assert [c.request.url for c in rsps.calls][-1] == f"{ISS}/metadata"


def test_falls_back_when_well_known_lacks_endpoints(rsps: responses.RequestsMock, clock: Clock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", json={"capabilities": ["launch-ehr"]})
    rsps.get(f"{ISS}/metadata", json=capability_statement())
    assert Discovery(requests.Session(), clock=clock).get(ISS).source == "capability-statement"


def test_fails_clearly_when_both_fail(rsps: responses.RequestsMock, clock: Clock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", status=500)
    rsps.get(f"{ISS}/metadata", json={"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]})
    with pytest.raises(DiscoveryError, match="oauth-uris"):
        Discovery(requests.Session(), clock=clock).get(ISS)


def test_network_failure_is_a_discovery_error(rsps: responses.RequestsMock, clock: Clock) -> None:
    rsps.get(f"{ISS}/.well-known/smart-configuration", body=requests.ConnectionError("down"))
    rsps.get(f"{ISS}/metadata", body=requests.ConnectionError("down"))
    with pytest.raises(DiscoveryError):
        Discovery(requests.Session(), clock=clock).get(ISS)


def test_cache_per_iss_until_ttl(rsps: responses.RequestsMock, clock: Clock) -> None:
    other = "https://other.example.org/fhir"
    rsps.get(f"{ISS}/.well-known/smart-configuration", json=smart_configuration())
    rsps.get(f"{other}/.well-known/smart-configuration", json=smart_configuration())
    discovery = Discovery(requests.Session(), ttl=300, clock=clock)
    discovery.get(ISS)
    clock.advance(299)
    discovery.get(ISS)
    assert len(rsps.calls) == 1
    discovery.get(other)
    assert len(rsps.calls) == 2
    clock.advance(2)
    discovery.get(ISS)
    assert len(rsps.calls) == 3
