"""The outbox in the app: waiting saves survive a restart, a viewer's page never sends (or fails) another user's
waiting save, the worker sends it naming the app, and care professionals retry or let lapse refused saves."""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import plugin.sync.outbox as outbox_module
import plugin.sync.repository as repository_module
from fhir_mappings.audit import AccessRecord, AuditAction, AuditOutcome
from plugin.app import create_app
from plugin.audit.trail import AuditTrail
from plugin.config import AppConfig
from plugin.session_store import CREATED
from plugin.sync.errors import BadRequest, ServerUnavailable
from plugin.sync.outbox import OutboxState, SqliteOutbox
from plugin.sync.worker import EX_OK
from plugin.sync.worker import main as worker_main
from smart_launch import SessionStore
from tests.support.ui import READ_SCOPES, WRITE_SCOPES, LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
ANNA = "Practitioner/anna-de-vries"
BRAM = "Practitioner/bram-jansen"
LOTTE = "Practitioner/lotte-smit"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[LaunchedApp]:
    with launched(tmp_path, user=ANNA) as launched_app:
        yield launched_app


def outbox_of(app: Flask) -> SqliteOutbox:
    box: SqliteOutbox = app.extensions["resourcegroep"]["outbox"]
    return box


def group_name(env: LaunchedApp) -> str:
    (plan,) = [p for p in env.resources("CarePlan") if p.get("subject", {}).get("reference") == SANNE][:1]
    return str(plan.get("title"))


def rename_while_the_ehr_is_down(env: LaunchedApp, monkeypatch: pytest.MonkeyPatch, name: str) -> int:
    """Rename the group as the current user while every transaction fails: the save waits in the outbox."""

    def down(*_a: Any, **_k: Any) -> Any:
        raise ServerUnavailable("HTTP 503 (test)", status=503)

    with monkeypatch.context() as patch:
        patch.setattr(repository_module, "submit", down)
        answer = env.post("/naam", {"name": name})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    waiting = outbox_of(env.app).pending_for(SANNE)
    assert waiting, "the rename should wait in the outbox"
    return waiting[-1].id


def switch(env: LaunchedApp, user: str, *, scopes: tuple[str, ...] | None = None) -> None:
    sessions: SessionStore = env.app.extensions["session_store"]
    context = sessions.get_context(env.context_id)
    assert context is not None
    changes: dict[str, Any] = {"fhir_user": user}
    if scopes is not None:
        changes["granted_scopes"] = scopes
    sessions.save_context(dataclasses.replace(context, **changes))


def make_failed(env: LaunchedApp, monkeypatch: pytest.MonkeyPatch, name: str) -> int:
    entry_id = rename_while_the_ehr_is_down(env, monkeypatch, name)
    box = outbox_of(env.app)
    claimed = box.claim_next(SANNE, owner="test", lease_seconds=5)
    assert claimed is not None and claimed.id == entry_id
    box.mark_failed(entry_id, "HTTP 422: refused (test)")
    return entry_id


# ---------------------------------------------------------------- nothing lost on a restart


def test_waiting_saves_survive_a_restart_and_are_sent_by_their_author(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = group_name(env)
    entry_id = rename_while_the_ehr_is_down(env, monkeypatch, "Sannes team na herstart")
    config: AppConfig = env.app.config["RESOURCEGROEP"]

    # The app restarts: a second app on the same configuration (its session store is new, so launch again).
    second = create_app(config)
    second.config["TESTING"] = True
    assert [e.id for e in outbox_of(second).pending_for(SANNE)] == [entry_id]
    old: SessionStore = env.app.extensions["session_store"]
    context = old.get_context(env.context_id)
    assert context is not None
    sessions: SessionStore = second.extensions["session_store"]
    sid = secrets.token_urlsafe(32)
    sessions.save_session(sid, {"since": 1, CREATED: time.time()}, time.time() + 3600)
    sessions.save_context(dataclasses.replace(context, session_id=sid))
    browser = second.test_client()
    browser.set_cookie("rg_session", sid, domain="localhost")

    assert group_name(env) == before  # not sent yet
    page = browser.get(f"/c/{env.context_id}/")
    assert page.status_code == 200
    assert group_name(env) == "Sannes team na herstart"
    entry = outbox_of(second).get(entry_id)
    assert entry is not None and entry.state is OutboxState.SENT


# ---------------------------------------------------------------- another viewer never fails someone's save


def test_a_read_only_viewer_leaves_another_users_save_waiting_until_its_author_comes(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = group_name(env)
    entry_id = rename_while_the_ehr_is_down(env, monkeypatch, "Wacht op Anna")
    box = outbox_of(env.app)

    switch(env, BRAM, scopes=READ_SCOPES)  # a colleague whose token may only read
    page = env.get("/")
    assert page.status_code == 200
    assert "Wacht op opslaan in het EPD" in page.get_data(as_text=True)
    # A colleague who may write: still not sent with his token (the Provenance would name Anna).
    switch(env, BRAM, scopes=WRITE_SCOPES)
    env.get("/")
    entry = box.get(entry_id)
    assert entry is not None and entry.state is OutboxState.PENDING and box.failed_for(SANNE) == []
    assert group_name(env) == before

    switch(env, ANNA, scopes=WRITE_SCOPES)  # the author opens the group again: her save goes with her token
    env.get("/")
    entry = box.get(entry_id)
    assert entry is not None and entry.state is OutboxState.SENT
    assert group_name(env) == "Wacht op Anna"


def test_the_worker_sends_a_waiting_save_and_names_the_app(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entry_id = rename_while_the_ehr_is_down(env, monkeypatch, "Via de worker")
    switch(env, BRAM, scopes=READ_SCOPES)
    env.get("/")  # a read-only viewer first: nothing happens to it
    box = outbox_of(env.app)
    argv = ["--outbox", str(box.path), "--fhir-base", env.fhir_base, "--no-token", "--client-id", "rg-backend"]
    assert worker_main(argv) == EX_OK
    assert "1 sent" in capsys.readouterr().out
    entry = box.get(entry_id)
    assert entry is not None and entry.state is OutboxState.SENT
    assert group_name(env) == "Via de worker"
    (prov,) = [
        p for p in env.resources("Provenance") if (p.get("activity") or {}).get("text") == "Naam van de groep gewijzigd"
    ][-1:]
    agents = prov["agent"]
    assert agents[0]["who"]["reference"].endswith(ANNA)
    assert agents[1]["type"]["coding"][0]["code"] == "assembler"
    assert agents[1]["who"]["identifier"]["value"] == "rg-backend"


# ---------------------------------------------------------------- retry and let lapse: rights and effects


@pytest.mark.parametrize("user", [SANNE, LOTTE])
def test_only_care_professionals_see_and_handle_refused_saves(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    entry_id = make_failed(env, monkeypatch, "Geweigerd")
    switch(env, user)
    assert env.get("/wachtrij").status_code == 403
    assert env.post("/wachtrij/opnieuw", {"entry": str(entry_id)}).status_code == 403
    assert env.post("/wachtrij/laten-vervallen", {"entry": str(entry_id)}).status_code == 403
    entry = outbox_of(env.app).get(entry_id)
    assert entry is not None and entry.state is OutboxState.FAILED and entry.history == ()


def test_a_colleague_retries_someone_elses_refused_save_it_waits_for_its_author(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    before = group_name(env)
    entry_id = make_failed(env, monkeypatch, "Opnieuw door Bram")
    switch(env, BRAM)
    page = env.get("/wachtrij")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "HTTP 422: refused (test)" in html and "Naam van de groep gewijzigd" in html
    with caplog.at_level(logging.INFO, logger="plugin.audit.outbox"):
        answer = env.post("/wachtrij/opnieuw", {"entry": str(entry_id)})
    assert answer.status_code == 303
    entry = outbox_of(env.app).get(entry_id)
    assert entry is not None and entry.state is OutboxState.PENDING
    assert [(e.action, e.by) for e in entry.history] == [("retry", BRAM)]
    assert f"outbox entry {entry_id} of {SANNE}: retry by {BRAM}" in caplog.text
    assert group_name(env) == before  # Bram's token did not send Anna's save
    switch(env, ANNA)
    env.get("/")
    entry = outbox_of(env.app).get(entry_id)
    assert entry is not None and entry.state is OutboxState.SENT
    assert group_name(env) == "Opnieuw door Bram"


def test_the_author_retries_her_own_refused_save_and_it_is_sent_now(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry_id = make_failed(env, monkeypatch, "Meteen opnieuw")
    for odd in ("²", "1" * 19, "-1", ""):  # not an entry number: 404, never a 500
        assert env.post("/wachtrij/opnieuw", {"entry": odd}).status_code == 404, odd
    answer = env.post("/wachtrij/opnieuw", {"entry": str(entry_id)}, follow_redirects=True)
    assert answer.status_code == 200
    entry = outbox_of(env.app).get(entry_id)
    assert entry is not None and entry.state is OutboxState.SENT
    assert group_name(env) == "Meteen opnieuw"


def test_letting_a_refused_save_lapse_keeps_it_and_never_sends_it(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    before = group_name(env)
    entry_id = make_failed(env, monkeypatch, "Nooit verstuurd")
    switch(env, BRAM)
    with caplog.at_level(logging.INFO, logger="plugin.audit.outbox"):
        assert env.post("/wachtrij/laten-vervallen", {"entry": str(entry_id)}).status_code == 303
    assert f"outbox entry {entry_id} of {SANNE}: let lapse by {BRAM}" in caplog.text
    box = outbox_of(env.app)
    entry = box.get(entry_id)
    assert entry is not None and entry.state is OutboxState.DISCARDED
    assert [(e.action, e.by) for e in entry.history] == [("discard", BRAM)]
    assert box.failed_for(SANNE) == [] and [e.id for e in box.discarded_for(SANNE)] == [entry_id]
    # Kept and shown, never sent: not by the author, not by a retry (it is no longer a refused save).
    switch(env, ANNA)
    env.get("/")
    assert "Nooit verstuurd" not in group_name(env) and group_name(env) == before
    assert f"entry-{entry_id}" not in env.get("/wachtrij").get_data(as_text=True)  # no longer offered
    again = env.post("/wachtrij/opnieuw", {"entry": str(entry_id)}, follow_redirects=True)
    assert again.status_code == 200
    assert box.get(entry_id).state is OutboxState.DISCARDED  # type: ignore[union-attr]


# ---------------------------------------------------------------- a replay is a write on record


def test_a_waiting_save_sent_before_a_page_is_on_record_as_a_write(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page view that sends the author's waiting save records the view (a read) and, apart, the save it sent
    (`replay_save`, what it wrote); a save refused for good on its way is on record as refused."""
    trail: AuditTrail = env.app.extensions["audit"]

    def new_records(view: Callable[[], None]) -> dict[str, AccessRecord]:
        trail.flush()
        before = len(trail.log.records())
        view()
        trail.flush()
        added = trail.log.records()[: len(trail.log.records()) - before]
        assert len(added) == 2
        return {r.app_action: r for r in added}

    rename_while_the_ehr_is_down(env, monkeypatch, "Sannes team, later verstuurd")
    found = new_records(lambda: None if env.get("/").status_code == 200 else pytest.fail("no page"))
    view, replay = found["view_overview"], found["replay_save"]
    assert (view.action, view.outcome) == (AuditAction.READ, AuditOutcome.SUCCESS)
    assert (replay.action, replay.outcome, replay.user, replay.patient) == (
        AuditAction.UPDATE,
        AuditOutcome.SUCCESS,
        ANNA,
        SANNE,
    )
    plan = next(p for p in env.resources("CarePlan") if p.get("title") == "Sannes team, later verstuurd")
    assert f"CarePlan/{plan['id']}" in replay.entities
    assert not any(e.startswith("Provenance/") for e in replay.entities)

    rename_while_the_ehr_is_down(env, monkeypatch, "Wordt geweigerd")

    def refused(*_a: Any, **_k: Any) -> Any:
        raise BadRequest("HTTP 400 (test)", status=400)

    with monkeypatch.context() as patch:
        patch.setattr(outbox_module, "submit_rebasing", refused)
        found = new_records(lambda: None if env.get("/").status_code == 200 else pytest.fail("no page"))
    assert (found["replay_save"].outcome, found["replay_save"].entities) == (AuditOutcome.REFUSED, ())
    assert found["view_overview"].outcome is AuditOutcome.SUCCESS


def test_the_patient_is_told_a_waiting_save_is_kept_without_the_word_epd(
    env: LaunchedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch(env, SANNE)

    def down(*_a: Any, **_k: Any) -> Any:
        raise ServerUnavailable("HTTP 503 (test)", status=503)

    with monkeypatch.context() as patch:
        patch.setattr(repository_module, "submit", down)
        answer = env.post("/naam", {"name": "Mijn eigen team"})
        assert answer.status_code == 303
        page = env.get(answer.headers["Location"]).get_data(as_text=True)
    said = re.findall(r'<p class="flash flash-waiting"[^>]*>([^<]*)</p>', page)
    assert said == ["Nog niet opgeslagen. We blijven het proberen; wat je hebt ingevuld, blijft bewaard."]
    assert "EPD" not in said[0]
