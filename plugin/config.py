"""Application configuration: one TOML file (path in RESOURCEGROEP_CONFIG), overridable by environment variables.

Environment overrides (for containers):
  RESOURCEGROEP_PUBLIC_BASE_URL, RESOURCEGROEP_SECRET_KEY, RESOURCEGROEP_SESSION_DB,
  RESOURCEGROEP_SESSION_COOKIE_SECURE (true/false), RESOURCEGROEP_SESSION_COOKIE_SAMESITE (None/Lax/Strict),
  RESOURCEGROEP_FRAME_ANCESTORS (space-separated),
  RESOURCEGROEP_REDIS_URL, RESOURCEGROEP_REDIS_KEY_PREFIX (the [redis] table: state shared by several instances),
  RESOURCEGROEP_AUDIT_SINK (auto/file), RESOURCEGROEP_AUDIT_LOG_FILE, ... (every [audit] key),
  RESOURCEGROEP_READ_CACHE_RESOURCES, RESOURCEGROEP_READ_CACHE_TTL (the read cache; 0 resources turns it off),
  RESOURCEGROEP_OVERVIEW_SCORES (how many of the newest scores a page reads; 0: all, else at least 100),
  and per EHR, with NAME the [[ehr]] name upper-cased, non-alphanumerics as "_":
  RESOURCEGROEP_EHR_<NAME>_CLIENT_ID, RESOURCEGROEP_EHR_<NAME>_CLIENT_SECRET,
  RESOURCEGROEP_EHR_<NAME>_PRIVATE_KEY_FILE;
  per Koppeltaal domain ([[koppeltaal]], NAME as above):
  RESOURCEGROEP_KOPPELTAAL_<NAME>_CLIENT_ID, RESOURCEGROEP_KOPPELTAAL_<NAME>_PRIVATE_KEY_FILE.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard, TypeVar, get_args

from plugin.sync.readcache import DEFAULT_MAX_RESOURCES, DEFAULT_TTL
from smart_launch import BackendRegistration, ConfigurationError, EhrRegistration, KoppeltaalDomain, normalize_iss
from smart_launch.registration import CLIENT_AUTH_METHODS, SIGNING_ALGS

# The newest scores a page that shows only those reads (a common EHR page size: one request).
DEFAULT_OVERVIEW_SCORES = 1000
# The fewest newest scores a page may read: a day's scores (a meeting's, every goal) fit many times over.
MIN_OVERVIEW_SCORES = 100

CONFIG_ENV = "RESOURCEGROEP_CONFIG"
ENV_PREFIX = "RESOURCEGROEP_"
SameSite = Literal["None", "Lax", "Strict"]
N = TypeVar("N", int, float)
OUTBOX_FILE = "outbox.sqlite3"
DEFAULT_CLINIC_NAME = "GGZ-instelling"
# The clinic's word for the person a group is for, in the Dutch texts (Dutch mental-health care uses both).
PERSON_WORDS = ("patiënt", "cliënt")
DEFAULT_PERSON_WORD = "patiënt"
DEFAULT_DATA_DIR = "var"  # relative to the TOML file: where the outbox lives when no session_db says where


_SAMESITE_VALUES = "session_cookie_samesite must be None, Lax or Strict"


def _is_samesite(value: str) -> TypeGuard[SameSite]:
    return value in get_args(SameSite)


AuditSink = Literal["auto", "file"]


@dataclass(frozen=True)
class AuditSettings:
    """Where access records (AuditEvent) go: `auto` = the launch's FHIR server when it takes AuditEvents from
    the launch (CapabilityStatement and granted scopes), else the local log; `file` = always the local log."""

    sink: AuditSink = "auto"
    log_file: str | None = None  # the local JSON-lines log; None: audit/audit.jsonl beside the outbox
    max_bytes: int = 20 * 1024 * 1024  # rotate the local log at this size
    backups: int = 30  # rotated files kept (audit.jsonl.1 ... .N)
    flush_interval: float = 2.0  # seconds between background writes
    batch_size: int = 50  # records per FHIR batch (and a write as soon as this many wait)

    def __post_init__(self) -> None:
        if self.sink not in get_args(AuditSink):
            raise ConfigurationError("[audit] sink must be 'auto' or 'file'")
        if self.max_bytes < 1024 or self.backups < 1 or self.batch_size < 1 or self.flush_interval <= 0:
            raise ConfigurationError("[audit] max_bytes >= 1024, backups >= 1, batch_size >= 1, flush_interval > 0")


def _audit(table: Mapping[str, Any], env: Mapping[str, str], base_dir: Path) -> AuditSettings:
    def pick(key: str, default: Any) -> Any:
        env_key = f"{ENV_PREFIX}AUDIT_{key.upper()}"
        return env[env_key] if env_key in env else table.get(key, default)

    log_file = pick("log_file", None)
    if isinstance(log_file, str) and log_file and not Path(log_file).is_absolute():
        log_file = str(base_dir / log_file)
    try:
        return AuditSettings(
            sink=str(pick("sink", "auto")),  # type: ignore[arg-type]  # checked in __post_init__
            log_file=str(log_file) if log_file else None,
            max_bytes=int(pick("max_bytes", AuditSettings.max_bytes)),
            backups=int(pick("backups", AuditSettings.backups)),
            flush_interval=float(pick("flush_interval", AuditSettings.flush_interval)),
            batch_size=int(pick("batch_size", AuditSettings.batch_size)),
        )
    except ValueError as exc:
        raise ConfigurationError(f"[audit]: {exc}") from exc


@dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to run."""

    public_base_url: str
    secret_key: str
    ehrs: tuple[EhrRegistration, ...] = ()
    backend: BackendRegistration | None = None
    # Koppeltaal 2.0 domains ([[koppeltaal]]): HTI launches by POST /launch; each also gets an entry in `ehrs`
    # (its OIDC registration, private_key_jwt) so the callback and discovery find it.
    koppeltaal: tuple[KoppeltaalDomain, ...] = ()
    session_cookie_secure: bool = True
    session_cookie_samesite: SameSite = "None"
    frame_ancestors: tuple[str, ...] = ("'self'",)
    session_db: str | None = None  # SQLite file; None keeps sessions in memory (tests, single process)
    # SQLite file of saves waiting for the EHR. None: beside the session store (``outbox.sqlite3`` in the
    # session_db's folder); with neither set (tests, single process) a temporary file, loudly (see create_app).
    # A TOML configuration always gets a persistent path (see config_from_mapping).
    outbox_db: str | None = None
    session_lifetime: int = 12 * 3600  # absolute: a browser session ends this long after it began, used or not
    session_idle_timeout: int = 30 * 60  # a browser session ends after this long without a request
    discovery_ttl: float = 3600.0
    # Redis (redis://, rediss:// for TLS, unix://) for sessions, launches, the outbox and caches shared by several
    # app instances; None keeps the embedded SQLite stores (see plugin.stores).
    redis_url: str | None = None
    redis_prefix: str = "resourcegroep:"
    audit: AuditSettings = field(default_factory=AuditSettings)
    # The clinic's name, on printed reports and print views.
    clinic_name: str = DEFAULT_CLINIC_NAME
    # The EHR's page of a patient, with "{patient_id}" for the FHIR id (e.g. "https://epd.example/patients/{patient_id}"):
    # the caseload links each row there, where the EHR launches the app for that patient. None: no link (the
    # SMART launch context offers no way to open another patient's record).
    ehr_patient_url: str | None = None
    # "patiënt" or "cliënt": the word every Dutch text uses for the person the group is for (plugin/web/person_word.py).
    person_word: str = DEFAULT_PERSON_WORD
    # The read cache (plugin/sync/readcache.py): resources of groups already read into the domain that one worker
    # process keeps, and for how long after the EHR last sent them. 0 turns it off.
    read_cache_resources: int = DEFAULT_MAX_RESOURCES
    read_cache_ttl: float = DEFAULT_TTL
    # How many of the patient's newest progress scores a page reads (one page of the EHR's search, so at most its
    # page size, often 1,000): every page and form but those that show every score (a report, the printed agenda
    # and report, a timeline page older than the newest scores); a goal's "all scores" reads them and that goal's
    # every score. 0: every score (a long-running group with weekly scores then reads tens of MB per view).
    overview_scores: int = DEFAULT_OVERVIEW_SCORES
    # The pages that show every score read them page by page (1,000 a request, each parsed and held compactly before
    # the next): a huge group's worker then peaks at ~160 MB instead of ~300 MB, but such a page takes a request per
    # 1,000 scores, each costing the EHR its search (1-30 s for 20,000 scores on the test EHRs, against 2-3 s at
    # once). Off: every score comes in the one include search.
    every_score_in_pages: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = normalize_iss(self.public_base_url)
        if base is None:
            raise ConfigurationError(f"public_base_url {self.public_base_url!r} is not an http(s) URL")
        object.__setattr__(self, "public_base_url", base)
        if len(self.secret_key) < 32:
            raise ConfigurationError("secret_key must be at least 32 characters")
        if not _is_samesite(self.session_cookie_samesite):
            raise ConfigurationError(_SAMESITE_VALUES)
        if self.session_cookie_samesite == "None" and not self.session_cookie_secure:
            raise ConfigurationError("SameSite=None needs a Secure cookie (set session_cookie_samesite = 'Lax')")
        if self.outbox_db is None and self.session_db:
            object.__setattr__(self, "outbox_db", str(Path(self.session_db).parent / OUTBOX_FILE))
        if not self.clinic_name.strip():
            raise ConfigurationError("clinic_name must not be empty")
        if self.person_word not in PERSON_WORDS:
            raise ConfigurationError(f"person_word must be one of {', '.join(PERSON_WORDS)}, not {self.person_word!r}")
        if self.read_cache_resources < 0 or self.read_cache_ttl < 0:
            raise ConfigurationError("read_cache_resources and read_cache_ttl must not be negative")
        if self.overview_scores < 0 or 0 < self.overview_scores < MIN_OVERVIEW_SCORES:
            raise ConfigurationError(
                f"overview_scores must be 0 (every score) or at least {MIN_OVERVIEW_SCORES}, not "
                f"{self.overview_scores}: fewer newest scores may not hold one whole day of scores, and the pages "
                "would then show no score at all"
            )
        if self.ehr_patient_url is not None and (
            "{patient_id}" not in self.ehr_patient_url or not self.ehr_patient_url.startswith(("https://", "http://"))
        ):
            raise ConfigurationError("ehr_patient_url must be an http(s) URL with {patient_id} in it")
        for source in self.frame_ancestors:
            if not re.fullmatch(r"'self'|'none'|https?://[A-Za-z0-9.*:\[\]-]+(/\S*)?|https?:", source):
                raise ConfigurationError(f"frame ancestor {source!r} is not a CSP source expression")

    @property
    def redirect_uri(self) -> str:
        """The OAuth redirect URI to register at every EHR."""
        return f"{self.public_base_url}/callback"

    @property
    def jwks_url(self) -> str:
        """Where the app publishes its public keys."""
        return f"{self.public_base_url}/.well-known/jwks.json"

    @property
    def launch_url(self) -> str:
        """The EHR launch URL to register at every EHR."""
        return f"{self.public_base_url}/launch"


def _env_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def env_name(ehr_name: str) -> str:
    """The NAME part of the per-EHR environment variables."""
    return re.sub(r"[^A-Za-z0-9]", "_", ehr_name).upper()


def _str_tuple(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, list):
        strings = tuple(v for v in value if isinstance(v, str))
        if len(strings) == len(value):
            return strings
    raise ConfigurationError(f"{what} must be a list of strings")


def _ehr(table: Mapping[str, Any], env: Mapping[str, str], base_dir: Path) -> EhrRegistration:
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigurationError("every [[ehr]] needs a name")
    prefix = f"{ENV_PREFIX}EHR_{env_name(name)}_"
    client_auth = table.get("client_auth", "public")
    if client_auth not in CLIENT_AUTH_METHODS:
        raise ConfigurationError(f"[[ehr]] {name}: client_auth must be one of {CLIENT_AUTH_METHODS}")
    alg = table.get("alg", "RS384")
    if alg not in SIGNING_ALGS:
        raise ConfigurationError(f"[[ehr]] {name}: alg must be one of {SIGNING_ALGS}")
    key_file = env.get(prefix + "PRIVATE_KEY_FILE") or table.get("private_key_file")
    if isinstance(key_file, str) and key_file and not Path(key_file).is_absolute():
        key_file = str(base_dir / key_file)  # relative to the TOML file
    scopes = table.get("scopes")
    return EhrRegistration(
        name=name,
        title=table.get("title") if isinstance(table.get("title"), str) else None,
        iss=str(table.get("iss", "")),
        client_id=env.get(prefix + "CLIENT_ID") or str(table.get("client_id", "")),
        client_auth=client_auth,
        client_secret=env.get(prefix + "CLIENT_SECRET") or table.get("client_secret"),
        private_key_file=key_file if isinstance(key_file, str) and key_file else None,
        alg=alg,
        scopes=None if scopes is None else _str_tuple(scopes, f"[[ehr]] {name}: scopes"),
        caseload_user_scopes=bool(table.get("caseload_user_scopes", False)),
        mapping=str(table.get("mapping", "nl-core")),
    )


def _koppeltaal(table: Mapping[str, Any], env: Mapping[str, str], base_dir: Path) -> KoppeltaalDomain:
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigurationError("every [[koppeltaal]] needs a name")
    prefix = f"{ENV_PREFIX}KOPPELTAAL_{env_name(name)}_"
    key_file = env.get(prefix + "PRIVATE_KEY_FILE") or str(table.get("private_key_file", ""))
    if key_file and not Path(key_file).is_absolute():
        key_file = str(base_dir / key_file)
    launchers = table.get("launcher_jwks", {})
    if not isinstance(launchers, dict) or not all(isinstance(v, str) for v in launchers.values()):
        raise ConfigurationError(f"[[koppeltaal]] {name}: launcher_jwks must map client ids to JWKS URLs")
    alg = table.get("alg", "RS384")
    if alg not in SIGNING_ALGS:
        raise ConfigurationError(f"[[koppeltaal]] {name}: alg must be one of {SIGNING_ALGS}")
    scopes = table.get("backend_scopes")
    return KoppeltaalDomain(
        name=name,
        iss=str(table.get("iss", "")),
        client_id=env.get(prefix + "CLIENT_ID") or str(table.get("client_id", "")),
        private_key_file=key_file,
        device=str(table.get("device", "")),
        alg=alg,
        launcher_jwks=dict(launchers),
        domain_jwks_url=str(table["domain_jwks_url"]) if table.get("domain_jwks_url") else None,
        backend_scopes=(
            KoppeltaalDomain.backend_scopes
            if scopes is None
            else _str_tuple(scopes, f"[[koppeltaal]] {name}: backend_scopes")
        ),
        title=table.get("title") if isinstance(table.get("title"), str) else None,
        hti_check=table.get("hti_check", "jwks"),
        introspection_endpoint=(str(table["introspection_endpoint"]) if table.get("introspection_endpoint") else None),
        mapping=str(table.get("mapping", "kt2")),
    )


def _backend(table: Mapping[str, Any], base_dir: Path) -> BackendRegistration:
    key_file = str(table.get("private_key_file", ""))
    if key_file and not Path(key_file).is_absolute():
        key_file = str(base_dir / key_file)
    alg = table.get("alg", "RS384")
    if alg not in SIGNING_ALGS:
        raise ConfigurationError(f"[backend] alg must be one of {SIGNING_ALGS}")
    return BackendRegistration(
        iss=str(table.get("iss", "")),
        client_id=str(table.get("client_id", "")),
        private_key_file=key_file,
        alg=alg,
        scopes=_str_tuple(table.get("scopes", []), "[backend] scopes"),
    )


def config_from_mapping(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> AppConfig:
    """Build an AppConfig from parsed TOML plus environment overrides."""
    env = os.environ if env is None else env
    base = base_dir or Path.cwd()
    app = data.get("app", {})
    if not isinstance(app, dict):
        raise ConfigurationError("[app] must be a table")

    def pick(key: str, default: Any = None) -> Any:
        env_key = ENV_PREFIX + key.upper()
        return env[env_key] if env_key in env else app.get(key, default)

    secure = pick("session_cookie_secure", True)
    if isinstance(secure, str):
        secure = _env_bool(secure, ENV_PREFIX + "SESSION_COOKIE_SECURE")
    in_pages = pick("every_score_in_pages", False)
    if isinstance(in_pages, str):
        in_pages = _env_bool(in_pages, ENV_PREFIX + "EVERY_SCORE_IN_PAGES")
    ancestors = pick("frame_ancestors", ["'self'"])
    if isinstance(ancestors, str):
        ancestors = ancestors.split()
    session_db = pick("session_db")
    if isinstance(session_db, str) and session_db and not Path(session_db).is_absolute():
        session_db = str(base / session_db)
    outbox_db = pick("outbox_db")
    if isinstance(outbox_db, str) and outbox_db and not Path(outbox_db).is_absolute():
        outbox_db = str(base / outbox_db)
    if not outbox_db:
        # Persistent by default: beside the session store, else in var/ next to the TOML file.
        folder = Path(session_db).parent if isinstance(session_db, str) and session_db else base / DEFAULT_DATA_DIR
        outbox_db = str(folder / OUTBOX_FILE)
    ehr_tables = data.get("ehr", [])
    if not isinstance(ehr_tables, list):
        raise ConfigurationError("[[ehr]] must be an array of tables")
    koppeltaal_tables = data.get("koppeltaal", [])
    if not isinstance(koppeltaal_tables, list):
        raise ConfigurationError("[[koppeltaal]] must be an array of tables")
    koppeltaal = tuple(_koppeltaal(t, env, base) for t in koppeltaal_tables)
    backend = data.get("backend")
    redis_table = data.get("redis", {})
    if not isinstance(redis_table, dict):
        raise ConfigurationError("[redis] must be a table")
    redis_url = env.get(ENV_PREFIX + "REDIS_URL") or redis_table.get("url") or None
    if redis_url is not None and (
        not isinstance(redis_url, str) or not redis_url.startswith(("redis://", "rediss://", "unix://"))
    ):
        raise ConfigurationError("[redis] url must start with redis://, rediss:// (TLS) or unix://")
    redis_prefix = str(env.get(ENV_PREFIX + "REDIS_KEY_PREFIX") or redis_table.get("key_prefix") or "resourcegroep:")
    audit = data.get("audit", {})
    if not isinstance(audit, dict):
        raise ConfigurationError("[audit] must be a table")
    samesite = str(pick("session_cookie_samesite", "None"))
    if not _is_samesite(samesite):
        raise ConfigurationError(_SAMESITE_VALUES)
    return AppConfig(
        public_base_url=str(pick("public_base_url", "")),
        secret_key=str(pick("secret_key", "")),
        ehrs=tuple(_ehr(t, env, base) for t in ehr_tables) + tuple(d.registration() for d in koppeltaal),
        koppeltaal=koppeltaal,
        backend=_backend(backend, base) if isinstance(backend, dict) else None,
        session_cookie_secure=bool(secure),
        session_cookie_samesite=samesite,
        frame_ancestors=_str_tuple(list(ancestors), "frame_ancestors"),
        session_db=str(session_db) if session_db else None,
        outbox_db=str(outbox_db) if outbox_db else None,
        session_lifetime=int(pick("session_lifetime", 12 * 3600)),
        session_idle_timeout=int(pick("session_idle_timeout", 30 * 60)),
        discovery_ttl=float(pick("discovery_ttl", 3600.0)),
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        audit=_audit(audit, env, base),
        clinic_name=str(pick("clinic_name", DEFAULT_CLINIC_NAME)),
        person_word=str(pick("person_word", DEFAULT_PERSON_WORD)),
        ehr_patient_url=str(pick("ehr_patient_url")) if pick("ehr_patient_url") else None,
        read_cache_resources=_number(pick("read_cache_resources", DEFAULT_MAX_RESOURCES), "read_cache_resources", int),
        read_cache_ttl=_number(pick("read_cache_ttl", DEFAULT_TTL), "read_cache_ttl", float),
        overview_scores=_number(pick("overview_scores", DEFAULT_OVERVIEW_SCORES), "overview_scores", int),
        every_score_in_pages=bool(in_pages),
    )


def _number(value: Any, name: str, kind: Callable[[Any], N]) -> N:
    """A number from TOML or the environment (a string there), with a clear error."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number, not {value!r}") from None


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Load the TOML file at `path` (default: $RESOURCEGROEP_CONFIG) and apply environment overrides."""
    env = os.environ if env is None else env
    chosen = path or env.get(CONFIG_ENV)
    if not chosen:
        raise ConfigurationError(f"set {CONFIG_ENV} to the path of the configuration TOML file")
    file = Path(chosen)
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"cannot read configuration {file}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"configuration {file} is not valid TOML: {exc}") from exc
    return config_from_mapping(data, env, file.parent)
