"""`python -m sandbox.demo` (`./dev demo`): the sandbox EPD and the Resourcegroep app, with demo data.

Starts two servers on 127.0.0.1 (sandbox on port 8400, app on port 8401 by default), writes the app's
TOML configuration and signing key into the data folder (`var/demo/`), registers the app as a client
of the sandbox, seeds the demo data on the first run and prints the one URL to open. Ctrl-C (or
SIGTERM) stops both servers; the exit code is then 0.

By default a second run KEEPS the data in `var/demo/` (the FHIR store is a SQLite file there);
`--fresh` throws it away first and starts again from the demo data.

This module is the composition root of the demo: it is the only sandbox module that imports the app.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import signal
import sys
import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from plugin.banner import QuietRequestHandler
from sandbox.app import Sandbox, SandboxSettings, create_sandbox
from smart_launch.files import write_private

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT / "var" / "demo"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_SANDBOX_PORT = 8400
DEFAULT_APP_PORT = 8401
EHR_NAME = "sandbox-epd"
EHR_TITLE = "Sandbox-EPD (demo)"


class RunningServer:
    """A werkzeug server (threaded) serving one Flask app in a background thread."""

    def __init__(self, app: Flask, host: str, port: int, name: str) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
        self.url = f"http://{host}:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop accepting requests, wait for the serving thread and close the socket."""
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


def write_private_key(path: Path) -> None:
    """Write a new RSA key (PEM, readable by the owner only) for the app's private_key_jwt (RS384)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(path, pem)


def app_config_mapping(
    *,
    app_base_url: str,
    sandbox: SandboxSettings,
    secret_key: str,
    private_key_file: str,
    session_db: str | None,
    outbox_db: str | None = None,
) -> dict[str, Any]:
    """The app's configuration (TOML-shaped) for running behind this sandbox over plain http."""
    app: dict[str, Any] = {
        "public_base_url": app_base_url,
        "secret_key": secret_key,
        # Plain http on loopback: no Secure cookies; the sandbox and the app are same-site (127.0.0.1).
        "session_cookie_secure": False,
        "session_cookie_samesite": "Lax",
        "frame_ancestors": ["'self'", sandbox.base],
        "discovery_ttl": 60,
    }
    if session_db:
        app["session_db"] = session_db
    if outbox_db:
        app["outbox_db"] = outbox_db
    if sandbox.koppeltaal:
        # Koppeltaal mode: the sandbox is a Koppeltaal domain; its portal signs the HTI tokens.
        domain = {
            "name": "sandbox-koppeltaal",
            "title": EHR_TITLE,
            "iss": sandbox.fhir_base_url,
            "client_id": sandbox.client_id,
            "private_key_file": private_key_file,
            "alg": "RS384",
            "launcher_jwks": {"sandbox-portal": sandbox.portal_jwks_url},
        }
        return {"app": app, "koppeltaal": [domain]}
    # The sandbox EPD's patient page launches the app for that patient (the caseload links to it).
    app["ehr_patient_url"] = f"{sandbox.base}/epd/patients/{{patient_id}}/app"
    return {
        "app": app,
        "ehr": [
            {
                "name": EHR_NAME,
                "title": EHR_TITLE,
                "iss": sandbox.fhir_base_url,
                "client_id": sandbox.client_id,
                "client_auth": "private_key_jwt",
                "private_key_file": private_key_file,
                "alg": "RS384",
                "caseload_user_scopes": True,
            }
        ],
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def to_toml(mapping: dict[str, Any]) -> str:
    """The app configuration as TOML text (tables and arrays of tables of simple values only)."""
    lines = ["# Written by `python -m sandbox.demo`; rewritten on every start.", ""]
    for table, body in mapping.items():
        for item in body if isinstance(body, list) else [body]:
            lines.append(f"[[{table}]]" if isinstance(body, list) else f"[{table}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in item.items()]
            lines.append("")
    text = "\n".join(lines)
    tomllib.loads(text)  # what we write must read back
    return text


@dataclass(frozen=True)
class DemoSetup:
    """Everything prepared in the data folder for one demo run."""

    sandbox: SandboxSettings
    app_base_url: str
    config_file: Path
    data_dir: Path


def _secret(path: Path) -> str:
    """A secret kept in the data folder, so a kept demo survives a restart (browser sessions included)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(48)
    write_private(path, (value + "\n").encode("utf-8"))
    return value


def prepare(
    data_dir: Path, *, fresh: bool, host: str, sandbox_port: int, app_port: int, koppeltaal: bool = False
) -> DemoSetup:
    """Create (or reuse) the data folder: the app's TOML config, its key, secrets and the database path."""
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "app-signing-key.pem"
    if not key_file.exists():
        write_private_key(key_file)
    sandbox = SandboxSettings(
        base_url=f"http://{host}:{sandbox_port}",
        app_base_url=f"http://{host}:{app_port}",
        secret_key=_secret(data_dir / "sandbox-secret"),
        database=str(data_dir / "sandbox-fhir.sqlite3"),
        koppeltaal=koppeltaal,
    )
    app_base_url = f"http://{host}:{app_port}"
    mapping = app_config_mapping(
        app_base_url=app_base_url,
        sandbox=sandbox,
        secret_key=_secret(data_dir / "app-secret"),
        private_key_file=key_file.name,  # relative to the TOML file's folder
        session_db="app-sessions.sqlite3",
        outbox_db="app-outbox.sqlite3",
    )
    config_file = data_dir / "resourcegroep.toml"
    config_file.write_text(to_toml(mapping), encoding="utf-8")
    return DemoSetup(sandbox=sandbox, app_base_url=app_base_url, config_file=config_file, data_dir=data_dir)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.demo",
        description="Start the sandbox EPD and the Resourcegroep app with demo data (Ctrl-C stops both).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--keep", dest="fresh", action="store_false", help="keep the data of a previous run (default)")
    mode.add_argument("--fresh", dest="fresh", action="store_true", help="throw away the previous data and start again")
    parser.set_defaults(fresh=False)
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--sandbox-port", type=int, default=DEFAULT_SANDBOX_PORT, help="sandbox EPD port (8400)")
    parser.add_argument("--app-port", type=int, default=DEFAULT_APP_PORT, help="Resourcegroep app port (8401)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="data folder (default var/demo)")
    parser.add_argument(
        "--koppeltaal",
        action="store_true",
        help="Koppeltaal 2.0 mode: the EPD and portal launch the app with signed HTI tokens (POST /launch)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C or SIGTERM; 0 on a clean stop."""
    args = _parse(argv)
    if args.sandbox_port == args.app_port:
        print("The sandbox and the app need two different ports.", file=sys.stderr)
        return 2
    setup = prepare(
        args.data_dir.resolve(),
        fresh=args.fresh,
        host=args.host,
        sandbox_port=args.sandbox_port,
        app_port=args.app_port,
        koppeltaal=args.koppeltaal,
    )
    # The composition root is the one place that knows both sides; the sandbox package never imports the app.
    from plugin.app import create_app
    from plugin.config import load_config

    sandbox: Sandbox = create_sandbox(setup.sandbox)
    if sandbox.has_demo_data():
        print(f"Demo data kept from an earlier run ({setup.data_dir}); use --fresh to start again.")
    else:
        count = sandbox.seed_demo_data()
        print(f"Demo data written: {count} FHIR resources.")
    app = create_app(load_config(setup.config_file))

    servers: list[RunningServer] = []
    try:
        servers.append(RunningServer(sandbox.app, args.host, args.sandbox_port, "sandbox-epd"))
        servers.append(RunningServer(app, args.host, args.app_port, "resourcegroep-app"))
    except OSError as exc:
        for server in servers:
            server.stop()
        sandbox.close()
        print(
            f"Cannot listen on {args.host}: {exc.strerror}. Choose other ports with --sandbox-port/--app-port.",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(f"Sandbox EPD: {setup.sandbox.base}   app: {setup.app_base_url}   data: {setup.data_dir}")
    print("Open this URL and log in as a care professional:")
    print(f"    {setup.sandbox.epd_url}", flush=True)
    print("Stop with Ctrl-C.", flush=True)
    while not stop.wait(0.5):
        pass
    print("Stopping ...", flush=True)
    for server in reversed(servers):
        server.stop()
    sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
