"""``resourcegroep doctor --iss URL``: will the app work at this EHR? One line per product feature.

It reads the EHR's ``.well-known/smart-configuration`` (else the SMART ``oauth-uris`` in its CapabilityStatement)
and ``/metadata``, and judges them with the app's own logic: :class:`plugin.sync.capabilities.ServerCapabilities`
(the same parse the app uses), ``choose_load_strategy`` (how a group will be loaded), the transaction/sequential
choice of ``plugin.sync.transaction.submit`` (how a save will be sent), and the resource types and scopes of
``smart_launch.scopes``. Nothing is written to the EHR. With ``--token`` (a bearer token for that EHR) undeclared
``_include``/``_revinclude`` support is probed the way the app probes it (an empty, strict search).

Each line says OK, WARN (works, with less: degraded or a feature off) or FAIL (the app cannot work there at all).
FAIL, and exit code 1, when:

- ``/metadata`` is not an R4 (4.0.x) CapabilityStatement;
- there is no SMART authorization/token endpoint (neither smart-configuration nor oauth-uris);
- the smart-configuration advertises neither ``launch-ehr`` nor ``launch-standalone``;
- PKCE ``S256`` is not advertised (the app always sends an S256 challenge; its patient/member launch is a
  public client that relies on it);
- CareTeam or CarePlan cannot be read and searched (no group can be loaded).

Everything else is WARN: no transactions (saves go entry by entry with compensation: not atomic), no batch
(more round trips), no includes (the group is loaded by batch or one search per type), a resource type that
cannot be written (that part is read-only), no If-Match (saves are refused), no AuditEvent create (the audit
trail stays in the app's log), no Backend Services (the worker needs another token; no reminders).
Exit codes: 0 the app can work there (warnings allowed), 1 it cannot, 2 usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

from fhir_mappings.query import GROUP_INCLUDES
from plugin.sync.capabilities import (
    GROUP_SEARCH_TYPES,
    LoadStrategy,
    ServerCapabilities,
    choose_load_strategy,
    probe_includes,
)
from plugin.sync.client import FhirClient, RetryPolicy, StaticTokenProvider
from plugin.sync.errors import SyncError
from smart_launch.discovery import (
    SmartConfiguration,
    parse_capability_statement,
    parse_smart_configuration,
)
from smart_launch.errors import DiscoveryError
from smart_launch.scopes import GROUP_RESOURCE_TYPES

EX_OK = 0
EX_CANNOT_WORK = 1
EX_USAGE = 2

# What the app does with each group resource type (read/search to load, create/update to save).
GROUP_INTERACTIONS = ("read", "search-type", "create", "update")
# Without these the app cannot load any group.
ESSENTIAL_TYPES = ("CareTeam", "CarePlan")
TIMEOUT = (5.0, 15.0)


class Level(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One product feature at this EHR."""

    feature: str
    level: Level
    why: str


@dataclass
class Diagnosis:
    """Everything the doctor found out about one EHR."""

    iss: str
    checks: list[Check] = field(default_factory=list)
    load_strategy: LoadStrategy | None = None
    save_strategy: str | None = None  # "transaction" or "sequential"

    @property
    def fails(self) -> list[Check]:
        return [c for c in self.checks if c.level is Level.FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.level is Level.WARN]

    @property
    def exit_code(self) -> int:
        return EX_CANNOT_WORK if self.fails else EX_OK

    def add(self, feature: str, level: Level, why: str) -> None:
        self.checks.append(Check(feature, level, why))


# --------------------------------------------------------------------------- judging (pure)


def judge_smart(diagnosis: Diagnosis, smart: SmartConfiguration | None, problem: str | None) -> None:
    """The launch features: discovery, EHR/standalone launch, PKCE, scopes, refresh, client auth, backend."""
    add = diagnosis.add
    if smart is None:
        add("SMART discovery", Level.FAIL, f"no SMART endpoints: {problem or 'not found'}")
        return
    if smart.source == "capability-statement":
        add(
            "SMART discovery",
            Level.WARN,
            "no .well-known/smart-configuration; endpoints from the CapabilityStatement (capabilities unknown)",
        )
    else:
        add("SMART discovery", Level.OK, f"authorize {smart.authorization_endpoint}, token {smart.token_endpoint}")
    known = smart.source == "smart-configuration"
    caps = smart.capabilities
    ehr, standalone = "launch-ehr" in caps, "launch-standalone" in caps
    if known and not (ehr or standalone):
        add("EHR launch", Level.FAIL, "neither launch-ehr nor launch-standalone is advertised")
    else:
        add("EHR launch", Level.OK if ehr else Level.WARN, "launch-ehr" if ehr else "launch-ehr not advertised")
        add(
            "Standalone launch",
            Level.OK if standalone else Level.WARN,
            "launch-standalone (patient and member portal)"
            if standalone
            else "launch-standalone not advertised: patients and members cannot open the app from a portal",
        )
    methods = smart.code_challenge_methods_supported
    if "S256" in methods:
        add("PKCE S256", Level.OK, "code_challenge_methods_supported has S256")
    else:
        shown = ", ".join(methods) if methods else "none advertised"
        add("PKCE S256", Level.FAIL, f"S256 is not advertised ({shown}); the app always uses PKCE S256")
    if smart.supports_v2_scopes:
        add("Scopes", Level.OK, "SMART v2 (permission-v2): the app asks e.g. patient/Goal.crus")
    elif "permission-v1" in caps:
        add("Scopes", Level.OK, "SMART v1 (permission-v1): the app asks .read/.write scopes")
    else:
        add("Scopes", Level.WARN, "no permission-v1/v2 advertised: the app asks v1 (.read/.write) scopes")
    grants = smart.grant_types_supported
    refresh = (
        "refresh_token" in grants
        or bool({"offline_access", "online_access"} & set(smart.scopes_supported))
        or bool({"permission-offline", "permission-online"} & caps)
    )
    add(
        "Refresh tokens",
        Level.OK if refresh else Level.WARN,
        "refresh tokens advertised (online_access)"
        if refresh
        else "no refresh token advertised: a launch ends when its access token expires",
    )
    auth = smart.token_endpoint_auth_methods_supported
    usable = [m for m in ("private_key_jwt", "client_secret_basic") if m in auth]
    if usable:
        add("Client authentication", Level.OK, ", ".join(usable))
    else:
        add("Client authentication", Level.WARN, "neither private_key_jwt nor client_secret_basic advertised")
    if "client_credentials" in grants and "private_key_jwt" in auth:
        add("Backend Services (worker)", Level.OK, "client_credentials with private_key_jwt: outbox replay, reminders")
    else:
        add(
            "Backend Services (worker)",
            Level.WARN,
            "no client_credentials with private_key_jwt: the worker needs another token; no reminders",
        )


def judge_capabilities(diagnosis: Diagnosis, caps: ServerCapabilities, includes_probed: bool | None = None) -> None:
    """Resource types, interactions, transactions, batch, includes, If-Match, AuditEvent; the strategies."""
    add = diagnosis.add
    version = caps.fhir_version or "not stated"
    if not version.startswith("4.0"):
        add("FHIR version", Level.FAIL, f"{version}: the app speaks FHIR R4 (4.0.x)")
        return
    add("FHIR version", Level.OK, version)
    for rtype in GROUP_RESOURCE_TYPES:
        missing = [i for i in GROUP_INTERACTIONS if not caps.supports(rtype, i)]
        if not missing:
            add(rtype, Level.OK, " ".join(GROUP_INTERACTIONS))
            continue
        cannot_load = rtype in ESSENTIAL_TYPES and ("read" in missing or "search-type" in missing)
        effect = (
            "no group can be loaded"
            if cannot_load
            else "this part is read-only"
            if not {"read", "search-type"} & set(missing)
            else "this part of the group may be missing"
        )
        add(rtype, Level.FAIL if cannot_load else Level.WARN, f"no {' '.join(missing)}: {effect}")
    for rtype, why in (
        ("Provenance", "every save carries one: without it the app is read-only"),
        ("AuditEvent", "the audit trail is written to the EHR"),
    ):
        ok = caps.supports(rtype, "create")
        add(f"{rtype} create", Level.OK if ok else Level.WARN, why if ok else f"not supported: {why} (off)")
    for rtype, why in (("Patient", "the patient banner"), ("Practitioner", "names of care professionals")):
        ok = caps.supports(rtype, "read")
        add(f"{rtype} read", Level.OK if ok else Level.WARN, why if ok else f"not supported: no {why}")
    unversioned = sorted(
        t
        for t in GROUP_RESOURCE_TYPES
        if (r := caps.resources.get(t)) is not None and r.versioning not in ("versioned-update", "versioned")
    )
    only_versioned = sorted(
        t for t in GROUP_RESOURCE_TYPES if (r := caps.resources.get(t)) is not None and r.versioning == "versioned"
    )
    if unversioned:
        add("If-Match (versioning)", Level.WARN, f"not declared for {', '.join(unversioned)}: saves may be refused")
    elif only_versioned:
        add(
            "If-Match (versioning)",
            Level.WARN,
            f"versions kept but If-Match not declared for {', '.join(only_versioned)}",
        )
    else:
        add("If-Match (versioning)", Level.OK, "versioned-update: a save never overwrites another's change")
    no_conditional = sorted(
        t for t in GROUP_RESOURCE_TYPES if (r := caps.resources.get(t)) is not None and not r.conditional_create
    )
    add(
        "Conditional create",
        Level.WARN if no_conditional else Level.OK,
        f"not declared for {', '.join(no_conditional)}: a retried save or reminder could be written twice"
        if no_conditional
        else "If-None-Exist: retried saves and reminders are written once",
    )
    if caps.supports_transaction:
        limits = caps.limits
        known = (
            f"known limits: {limits.max_entries} entries, {limits.max_updates} updates"
            if limits.max_entries or limits.max_updates
            else "limits are not declared (R4 has no element for them): learned from the first refusal"
        )
        add("Transactions", Level.OK, f"one Bundle per user action; {known}")
    else:
        add("Transactions", Level.WARN, "not supported: saves go entry by entry with compensation (not atomic)")
    if caps.supports_batch:
        add("Batch", Level.OK, "searches and reads are combined in one round trip")
    else:
        add("Batch", Level.WARN, "not supported: more round trips")
    declared = caps.includes_declared(GROUP_INCLUDES)
    if declared:
        add("_include/_revinclude", Level.OK, "declared: a group loads in one search")
    elif declared is False:
        add("_include/_revinclude", Level.WARN, "not (all) declared: the group is loaded by several searches")
    elif includes_probed is True:
        add("_include/_revinclude", Level.OK, "not declared, but the probe search with them worked")
    elif includes_probed is False:
        add("_include/_revinclude", Level.WARN, "not declared, and the probe search was refused")
    else:
        add(
            "_include/_revinclude",
            Level.WARN,
            "not declared; the app probes them at its first load (run doctor with --token to probe now)",
        )
    judged = caps if includes_probed is None else _with_probe(caps, includes_probed)
    diagnosis.load_strategy = choose_load_strategy(judged)
    diagnosis.save_strategy = "transaction" if caps.supports_transaction else "sequential"


def _with_probe(caps: ServerCapabilities, probed: bool) -> ServerCapabilities:
    return dataclasses.replace(caps, includes_probed=probed)


LOAD_TEXT = {
    LoadStrategy.INCLUDE: "include (one CarePlan search with _include/_revinclude)",
    LoadStrategy.BATCH: f"batch (one batch of searches by patient: {', '.join(GROUP_SEARCH_TYPES)})",
    LoadStrategy.SEQUENTIAL: "sequential (one search per resource type; degraded)",
}
SAVE_TEXT = {
    "transaction": "transaction (one atomic Bundle per user action, split when the server refuses a large one)",
    "sequential": "sequential (entry by entry, undone on failure; not atomic)",
}


def render(diagnosis: Diagnosis) -> str:
    """Plain text: one line per feature, the strategies, and the verdict."""
    width = max((len(c.feature) for c in diagnosis.checks), default=10)
    lines = [f"Resourcegroep doctor: {diagnosis.iss}"]
    lines += [f"{c.level.value:<5} {c.feature:<{width}}  {c.why}" for c in diagnosis.checks]
    if diagnosis.load_strategy is not None:
        lines.append(f"load strategy: {LOAD_TEXT[diagnosis.load_strategy]}")
    if diagnosis.save_strategy is not None:
        lines.append(f"save strategy: {SAVE_TEXT[diagnosis.save_strategy]}")
    if diagnosis.fails:
        lines.append(
            f"result: the app cannot work here ({len(diagnosis.fails)} failure(s): "
            + ", ".join(c.feature for c in diagnosis.fails)
            + ")"
        )
    else:
        lines.append(f"result: the app can work here ({len(diagnosis.warnings)} warning(s))")
    return "\n".join(lines)


# --------------------------------------------------------------------------- reading the EHR


def diagnose(iss: str, *, token: str | None = None, http: requests.Session | None = None) -> Diagnosis:
    """Read the EHR's SMART configuration and CapabilityStatement and judge them (nothing is written)."""
    iss = iss.rstrip("/")
    session = http or requests.Session()
    diagnosis = Diagnosis(iss)
    client = FhirClient(
        iss,
        StaticTokenProvider(token) if token else None,
        connect_timeout=TIMEOUT[0],
        read_timeout=TIMEOUT[1],
        retry=RetryPolicy(max_attempts=2),
        session=session,
    )
    statement: dict[str, object] | None = None
    caps: ServerCapabilities | None = None
    try:
        statement = client.metadata().json()
        caps = ServerCapabilities.from_statement(iss, statement)
    except SyncError as exc:
        diagnosis.add("CapabilityStatement", Level.FAIL, f"GET {iss}/metadata: {exc}")
    smart, problem = _smart_configuration(iss, session, statement)
    judge_smart(diagnosis, smart, problem)
    if caps is not None:
        probed: bool | None = None
        if token and caps.includes_declared(GROUP_INCLUDES) is None and caps.supports("CarePlan", "search-type"):
            try:
                probed = probe_includes(client)
            except SyncError as exc:
                diagnosis.add("_include probe", Level.WARN, f"could not probe: {exc}")
        judge_capabilities(diagnosis, caps, probed)
    return diagnosis


def _smart_configuration(
    iss: str, session: requests.Session, statement: dict[str, object] | None
) -> tuple[SmartConfiguration | None, str | None]:
    problems = []
    try:
        answer = session.get(
            f"{iss}/.well-known/smart-configuration", headers={"Accept": "application/json"}, timeout=TIMEOUT
        )
        if answer.status_code == 200:
            return parse_smart_configuration(iss, answer.json()), None
        problems.append(f".well-known/smart-configuration answered {answer.status_code}")
    except (requests.RequestException, ValueError, DiscoveryError) as exc:
        problems.append(f".well-known/smart-configuration: {type(exc).__name__}: {exc}")
    if statement is not None:
        try:
            return parse_capability_statement(iss, statement), None
        except DiscoveryError as exc:
            problems.append(str(exc))
    return None, "; ".join(problems)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resourcegroep doctor",
        description="Check an EHR: which features of the app will work there (reads only; writes nothing).",
    )
    parser.add_argument("--iss", required=True, help="the EHR's FHIR base URL (the iss of a launch)")
    parser.add_argument(
        "--token", help="a bearer token for that EHR (optional): probe undeclared _include/_revinclude support"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Print the diagnosis; exit 0 when the app can work at the EHR, 1 when it cannot, 2 on a usage error."""
    args = _parser().parse_args(argv)
    if not args.iss.startswith(("http://", "https://")):
        print("error: --iss must be an http(s) URL", file=sys.stderr)
        return EX_USAGE
    diagnosis = diagnose(args.iss, token=args.token)
    print(render(diagnosis), flush=True)
    return diagnosis.exit_code


__all__ = ["Check", "Diagnosis", "Level", "diagnose", "judge_capabilities", "judge_smart", "main", "render"]
