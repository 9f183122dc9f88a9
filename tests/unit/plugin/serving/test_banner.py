"""The Server header names the product only: no server or Python version (werkzeug and gunicorn)."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import pytest
import requests
from flask import Flask

from plugin.banner import SERVER_NAME
from sandbox.demo import RunningServer
from tests.support.servers import free_port


def test_the_demo_servers_send_no_version_banner() -> None:
    app = Flask(__name__)
    app.get("/")(lambda: "ok")
    server = RunningServer(app, "127.0.0.1", free_port(), "banner-test")
    try:
        answer = requests.get(f"{server.url}/", timeout=5)
    finally:
        server.stop()
    assert answer.headers["Server"] == SERVER_NAME
    assert "Werkzeug" not in str(answer.headers) and "Python" not in str(answer.headers)


def test_the_demo_access_log_carries_no_query_strings_or_context_ids(caplog: pytest.LogCaptureFixture) -> None:
    app = Flask(__name__)
    app.add_url_rule("/callback", "callback", lambda: "ok")
    app.add_url_rule("/c/<ctx>/doelen", "goals", lambda ctx: "ok")
    server = RunningServer(app, "127.0.0.1", free_port(), "log-test")
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            requests.get(f"{server.url}/callback?code=SECRET-CODE&state=SECRET-STATE", timeout=5)
            requests.get(f"{server.url}/c/SECRET-CONTEXT/doelen?launch=SECRET-LAUNCH", timeout=5)
    finally:
        server.stop()
    logged = caplog.text
    assert '"GET /callback" 200' in logged and '"GET /c/…/doelen" 200' in logged
    assert "SECRET" not in logged


def test_wsgi_makes_gunicorn_say_the_product_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gunicorn.http.wsgi

    config = tmp_path / "app.toml"
    config.write_text(
        '[app]\npublic_base_url = "https://rg.example"\nsecret_key = "' + "s" * 40 + '"\n'
        f'session_db = "{tmp_path / "sessions.sqlite3"}"\n'
    )
    monkeypatch.setenv("RESOURCEGROEP_CONFIG", str(config))
    monkeypatch.setattr(gunicorn.http.wsgi, "SERVER", "gunicorn")  # type: ignore[attr-defined]
    sys.modules.pop("plugin.wsgi", None)
    importlib.import_module("plugin.wsgi")
    assert gunicorn.http.wsgi.SERVER == SERVER_NAME  # type: ignore[attr-defined]
