"""Using a launch: refresh before expiry with rotation, failed refresh, session binding, hard end."""

from __future__ import annotations

import pytest
from smart_fakes import FULL_GRANT, ISS, SESSION, TOKEN, Clock, FakeEhr, form

from smart_launch import (
    LaunchContext,
    LaunchExpiredError,
    LaunchNotFoundError,
    MemorySessionStore,
    RefreshError,
    SmartClient,
)


def launched(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, **token: object) -> LaunchContext:
    ehr.discovery()
    ehr.jwks()
    request = client.begin_ehr_launch(ISS, "launch-1", SESSION)
    pending = store.take_pending(request.state)
    assert pending is not None
    store.save_pending(pending)
    ehr.token(ehr.token_body(pending.nonce, **token))
    context = client.complete_authorization({"state": request.state, "code": "c"}, SESSION)
    ehr.rsps.remove("POST", TOKEN)
    return context


def token_calls(ehr: FakeEhr) -> list[dict[str, str]]:
    return [form(c.request) for c in ehr.rsps.calls if c.request.url == TOKEN]


def test_no_refresh_while_token_is_fresh(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock
) -> None:
    context = launched(ehr, client, store)
    clock.advance(3600 - 61)
    assert client.get_launch(context.context_id, SESSION).access_token == "at-1"
    assert len(token_calls(ehr)) == 1


def test_refresh_near_expiry_with_rotation(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock
) -> None:
    context = launched(ehr, client, store)
    clock.advance(3600 - 30)
    ehr.token(
        {
            "access_token": "at-2",
            "token_type": "Bearer",
            "expires_in": 600,
            "refresh_token": "rt-2",
            "scope": " ".join(FULL_GRANT),
        }
    )
    fresh = client.get_launch(context.context_id, SESSION)
    assert fresh.access_token == "at-2"
    assert fresh.refresh_token == "rt-2"
    assert fresh.expires_at == clock() + 600
    assert fresh.patient == "p1" and fresh.fhir_user == context.fhir_user  # context survives a refresh
    sent = token_calls(ehr)[-1]
    assert sent == {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "resourcegroep"}
    assert store.get_context(context.context_id) == fresh

    clock.advance(600 - 10)
    ehr.rsps.remove("POST", TOKEN)
    ehr.token({"access_token": "at-3", "token_type": "Bearer", "expires_in": 600})
    again = client.get_launch(context.context_id, SESSION)
    assert token_calls(ehr)[-1]["refresh_token"] == "rt-2"  # the rotated token, not the old one
    assert again.access_token == "at-3" and again.refresh_token == "rt-2"


def test_refresh_with_fewer_scopes_degrades(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock
) -> None:
    context = launched(ehr, client, store)
    clock.advance(3590)
    reduced = [s.replace(".crus", ".rs") for s in FULL_GRANT]
    ehr.token({"access_token": "at-2", "token_type": "Bearer", "expires_in": 600, "scope": " ".join(reduced)})
    assert not client.get_launch(context.context_id, SESSION).permissions.can_write


def test_failed_refresh_ends_the_launch(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock
) -> None:
    context = launched(ehr, client, store)
    clock.advance(3590)
    ehr.token({"error": "invalid_grant"}, status=400)
    with pytest.raises(RefreshError):
        client.get_launch(context.context_id, SESSION)
    assert store.get_context(context.context_id) is None
    with pytest.raises(LaunchNotFoundError):
        client.get_launch(context.context_id, SESSION)


def test_expired_without_refresh_token(
    ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock
) -> None:
    context = launched(ehr, client, store, refresh_token=None)
    clock.advance(3601)
    with pytest.raises(LaunchExpiredError):
        client.get_launch(context.context_id, SESSION)
    assert len(token_calls(ehr)) == 1


def test_launch_has_a_hard_end(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore, clock: Clock) -> None:
    context = launched(ehr, client, store, expires_in=None)
    clock.advance(12 * 3600 + 1)
    with pytest.raises(LaunchExpiredError):
        client.get_launch(context.context_id, SESSION)


def test_other_session_cannot_use_the_launch(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    context = launched(ehr, client, store)
    with pytest.raises(LaunchNotFoundError):
        client.get_launch(context.context_id, "another-browser")
    with pytest.raises(LaunchNotFoundError):
        client.get_launch("no-such-context", SESSION)


def test_explicit_refresh_without_refresh_token(ehr: FakeEhr, client: SmartClient, store: MemorySessionStore) -> None:
    context = launched(ehr, client, store, refresh_token=None)
    with pytest.raises(RefreshError):
        client.refresh(context)
