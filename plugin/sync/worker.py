"""``resourcegroep-outbox-worker``: replay the outbox once against the clinic's FHIR server, then exit.

Run it from cron or a systemd timer (it holds no state of its own; leases keep two runs apart):

    resourcegroep-outbox-worker --outbox var/outbox.sqlite --fhir-base https://ehr.example/fhir/R4 \\
        --token-provider mypackage.tokens:backend_provider

Options (each also from the environment):
  --outbox PATH            RESOURCEGROEP_OUTBOX        the SQLite outbox file
  --fhir-base URL          RESOURCEGROEP_FHIR_BASE     the FHIR base URL the saves belong to
  --token-provider MOD:FN  RESOURCEGROEP_TOKEN_PROVIDER a zero-argument callable returning a TokenProvider
                                                       (e.g. wrap smart_launch.BackendServicesClient in
                                                       :class:`BackendTokenProvider`)
  (else)                   RESOURCEGROEP_FHIR_TOKEN    a fixed bearer token (for now / for tests)
  --patient ID             only this patient's entries
  --no-token               no Authorization header (local test servers only)

Exit codes: 0 all due entries got a final answer; 1 some failed permanently (they stay visible);
75 (EX_TEMPFAIL) stopped by an outage or a refused token, entries still pending; 2 usage error.
The token is never printed or logged.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from plugin.sync.client import FhirClient, StaticTokenProvider, TokenProvider
from plugin.sync.outbox import SqliteOutbox, replay
from smart_launch import BackendServicesClient

EX_OK = 0
EX_FAILED = 1
EX_USAGE = 2
EX_TEMPFAIL = 75

log = logging.getLogger("plugin.sync.worker")


class BackendTokenProvider:
    """A :class:`TokenProvider` on SMART Backend Services (``system/`` scopes): refresh = fetch a new token."""

    def __init__(self, client: BackendServicesClient) -> None:
        self._client = client

    def __call__(self) -> str:
        return self._client.token().access_token

    def refresh(self) -> str:
        self._client.invalidate()
        return self._client.token().access_token


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
    parser.add_argument("--outbox", default=os.environ.get("RESOURCEGROEP_OUTBOX"), help="SQLite outbox file")
    parser.add_argument("--fhir-base", default=os.environ.get("RESOURCEGROEP_FHIR_BASE"), help="FHIR base URL")
    parser.add_argument(
        "--token-provider",
        default=os.environ.get("RESOURCEGROEP_TOKEN_PROVIDER"),
        help="package.module:factory returning a TokenProvider (default: RESOURCEGROEP_FHIR_TOKEN)",
    )
    parser.add_argument("--no-token", action="store_true", help="send no Authorization header (test servers)")
    parser.add_argument("--patient", help="replay only this patient's entries")
    parser.add_argument("--connect-timeout", type=float, default=3.0)
    parser.add_argument("--read-timeout", type=float, default=15.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.outbox or not args.fhir_base:
        parser.print_usage(sys.stderr)
        print("error: --outbox and --fhir-base are required (or RESOURCEGROEP_OUTBOX/_FHIR_BASE)", file=sys.stderr)
        return EX_USAGE
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
    else:
        print("error: give --token-provider, RESOURCEGROEP_FHIR_TOKEN or --no-token", file=sys.stderr)
        return EX_USAGE
    client = FhirClient(
        args.fhir_base,
        provider,
        scope_context="system",
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
    )
    report = replay(SqliteOutbox(args.outbox), client, patient=args.patient)
    print(
        f"outbox replay: {len(report.sent)} sent, {len(report.failed)} failed permanently"
        + (f", stopped ({report.stopped.split(':', 1)[0]})" if report.stopped else "")
        + f", {client.request_count} request(s)"
    )
    if report.stopped:
        return EX_TEMPFAIL
    return EX_FAILED if report.failed else EX_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
