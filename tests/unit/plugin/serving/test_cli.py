"""The `resourcegroep` command line: help, the gunicorn settings `serve` uses, refusals before gunicorn starts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin import cli


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """`serve` replaces the root log handlers (as it should in its own process): put pytest's back after."""
    root, werkzeug = logging.getLogger(), logging.getLogger("werkzeug")
    handlers, level, werkzeug_level = list(root.handlers), root.level, werkzeug.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    werkzeug.setLevel(werkzeug_level)


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out and "worker" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EX_USAGE
    assert "serve" in capsys.readouterr().out


def test_serve_defaults_become_gunicorn_settings() -> None:
    args = cli._parser().parse_args(["serve"])
    options = cli.gunicorn_options(args)
    assert options["bind"] == "127.0.0.1:8000"
    assert (options["workers"], options["threads"], options["worker_class"]) == (2, 8, "gthread")
    assert options["reuse_port"] is True  # each worker its own socket: connections spread over the workers
    assert (options["timeout"], options["graceful_timeout"]) == (60, 30)
    assert options["accesslog"] is None  # the app writes the access lines, without query strings
    assert options["logger_class"] == "plugin.cli.GunicornLogger"


def test_one_thread_uses_the_sync_worker_and_text_logs() -> None:
    args = cli._parser().parse_args(["serve", "--threads", "1", "--port", "9001", "--log-format", "text"])
    options = cli.gunicorn_options(args)
    assert (options["bind"], options["worker_class"]) == ("127.0.0.1:9001", "sync")
    assert options["logger_class"] == "plugin.cli.GunicornTextLogger"


def test_gunicorn_logger_classes_resolve() -> None:
    from gunicorn.glogging import Logger

    assert issubclass(cli.GunicornLogger, Logger)
    assert issubclass(cli.GunicornTextLogger, Logger)


def test_zero_workers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--workers", "0"])
    assert exit_info.value.code == 2


def test_in_memory_sessions_with_several_workers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "app.toml"
    config.write_text(
        f'[app]\npublic_base_url = "http://127.0.0.1:1"\nsecret_key = "{"k" * 40}"\n'
        "session_cookie_secure = false\nsession_cookie_samesite = 'Lax'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RESOURCEGROEP_CONFIG", str(config))  # restored after the test (serve --config sets it)
    assert cli.main(["serve", "--config", str(config), "--workers", "2"]) == cli.EX_USAGE
    assert "session_db" in capsys.readouterr().err


def test_missing_configuration_is_a_config_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESOURCEGROEP_CONFIG", raising=False)
    assert cli.main(["serve"]) == cli.EX_CONFIG
    assert "RESOURCEGROEP_CONFIG" in capsys.readouterr().err


def test_worker_is_routed_to_the_outbox_worker(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["worker", "--help"])
    assert exit_info.value.code == 0
    assert "--outbox" in capsys.readouterr().out


def test_wsgi_module_and_flask_factory_build_the_app_from_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import sys

    import plugin

    config = tmp_path / "app.toml"
    config.write_text(
        f'[app]\npublic_base_url = "http://127.0.0.1:1"\nsecret_key = "{"k" * 40}"\n'
        'session_db = "data/sessions.sqlite3"\nsession_cookie_secure = false\nsession_cookie_samesite = "Lax"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("RESOURCEGROEP_CONFIG", str(config))
    monkeypatch.delitem(sys.modules, "plugin.wsgi", raising=False)
    wsgi = importlib.import_module("plugin.wsgi")
    monkeypatch.delitem(sys.modules, "plugin.wsgi")  # built from this test's configuration: do not keep it
    assert wsgi.application.config["RESOURCEGROEP"].public_base_url == "http://127.0.0.1:1"
    assert wsgi.application.test_client().get("/healthz").status_code == 200
    assert (tmp_path / "data" / "outbox.sqlite3").exists()
    assert plugin.create_app().config["RESOURCEGROEP"].public_base_url == "http://127.0.0.1:1"
