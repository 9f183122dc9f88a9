"""The ``resourcegroep`` command.

  resourcegroep serve [--config FILE] [--host 127.0.0.1] [--port 8000] [--workers 2] [--threads 8]
                      [--timeout 60] [--graceful-timeout 30] [--log-format json|text]
  resourcegroep worker --config FILE [--once] [--every 60] [--no-reminders] ...
                      the background worker: outbox replay on a schedule and reminders for regieondersteuners
                      (see ``resourcegroep worker --help`` and plugin/sync/worker.py)
  resourcegroep doctor --iss URL [--token TOKEN]
                      what of the app will work at that EHR (see plugin/doctor.py); exit 1 when it cannot work

``serve`` runs gunicorn with the app built from RESOURCEGROEP_CONFIG (or ``--config``). SIGTERM stops it gracefully:
no new connections, running requests get ``--graceful-timeout`` seconds to finish, then the process exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from plugin.config import CONFIG_ENV, AppConfig, load_config
from plugin.logs import configure_logging, make_formatter
from smart_launch import ConfigurationError

EX_USAGE = 2
EX_CONFIG = 78  # sysexits EX_CONFIG

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 8  # measured with bench/bench_load.py on 2 cores: 4 left CPU idle while pages waited on the EHR
DEFAULT_TIMEOUT = 60  # seconds a request may take (FHIR calls to a slow EHR included) before its worker is restarted
DEFAULT_GRACEFUL_TIMEOUT = 30  # seconds running requests get to finish after SIGTERM


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resourcegroep",
        description="Resourcegroep: SMART on FHIR app. Configuration: the TOML file named by "
        f"{CONFIG_ENV} (see docs/configuration.md).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the app with gunicorn (production server)",
        description="Run the app with gunicorn. SIGTERM stops it gracefully: running requests may finish.",
    )
    serve.add_argument("--config", help=f"configuration TOML file (default: ${CONFIG_ENV})")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--workers", type=_positive, default=DEFAULT_WORKERS, help=f"worker processes (default {DEFAULT_WORKERS})"
    )
    serve.add_argument(
        "--threads", type=_positive, default=DEFAULT_THREADS, help=f"threads per worker (default {DEFAULT_THREADS})"
    )
    serve.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        help=f"seconds a request may take before its worker is restarted (default {DEFAULT_TIMEOUT})",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=_positive,
        default=DEFAULT_GRACEFUL_TIMEOUT,
        help=f"seconds running requests get to finish after SIGTERM (default {DEFAULT_GRACEFUL_TIMEOUT})",
    )
    serve.add_argument(
        "--log-format", choices=("json", "text"), default="json", help="log lines as JSON (default) or text"
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    sub.add_parser(
        "worker",
        help="run the background worker: outbox replay and reminders (see resourcegroep worker --help)",
        add_help=False,
    )
    sub.add_parser("doctor", help="check an EHR: which features will work there (see resourcegroep doctor --help)")
    return parser


def gunicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """The gunicorn settings for the ``serve`` arguments."""
    return {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread" if args.threads > 1 else "sync",
        "timeout": args.timeout,
        "graceful_timeout": args.graceful_timeout,
        "keepalive": 5,
        # Each worker listens on its own socket (SO_REUSEPORT): the kernel spreads new connections over the
        # workers. With one shared socket, long-lived keep-alive connections (a proxy's, busy browsers') pile up
        # in whichever worker accepted first, and one core does the work of two (bench/bench_load.py).
        "reuse_port": True,
        "accesslog": None,  # the app writes its own access lines (with request id, without query strings)
        "errorlog": "-",
        "loglevel": args.log_level,
        "logger_class": "plugin.cli.GunicornLogger" if args.log_format == "json" else "plugin.cli.GunicornTextLogger",
        "proc_name": "resourcegroep",
        # gunicorn 24+ opens a control socket in ~/.gunicorn by default; a server does not need it (and several
        # instances on one host would share the path).
        "control_socket_disable": True,
    }


def _gunicorn_logger(fmt: str) -> type:
    from gunicorn.glogging import Logger  # type: ignore[import-untyped]

    class _Logger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(make_formatter(fmt))

    return _Logger


def __getattr__(name: str) -> type:
    # gunicorn imports its logger class by dotted name; built lazily so that importing this module needs no gunicorn.
    if name == "GunicornLogger":
        return _gunicorn_logger("json")
    if name == "GunicornTextLogger":
        return _gunicorn_logger("text")
    raise AttributeError(name)


def _serve(args: argparse.Namespace) -> int:
    if args.config:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
    configure_logging(args.log_format, args.log_level.upper())
    try:
        config = load_config()  # fail here, once, with a clear message, not in every worker
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_CONFIG
    if config.session_db is None and args.workers > 1:
        print(
            "error: sessions are kept in memory (no session_db): use --workers 1 or set [app] session_db",
            file=sys.stderr,
        )
        return EX_USAGE
    run_gunicorn(config, gunicorn_options(args))
    return 0


def run_gunicorn(config: AppConfig, options: dict[str, Any]) -> None:
    """Run gunicorn in this process until it is stopped (SIGTERM/SIGINT: graceful, then exit)."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # settings newer than the installed gunicorn are left out
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from plugin.app import create_app

            return create_app(config)

    from plugin.banner import hide_gunicorn_banner

    hide_gunicorn_banner()
    Server().run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resourcegroep`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        from plugin.sync.worker import main as worker_main

        return worker_main(argv[1:], service=True)
    if argv[:1] == ["doctor"]:
        from plugin.doctor import main as doctor_main

        return doctor_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    parser.print_help()
    return EX_USAGE


if __name__ == "__main__":
    sys.exit(main())
