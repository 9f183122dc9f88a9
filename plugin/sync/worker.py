"""``resourcegroep-outbox-worker``: replay the outbox against the clinic's FHIR server, once or on a schedule.

Once (from cron or a systemd timer; it holds no state of its own, leases keep two runs apart):

    resourcegroep-outbox-worker --outbox var/outbox.sqlite3 --fhir-base https://ehr.example/fhir/R4 \\
        --token-provider mypackage.tokens:backend_provider --client-id resourcegroep-backend

On a schedule (a long-running service): add ``--every 60``; SIGTERM or SIGINT stops it after the round
in progress (never in the middle of a save). ``--rounds N`` stops after N rounds (tests, one-off catch-up).

``resourcegroep worker --config app.toml`` is that service with the app's own configuration: it replays the
outbox every ``--every`` seconds (default 60) and, when the TOML has a ``[backend]`` table, writes reminders
for regieondersteuners every ``--reminders-every`` seconds (default 3600; see ``plugin/reminders.py``:
a meeting due, open interviews, overdue agreements, each written once). ``--once`` runs one round and exits;
``--no-reminders`` only replays. The one-shot ``resourcegroep-outbox-worker`` writes reminders only with
``--reminders``.

With ``--config`` (or RESOURCEGROEP_CONFIG) the app's own TOML gives the outbox path (the same persistent
default as the app) and, when it has a ``[backend]`` table, the Backend Services token and client id.

Every save in the outbox names the FHIR server it belongs to (the launch's ``iss``); the worker sends it only
there. A save of a Koppeltaal domain (``[[koppeltaal]]`` with that ``iss``) goes with that domain's own Backend
Services client (its client id, key and scopes; the domain's Device in the Provenance); any other save with
the ``--fhir-base`` client (``[backend]``). A save of a server the worker has no client for waits (it is
counted as held, not as an attempt) until a worker configured for that server replays it.

Every save the worker sends, or the EHR refuses for good, leaves an access record (app action
``replay_save``: the save's author through the worker's client id, the patient, what was written) in the
local audit log the app writes too; so does each group a reminder round reads and each reminder it writes (app
action ``send_reminders``, the app itself as the user: see ``plugin/reminders.py``). A worker that cannot write
that log does not start.

The worker replays every author's waiting saves with the Backend Services token. Each save's Provenance
keeps its author as the first agent and names the app as a second agent of type ``assembler``: the
``--device`` reference (``Device/<id>``) when given, else a logical reference by the client id
(identifier system ``urn:resourcegroep:client-id``).

Options (each also from the environment):
  --config PATH            RESOURCEGROEP_CONFIG        the app's TOML configuration (outbox path, [backend])
  --outbox PATH            RESOURCEGROEP_OUTBOX        the SQLite outbox file
  --fhir-base URL          RESOURCEGROEP_FHIR_BASE     the FHIR base URL the saves belong to
  --token-provider MOD:FN  RESOURCEGROEP_TOKEN_PROVIDER a zero-argument callable returning a TokenProvider
                                                       (e.g. wrap smart_launch.BackendServicesClient in
                                                       :class:`BackendTokenProvider`)
  (else)                   RESOURCEGROEP_FHIR_TOKEN    a fixed bearer token (for now / for tests)
  --client-id ID           RESOURCEGROEP_WORKER_CLIENT_ID the app's Backend Services client id (Provenance agent;
                                                         default: [backend] client_id, else "resourcegroep")
  --device REF             RESOURCEGROEP_WORKER_DEVICE    a Device reference for the app (Provenance agent)
  --patient ID             only this patient's entries
  --audit-log PATH         RESOURCEGROEP_AUDIT_LOG_FILE   the local audit log (default: [audit] log_file, else
                                                         audit/audit.jsonl beside the outbox, as the app's)
  --no-token               no Authorization header (local test servers only)
  --every SECONDS          replay every SECONDS until stopped (SIGTERM/SIGINT: graceful)
  --rounds N               with --every: stop after N rounds
  --once                   one round, then exit (``resourcegroep worker`` loops by default)
  --reminders / --no-reminders  write reminders (default: on for ``resourcegroep worker`` with [backend])
  --reminders-every SECONDS  at most one reminder round per SECONDS (default 3600)

Exit codes (one-shot, and of the last round with --every): 0 all due entries got a final answer; 1 some
failed permanently (they stay visible); 75 (EX_TEMPFAIL) stopped by an outage or a refused token, entries
still pending; 2 usage error. A loop stopped by a signal exits 0.
The token is never printed or logged.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from fhir_mappings.audit import REPLAY_SAVE, ROLE_UNKNOWN, AccessRecord, AuditAction, AuditOutcome, AuditValueError
from fhir_mappings.refs import FHIR_ID
from plugin.audit.trail import AccessLog
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient, StaticTokenProvider, TokenProvider
from plugin.sync.errors import Unauthorized
from plugin.sync.outbox import Outbox, OutboxEntry, ReplayAgent, SqliteOutbox, replay
from plugin.sync.transaction import TransactionResult
from smart_launch import BackendServicesClient, ConfigurationError, KoppeltaalDomain
from smart_launch.errors import SmartLaunchError

EX_OK = 0
EX_FAILED = 1
EX_USAGE = 2
EX_TEMPFAIL = 75
DEFAULT_CLIENT_ID = "resourcegroep"  # names the app in the Provenance when no client id or Device is given
SERVICE_EVERY = 60.0  # ``resourcegroep worker``: seconds between outbox rounds
REMINDERS_EVERY = 3600.0  # seconds between reminder rounds (each reads every open group)

log = logging.getLogger("plugin.sync.worker")


class BackendTokenProvider:
    """A :class:`TokenProvider` on SMART Backend Services (``system/`` scopes): refresh = fetch a new token."""

    def __init__(self, client: BackendServicesClient) -> None:
        self._client = client

    def __call__(self) -> str:
        return self._token()

    def refresh(self) -> str:
        self._client.invalidate()
        return self._token()

    def _token(self) -> str:
        # A token endpoint that refuses or cannot be reached stops the round like a refused token (exit 75),
        # instead of ending the worker with a traceback.
        try:
            return self._client.token().access_token
        except SmartLaunchError as exc:
            raise Unauthorized(f"Backend Services token: {exc}") from exc


class ServerClients:
    """The worker's FHIR clients by server: the ``--fhir-base`` one (``[backend]``) and one per Koppeltaal domain
    (that domain's Backend Services client). An outbox entry goes only to the server it names."""

    def __init__(self, default: FhirClient | None, agent: ReplayAgent) -> None:
        self.default = default
        self._agent = agent
        self._by_base: dict[str, tuple[FhirClient, ReplayAgent]] = {}
        if default is not None:
            self._by_base[_base(default.base_url)] = (default, agent)

    def add_domain(
        self, domain: KoppeltaalDomain, *, no_token: bool = False, connect_timeout: float, read_timeout: float
    ) -> None:
        """Replay the saves of ``domain`` with its own Backend Services client (its Device in the Provenance)."""
        provider = None if no_token else BackendTokenProvider(BackendServicesClient(domain.backend_registration()))
        client = FhirClient(
            domain.iss,
            provider,
            scope_context="system",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._by_base[_base(domain.iss)] = (client, ReplayAgent(client_id=domain.client_id, device=domain.device))

    def any(self) -> FhirClient:
        """Some client (replay's fallback argument; every entry still goes through ``client_for``)."""
        return next(iter(self._by_base.values()))[0]

    def client_for(self, entry: OutboxEntry) -> FhirClient | None:
        """The client of the entry's server; the default one for entries that name no server."""
        if entry.server is None:
            return self.default
        found = self._by_base.get(_base(entry.server))
        return found[0] if found is not None else None

    def agent_for(self, entry: OutboxEntry) -> ReplayAgent:
        """The app as the entry's server knows it (a Koppeltaal domain: its client id and Device)."""
        found = self._by_base.get(_base(entry.server)) if entry.server is not None else None
        return found[1] if found is not None else self._agent

    def request_count(self) -> int:
        return sum(c.request_count for c, _ in self._by_base.values())


def _base(url: str) -> str:
    return url.rstrip("/")


def load_token_provider(spec: str) -> TokenProvider:
    """``package.module:factory`` -> the TokenProvider the factory returns."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"token provider must look like 'package.module:factory', not {spec!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    provider = factory()
    if not callable(provider) or not callable(getattr(provider, "refresh", None)):
        raise TypeError(f"{spec} did not return a TokenProvider (callable with a refresh() method)")
    checked: TokenProvider = provider  # the factory's result is Any; the checks above are what a TokenProvider needs
    return checked


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resourcegroep-outbox-worker",
        description="Replay saves that wait in the outbox to the clinic's FHIR server, then exit.",
    )
    parser.add_argument("--config", default=os.environ.get("RESOURCEGROEP_CONFIG"), help="the app's TOML file")
    parser.add_argument("--outbox", default=os.environ.get("RESOURCEGROEP_OUTBOX"), help="SQLite outbox file")
    parser.add_argument("--fhir-base", default=os.environ.get("RESOURCEGROEP_FHIR_BASE"), help="FHIR base URL")
    parser.add_argument(
        "--token-provider",
        default=os.environ.get("RESOURCEGROEP_TOKEN_PROVIDER"),
        help="package.module:factory returning a TokenProvider (default: RESOURCEGROEP_FHIR_TOKEN)",
    )
    parser.add_argument("--no-token", action="store_true", help="send no Authorization header (test servers)")
    parser.add_argument("--patient", help="replay only this patient's entries")
    parser.add_argument(
        "--audit-log",
        default=os.environ.get("RESOURCEGROEP_AUDIT_LOG_FILE"),
        help="the local audit log (default: [audit] log_file, else audit/audit.jsonl beside the outbox)",
    )
    parser.add_argument(
        "--client-id",
        default=os.environ.get("RESOURCEGROEP_WORKER_CLIENT_ID"),
        help="the app's client id, named in the Provenance as the one that replayed the save",
    )
    parser.add_argument(
        "--device",
        default=os.environ.get("RESOURCEGROEP_WORKER_DEVICE"),
        help="Device/<id> of the app, named in the Provenance instead of the client id",
    )
    parser.add_argument("--every", type=float, help="replay every SECONDS until stopped (SIGTERM/SIGINT)")
    parser.add_argument("--rounds", type=int, help="with --every: stop after this many rounds")
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument(
        "--reminders",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write reminders for regieondersteuners (default: on for 'resourcegroep worker' with [backend])",
    )
    parser.add_argument(
        "--reminders-every",
        type=float,
        default=REMINDERS_EVERY,
        help=f"seconds between reminder rounds (default {REMINDERS_EVERY:g})",
    )
    parser.add_argument("--connect-timeout", type=float, default=3.0)
    parser.add_argument("--read-timeout", type=float, default=15.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


class StopFlag:
    """Set by SIGTERM/SIGINT: the loop finishes the round in progress and exits (no save is cut off)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        log.warning("outbox worker: signal %d, stopping after this round", signum)
        self.event.set()


def run_loop(
    round_: Callable[[], int], every: float, *, rounds: int | None = None, stop: threading.Event | None = None
) -> tuple[int, int]:
    """Run ``round_`` every ``every`` seconds until ``stop`` is set or ``rounds`` rounds ran.

    Returns (rounds run, exit code of the last round; 0 when stopped before any)."""
    stop = stop or threading.Event()
    done, code = 0, EX_OK
    while not stop.is_set() and (rounds is None or done < rounds):
        code = round_()
        done += 1
        if rounds is not None and done >= rounds:
            break
        stop.wait(every)
    return done, code


def _from_config(args: argparse.Namespace) -> str | None:
    """Fill the outbox path, token provider and client id from the app's TOML; an error text, else None."""
    from plugin.config import load_config  # the app's config (Flask-free), only when asked for

    try:
        config = load_config(args.config)
    except ConfigurationError as exc:
        return str(exc)
    outbox_given = bool(args.outbox)
    args.outbox = args.outbox or config.outbox_db
    args.audit_log = args.audit_log or config.audit.log_file
    args.audit_rotation = {"max_bytes": config.audit.max_bytes, "backups": config.audit.backups}
    if config.redis_url and not outbox_given:
        # Several instances share Redis: the worker replays the same outbox the app parks saves in.
        from plugin.stores import stores_from_config

        args.stores = stores_from_config(config)
    args.domains = config.koppeltaal
    if config.backend is not None:
        args.has_backend = True
        args.client_id = args.client_id or config.backend.client_id
        args.fhir_base = args.fhir_base or config.backend.iss
        if not args.token_provider and not args.no_token and not os.environ.get("RESOURCEGROEP_FHIR_TOKEN"):
            args.backend_provider = BackendTokenProvider(BackendServicesClient(config.backend))
    return None


def reminder_round(
    client: FhirClient, outbox: Outbox, agent: ReplayAgent, capabilities: CapabilityCache, access_log: AccessLog
) -> int:
    """One round of reminders (plugin/reminders.py), each read and write on record in `access_log`; prints one
    line and returns its exit code."""
    from plugin.reminders import send_reminders

    def record(records: Sequence[AccessRecord]) -> None:
        try:
            access_log.append(records)
        except OSError:
            log.exception("reminders: an access record could not be written")

    before = client.request_count
    report = send_reminders(
        client, outbox, client_id=agent.client_id, device=agent.device, record=record, capabilities=capabilities
    )
    print(
        f"reminders: {report.groups} group(s) read, {len(report.written)} written, "
        f"{len(report.existing)} already in the record, {len(report.failed)} group(s) failed"
        + (f", stopped ({report.stopped.split(':', 1)[0]})" if report.stopped else "")
        + f", {client.request_count - before} request(s)",
        flush=True,
    )
    if report.stopped:
        return EX_TEMPFAIL
    return EX_FAILED if report.failed else EX_OK


def audit_log_for(outbox: str, log_file: str | None = None, **rotation: int) -> AccessLog:
    """The local audit log the worker writes to: ``log_file`` (``[audit] log_file``, ``--audit-log``), else
    ``audit/audit.jsonl`` beside the outbox file, the app's own default, so app and worker keep one log."""
    path = Path(log_file) if log_file else Path(outbox).parent / "audit" / "audit.jsonl"
    return AccessLog(path, **rotation)


class ReplayRecorder:
    """Writes the access record of each save the worker sent (success, with what it wrote) or the EHR refused for
    good (refused, nothing written) as it happens: the save's author, acting through the worker's client id, on
    the save's patient. A save left waiting (an outage, a refused token) has none yet: it gets one when it is
    sent. A record that cannot be made or written is logged as an error (the save itself is in the EHR)."""

    def __init__(self, access_log: AccessLog, client_id_for: Callable[[OutboxEntry], str]) -> None:
        self.access_log = access_log
        self.client_id_for = client_id_for

    def __call__(self, entry: OutboxEntry, result: TransactionResult | None) -> None:
        try:
            record = AccessRecord(
                id=str(uuid.uuid4()),
                recorded=datetime.now(UTC),
                action=AuditAction.UPDATE,
                app_action=REPLAY_SAVE,
                outcome=AuditOutcome.SUCCESS if result is not None else AuditOutcome.REFUSED,
                user=entry.user,
                role=ROLE_UNKNOWN,
                patient=entry.patient,
                entities=tuple(w.reference for w in result.written) if result is not None else (),
                client_id=self.client_id_for(entry),
            )
            self.access_log.append([record])
        except (AuditValueError, OSError):
            log.exception("outbox entry %d: the access record of its replay could not be written", entry.id)


def _worst(first: int, second: int) -> int:
    """The exit code that tells most: an outage (retry later) over a permanent failure over success."""
    order = (EX_OK, EX_FAILED, EX_TEMPFAIL)
    return max(first, second, key=lambda c: order.index(c) if c in order else len(order))


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None, service: bool = False) -> int:
    """Entry point of the console script; returns the exit code. ``stop`` ends a loop (tests; else signals).

    ``service`` (``resourcegroep worker``): loop every SERVICE_EVERY seconds unless ``--once``/``--every``, and
    write reminders when the configuration has a ``[backend]`` table unless ``--no-reminders``."""
    parser = _parser()
    if service:
        parser.prog = "resourcegroep worker"
        parser.description = (
            "The background worker: replays saves waiting in the outbox every minute and writes reminders for "
            "regieondersteuners (with [backend]), until SIGTERM. Configuration: the app's TOML (--config)."
        )
    args = parser.parse_args(argv)
    args.backend_provider = None
    args.has_backend = False
    args.audit_rotation = {}
    args.domains = ()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.config and (problem := _from_config(args)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EX_USAGE
    if not args.outbox or not (args.fhir_base or args.domains):
        parser.print_usage(sys.stderr)
        print("error: --outbox and --fhir-base are required (or RESOURCEGROEP_OUTBOX/_FHIR_BASE)", file=sys.stderr)
        return EX_USAGE
    if (args.every is not None and args.every <= 0) or (args.rounds is not None and args.rounds < 1):
        print("error: --every must be more than 0 seconds and --rounds at least 1", file=sys.stderr)
        return EX_USAGE
    if args.reminders_every <= 0:
        print("error: --reminders-every must be more than 0 seconds", file=sys.stderr)
        return EX_USAGE
    if args.device and not re.fullmatch(rf"Device/{FHIR_ID}", args.device):
        print("error: --device must be a Device reference: Device/<id>", file=sys.stderr)
        return EX_USAGE
    if args.once and (args.every is not None or args.rounds is not None):
        print("error: --once runs one round; leave out --every and --rounds", file=sys.stderr)
        return EX_USAGE
    if service and args.every is None and not args.once:
        args.every = SERVICE_EVERY
    if args.reminders is None:
        args.reminders = service and args.has_backend
    provider: TokenProvider | None
    if args.no_token:
        provider = None
    elif args.token_provider:
        try:
            provider = load_token_provider(args.token_provider)
        except (ImportError, AttributeError, TypeError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EX_USAGE
    elif os.environ.get("RESOURCEGROEP_FHIR_TOKEN"):
        provider = StaticTokenProvider(os.environ["RESOURCEGROEP_FHIR_TOKEN"])
    elif args.backend_provider is not None:
        provider = args.backend_provider
    elif not args.fhir_base:
        provider = None  # only Koppeltaal domains: each has its own Backend Services client
    else:
        print("error: give --token-provider, RESOURCEGROEP_FHIR_TOKEN or --no-token", file=sys.stderr)
        return EX_USAGE
    if not args.client_id and not args.device:
        log.warning("no --client-id or --device: the Provenance names the app as %r", DEFAULT_CLIENT_ID)
    agent = ReplayAgent(client_id=args.client_id or DEFAULT_CLIENT_ID, device=args.device)
    client = (
        FhirClient(
            args.fhir_base,
            provider,
            scope_context="system",
            connect_timeout=args.connect_timeout,
            read_timeout=args.read_timeout,
        )
        if args.fhir_base
        else None
    )
    servers = ServerClients(client, agent)
    for domain in args.domains:
        servers.add_domain(
            domain, no_token=args.no_token, connect_timeout=args.connect_timeout, read_timeout=args.read_timeout
        )
    stores = getattr(args, "stores", None)
    outbox: Outbox = stores.outbox if stores is not None else SqliteOutbox(args.outbox)
    capabilities = stores.capabilities if stores is not None else CapabilityCache()
    reminders_due_at = [0.0]  # monotonic time of the next reminder round
    try:  # as the app: no saves sent without their access records
        access_log = audit_log_for(args.outbox, args.audit_log, **args.audit_rotation)
        access_log.check_writable()
    except OSError as exc:
        print(f"error: the audit log cannot be written ({exc.strerror or exc})", file=sys.stderr)
        return EX_USAGE
    recorder = ReplayRecorder(access_log, lambda entry: servers.agent_for(entry).client_id)

    def one_round() -> int:
        before = servers.request_count()
        report = replay(
            outbox,
            servers.default or servers.any(),
            patient=args.patient,
            replayed_by=servers.agent_for,
            client_for=servers.client_for,
            on_done=recorder,
        )
        print(
            f"outbox replay: {len(report.sent)} sent, {len(report.failed)} failed permanently"
            + (f", {len(report.held)} waiting for another server" if report.held else "")
            + (f", stopped ({report.stopped.split(':', 1)[0]})" if report.stopped else "")
            + f", {servers.request_count() - before} request(s)",
            flush=True,
        )
        code = EX_TEMPFAIL if report.stopped else EX_FAILED if report.failed else EX_OK
        if args.reminders and client is not None and time.monotonic() >= reminders_due_at[0]:
            reminders_due_at[0] = time.monotonic() + args.reminders_every
            code = _worst(code, reminder_round(client, outbox, agent, capabilities, access_log))
        return code

    if args.every is None:
        return one_round()
    if stop is None:
        flag = StopFlag()
        signal.signal(signal.SIGTERM, flag)
        signal.signal(signal.SIGINT, flag)
        stop = flag.event
    rounds, code = run_loop(one_round, args.every, rounds=args.rounds, stop=stop)
    log.info("outbox worker: stopped after %d round(s)", rounds)
    return EX_OK if stop.is_set() else code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
