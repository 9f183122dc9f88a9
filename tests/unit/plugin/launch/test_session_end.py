"""How an app session ends (issue 13): after 30 minutes idle or 12 hours in all (both configurable), or by logging
out; and with it every launch of that browser, tokens included."""

from __future__ import annotations

import re
import time

from flask import Flask
from launch_fakes import Clock, FakeEhr, launch, make_app

from plugin.config import config_from_mapping
from plugin.session_store import CREATED, ServerSideSession, ServerSideSessionInterface
from smart_launch import MemorySessionStore


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def test_logging_out_ends_every_launch_of_the_browser(app: Flask, ehr: FakeEhr) -> None:
    browser = app.test_client()
    first = launch(app, browser, ehr, patient="p1")
    second = launch(app, browser, ehr, patient="p2")
    page = browser.get(first).get_data(as_text=True)
    assert "Uitloggen uit de app" in page and "30 minuten" in page
    store = app.extensions["smart_client"].store
    cookie = browser.get_cookie("rg_session")
    assert cookie is not None
    sid = cookie.value

    refused = browser.post("/uitloggen", data={})  # no CSRF token: nothing happens
    assert refused.status_code == 400 and browser.get(first).status_code == 200

    done = browser.post("/uitloggen", data={"csrf_token": _csrf(page)})
    assert done.status_code == 200 and "Uitgelogd" in done.get_data(as_text=True)
    assert browser.get_cookie("rg_session") is None  # the cookie is gone
    assert store.load_session(sid) is None
    assert browser.get(first).status_code == 403 and browser.get(second).status_code == 403
    context_ids = [first.split("/")[2], second.split("/")[2]]
    assert [store.get_context(c) for c in context_ids] == [None, None]  # tokens forgotten on the server


def _interface(now: list[float], idle: int = 1800, absolute: int = 43200) -> ServerSideSessionInterface:
    return ServerSideSessionInterface(MemorySessionStore(), idle=idle, absolute=absolute, clock=lambda: now[0])


def test_a_session_ends_after_the_idle_time_but_never_after_its_absolute_end() -> None:
    now = [1_000_000.0]
    interface = _interface(now)
    fresh = ServerSideSession("s", {CREATED: now[0]})
    assert interface.ends_at(fresh) == now[0] + 1800  # idle: 30 minutes from the last request
    now[0] += 43200 - 600  # 10 minutes before the absolute end, it is not extended past it
    assert interface.ends_at(fresh) == 1_000_000.0 + 43200


def test_a_session_past_its_absolute_end_is_over_with_its_launches(clock: Clock, ehr: FakeEhr) -> None:
    app = make_app(clock)
    browser = app.test_client()
    home = launch(app, browser, ehr)
    interface = app.session_interface
    assert isinstance(interface, ServerSideSessionInterface)
    store = app.extensions["smart_client"].store
    cookie = browser.get_cookie("rg_session")
    assert cookie is not None
    data = store.load_session(cookie.value)
    assert data is not None and isinstance(data[CREATED], float)
    real = time.time()
    interface.clock = lambda: real + interface.absolute + 1  # the same browser, 12 hours and a second later
    assert browser.get(home).status_code == 403
    assert store.load_session(cookie.value) is None and store.get_context(home.split("/")[2]) is None


def test_the_idle_timeout_and_lifetime_come_from_the_configuration() -> None:
    mapping = {"app": {"public_base_url": "https://app.example.org", "secret_key": "k" * 32}}
    default = config_from_mapping(mapping, env={})
    assert (default.session_idle_timeout, default.session_lifetime) == (1800, 43200)
    env = {"RESOURCEGROEP_SESSION_IDLE_TIMEOUT": "900", "RESOURCEGROEP_SESSION_LIFETIME": "28800"}
    chosen = config_from_mapping(mapping, env=env)
    assert (chosen.session_idle_timeout, chosen.session_lifetime) == (900, 28800)
