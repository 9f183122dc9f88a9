"""The sandbox's own FHIR R4 store: versioned resources in SQLite with indexed search.

Resources live as JSON (every version kept); search values are extracted on write into side
tables (tokens, references, dates, strings), so searches and `_include`/`_revinclude` are
index look-ups. One lock serialises access: the sandbox is a demo and test tool, and a single
writer keeps transactions atomic and conditional creates free of duplicates.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl

from sandbox.fhir.errors import FhirError, invalid, not_found
from sandbox.fhir.searchparams import (
    RESULT_PARAMS,
    SUPPORTED_TYPES,
    SearchParam,
    direct_owners,
    params_for,
)
from sandbox.fhir.validation import validate_resource, walk
from sandbox.fhir.values import (
    HIGHEST,
    LOWEST,
    date_range,
    is_valid_id,
    normalize_string,
    parse_date_search,
    parse_token,
    split_or,
    split_reference,
)

DEFAULT_COUNT = 20
MAX_COUNT = 1000
_MAX_INCLUDE_ROUNDS = 10
_CHUNK = 400  # bound for SQL "IN (...)" lists, below SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS current (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    last_updated TEXT NOT NULL, json TEXT NOT NULL,
    UNIQUE (type, id)
);
CREATE TABLE IF NOT EXISTS history (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    last_updated TEXT NOT NULL, json TEXT NOT NULL, method TEXT NOT NULL,
    PRIMARY KEY (type, id, version)
);
CREATE TABLE IF NOT EXISTS idx_token (rtype TEXT, rid TEXT, param TEXT, system TEXT, code TEXT);
CREATE INDEX IF NOT EXISTS idx_token_code ON idx_token (rtype, param, code);
CREATE INDEX IF NOT EXISTS idx_token_rid ON idx_token (rtype, rid);
CREATE TABLE IF NOT EXISTS idx_ref (rtype TEXT, rid TEXT, param TEXT, ttype TEXT, tid TEXT);
CREATE INDEX IF NOT EXISTS idx_ref_target ON idx_ref (rtype, param, tid);
CREATE INDEX IF NOT EXISTS idx_ref_rid ON idx_ref (rtype, rid, param);
CREATE TABLE IF NOT EXISTS idx_date (rtype TEXT, rid TEXT, param TEXT, low TEXT, high TEXT);
CREATE INDEX IF NOT EXISTS idx_date_low ON idx_date (rtype, param, low);
CREATE INDEX IF NOT EXISTS idx_date_rid ON idx_date (rtype, rid);
CREATE TABLE IF NOT EXISTS idx_string (rtype TEXT, rid TEXT, param TEXT, value TEXT, raw TEXT);
CREATE INDEX IF NOT EXISTS idx_string_value ON idx_string (rtype, param, value);
CREATE INDEX IF NOT EXISTS idx_string_rid ON idx_string (rtype, rid);
"""

_INDEX_TABLES = ("idx_token", "idx_ref", "idx_date", "idx_string")
_TABLE_OF_TYPE = {"token": "idx_token", "reference": "idx_ref", "date": "idx_date", "string": "idx_string"}
OWNER_PARAM = "__owner"  # internal reference param: the patient(s) a resource belongs to


class Guard(Protocol):
    """What a caller may do; the store asks it before every interaction (see sandbox.fhir.auth)."""

    def allow(self, interaction: str, resource_type: str) -> None:
        """Raise FhirError(403) unless the interaction on this type is permitted."""

    def can(self, interaction: str, resource_type: str) -> bool:
        """Whether the interaction on this type is permitted."""

    def patient_for(self, interaction: str, resource_type: str) -> str | None:
        """The patient whose compartment confines this interaction, or None when unconfined."""


@dataclass
class WriteResult:
    """Outcome of a create or update."""

    resource: dict[str, Any]
    created: bool

    @property
    def status(self) -> int:
        """201 for a new resource, 200 otherwise (update or an existing match of a conditional create)."""
        return 201 if self.created else 200


@dataclass
class SearchResult:
    """One page of a search: the matches, the included resources and the total match count."""

    resource_type: str
    matches: list[dict[str, Any]]
    included: list[dict[str, Any]]
    total: int
    offset: int
    count: int
    params: list[tuple[str, str]] = field(default_factory=list)  # filter/result params, without paging
    summary_count: bool = False


def version_of(etag: str) -> str:
    """The version id inside an ETag or If-Match value (`W/"3"` -> `3`)."""
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def _now_iso(previous: str | None) -> str:
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    if previous is not None and stamp <= previous:
        # Keep lastUpdated strictly increasing so `_sort=_lastUpdated` follows write order.
        prev = datetime.strptime(previous, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(milliseconds=1)
        stamp = prev.strftime("%Y-%m-%dT%H:%M:%S.") + f"{prev.microsecond // 1000:03d}Z"
    return stamp


class FhirStore:
    """A versioned FHIR R4 resource store on SQLite (`path` is a file or ":memory:"); thread-safe."""

    def __init__(self, path: str = ":memory:") -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0
        self._last_stamp: str | None = None
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT MAX(last_updated) FROM history").fetchone()
        self._last_stamp = row[0] if row and row[0] else None

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ units of work

    @contextmanager
    def _unit(self) -> Iterator[None]:
        """One atomic unit: nested units join the outermost; any exception rolls everything back."""
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ reads

    def read(self, resource_type: str, resource_id: str, guard: Guard | None = None) -> dict[str, Any]:
        """The current version of a resource; 404 when it does not exist."""
        self._check_type(resource_type)
        if guard:
            guard.allow("read", resource_type)
        with self._lock:
            resource = self._current(resource_type, resource_id)
            if resource is None:
                raise not_found(resource_type, resource_id)
            self._check_compartment(guard, resource)
            return resource

    def vread(
        self, resource_type: str, resource_id: str, version_id: str, guard: Guard | None = None
    ) -> dict[str, Any]:
        """One version of a resource; 404 when that version does not exist."""
        self._check_type(resource_type)
        if guard:
            guard.allow("read", resource_type)
        with self._lock:
            row = None
            if version_id.isdigit():
                row = self._conn.execute(
                    "SELECT json FROM history WHERE type=? AND id=? AND version=?",
                    (resource_type, resource_id, int(version_id)),
                ).fetchone()
            if row is None:
                raise FhirError(404, f"{resource_type}/{resource_id}/_history/{version_id} not found")
            resource: dict[str, Any] = json.loads(row[0])
            self._check_compartment(guard, resource)
            return resource

    def history(self, resource_type: str, resource_id: str, guard: Guard | None = None) -> list[dict[str, Any]]:
        """Every version of a resource, newest first; 404 when it does not exist."""
        self._check_type(resource_type)
        if guard:
            guard.allow("read", resource_type)
        with self._lock:
            rows = self._conn.execute(
                "SELECT json FROM history WHERE type=? AND id=? ORDER BY version DESC",
                (resource_type, resource_id),
            ).fetchall()
            if not rows:
                raise not_found(resource_type, resource_id)
            versions = [json.loads(r[0]) for r in rows]
            self._check_compartment(guard, versions[0])
            return versions

    def _current(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT json FROM current WHERE type=? AND id=?", (resource_type, resource_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    # ------------------------------------------------------------------ writes

    def create(
        self, resource: dict[str, Any], *, if_none_exist: str | None = None, guard: Guard | None = None
    ) -> WriteResult:
        """Create a resource (server-assigned id); with `if_none_exist`, return the one existing match."""
        with self._unit():
            rtype = self._resource_type(resource)
            if guard:
                guard.allow("create", rtype)
            if if_none_exist:
                existing = self._conditional_match(rtype, if_none_exist, guard)
                if existing is not None:
                    return WriteResult(existing, created=False)
            return self._write(rtype, str(uuid.uuid4()), resource, guard, must_be_new=True)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        if_match: str | None = None,
        guard: Guard | None = None,
    ) -> WriteResult:
        """Write a new version (or create with the given id); 412 when `if_match` is stale."""
        self._check_type(resource_type)
        if guard:
            guard.allow("update", resource_type)
        if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
            raise invalid(f"The body must be a {resource_type} resource")
        if resource.get("id") is None:
            raise invalid("The resource in an update must carry its id", f"{resource_type}.id")
        if resource.get("id") != resource_id:
            raise invalid(f"The id in the body ({resource.get('id')}) does not match the URL ({resource_id})")
        if not is_valid_id(resource_id):
            raise invalid(f"'{resource_id}' is not a valid FHIR id")
        with self._unit():
            return self._write(resource_type, resource_id, resource, guard, if_match=if_match)

    def conditional_update(
        self,
        resource_type: str,
        query: str,
        resource: dict[str, Any],
        *,
        if_match: str | None = None,
        guard: Guard | None = None,
    ) -> WriteResult:
        """PUT Type?query: update the single match, create when none, 412 when several."""
        self._check_type(resource_type)
        if guard:
            guard.allow("update", resource_type)
        with self._unit():
            matches = self._match_ids(resource_type, _parse_query(query), guard, limit=2)
            if len(matches) > 1:
                raise FhirError(412, "Multiple resources match the conditional update", "multiple-matches")
            if matches:
                target = matches[0]
                if resource.get("id") not in (None, target):
                    raise invalid("The id in the body does not match the resource found")
            else:
                target = resource.get("id") or str(uuid.uuid4())
            body = dict(resource)
            body["id"] = target
            return self.update(resource_type, target, body, if_match=if_match, guard=guard)

    def _resource_type(self, resource: Any) -> str:
        if not isinstance(resource, dict):
            raise invalid("The body is not a JSON object")
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            raise invalid("The resource has no resourceType")
        self._check_type(rtype)
        return rtype

    @staticmethod
    def _check_type(resource_type: str) -> None:
        if resource_type not in SUPPORTED_TYPES:
            raise FhirError(404, f"Resource type {resource_type} is not supported by this server", "not-supported")

    def _write(
        self,
        rtype: str,
        rid: str,
        resource: dict[str, Any],
        guard: Guard | None,
        *,
        if_match: str | None = None,
        must_be_new: bool = False,
    ) -> WriteResult:
        """Validate and store one version; the caller holds a unit of work."""
        row = self._conn.execute("SELECT version, json FROM current WHERE type=? AND id=?", (rtype, rid)).fetchone()
        if row is not None and must_be_new:
            raise FhirError(409, f"{rtype}/{rid} already exists")
        if if_match is not None:
            if row is None:
                raise FhirError(412, f"{rtype}/{rid} does not exist (If-Match given)", "conflict")
            if version_of(if_match) != str(row[0]):
                raise FhirError(
                    412,
                    f"Version conflict: {rtype}/{rid} is at version {row[0]}, not {version_of(if_match)}",
                    "conflict",
                )
        interaction = "create" if row is None else "update"
        if row is not None and guard is not None:
            self._check_compartment(guard, json.loads(row[1]), interaction=interaction)
        body = copy.deepcopy(resource)
        body["id"] = rid
        version = (row[0] + 1) if row else 1
        stamp = _now_iso(self._last_stamp)
        meta = dict(body.get("meta") or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = stamp
        body["meta"] = meta
        validate_resource(body)
        owners = self._owners(body)
        if guard is not None:
            self._check_compartment(guard, body, owners, interaction=interaction)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if row is None:
            self._conn.execute(
                "INSERT INTO current (type, id, version, last_updated, json) VALUES (?,?,?,?,?)",
                (rtype, rid, version, stamp, text),
            )
        else:
            self._conn.execute(
                "UPDATE current SET version=?, last_updated=?, json=? WHERE type=? AND id=?",
                (version, stamp, text, rtype, rid),
            )
        self._conn.execute(
            "INSERT INTO history (type, id, version, last_updated, json, method) VALUES (?,?,?,?,?,?)",
            (rtype, rid, version, stamp, text, "POST" if row is None else "PUT"),
        )
        self._reindex(rtype, rid, body, owners)
        self._last_stamp = stamp
        return WriteResult(body, created=row is None)

    # ------------------------------------------------------------------ indexing

    def _reindex(self, rtype: str, rid: str, resource: dict[str, Any], owners: set[str]) -> None:
        for table in _INDEX_TABLES:
            self._conn.execute(f"DELETE FROM {table} WHERE rtype=? AND rid=?", (rtype, rid))  # noqa: S608
        tokens: list[tuple[str, str, str, str | None, str]] = []
        refs: list[tuple[str, str, str, str, str]] = []
        dates: list[tuple[str, str, str, str, str]] = []
        strings: list[tuple[str, str, str, str, str]] = []
        for param in params_for(rtype).values():
            if param.name == "_id":
                continue
            for path in param.paths:
                for value in walk(resource, path):
                    if param.type == "token":
                        tokens.extend((rtype, rid, param.name, s, c) for s, c in _tokens(value))
                    elif param.type == "reference":
                        target = _reference_target(value)
                        if target and (param.targets is None or target[0] in param.targets):
                            refs.append((rtype, rid, param.name, target[0], target[1]))
                    elif param.type == "date":
                        rng = _date_value(value)
                        if rng:
                            dates.append((rtype, rid, param.name, rng[0], rng[1]))
                    elif param.type == "string":
                        strings.extend((rtype, rid, param.name, normalize_string(s), s) for s in _strings(value))
        refs.extend((rtype, rid, OWNER_PARAM, "Patient", pid) for pid in owners)
        self._conn.executemany("INSERT INTO idx_token VALUES (?,?,?,?,?)", tokens)
        self._conn.executemany("INSERT INTO idx_ref VALUES (?,?,?,?,?)", refs)
        self._conn.executemany("INSERT INTO idx_date VALUES (?,?,?,?,?)", dates)
        self._conn.executemany("INSERT INTO idx_string VALUES (?,?,?,?,?)", strings)

    def _owners(self, resource: dict[str, Any]) -> set[str]:
        """Ids of the patients whose compartment holds this resource."""
        owners, others = direct_owners(resource)
        if resource.get("resourceType") == "Provenance":
            # A Provenance belongs to the patients of what it is about.
            for ttype, tid in others:
                owners.update(
                    r[0]
                    for r in self._conn.execute(
                        "SELECT tid FROM idx_ref WHERE rtype=? AND rid=? AND param=?", (ttype, tid, OWNER_PARAM)
                    )
                )
        return owners

    def owners(self, resource: dict[str, Any]) -> set[str]:
        """Public form of the compartment owners of a resource (used by the HTTP layer)."""
        with self._lock:
            return self._owners(resource)

    def _check_compartment(
        self,
        guard: Guard | None,
        resource: dict[str, Any],
        owners: set[str] | None = None,
        interaction: str = "read",
    ) -> None:
        if guard is None:
            return
        patient = guard.patient_for(interaction, str(resource.get("resourceType")))
        if patient is None:
            return
        if owners is None:
            owners = self._owners(resource)
        if owners - {patient}:
            raise FhirError(
                403,
                f"{resource.get('resourceType')}/{resource.get('id')} belongs to another patient's record",
                "forbidden",
            )

    # ------------------------------------------------------------------ search

    def search(
        self,
        resource_type: str,
        params: Sequence[tuple[str, str]],
        guard: Guard | None = None,
    ) -> SearchResult:
        """Run a search (`params` as (name, value) pairs, repeated names AND-ed); 400 on unknown params."""
        self._check_type(resource_type)
        if guard:
            guard.allow("search", resource_type)
        count = DEFAULT_COUNT
        offset = 0
        sort: list[str] = []
        includes: list[tuple[str, bool]] = []
        revincludes: list[tuple[str, bool]] = []
        summary_count = False
        filters: list[tuple[str, str]] = []
        kept: list[tuple[str, str]] = []
        for name, value in params:
            base = name.split(":", 1)[0]
            if base == "_count":
                count = min(_int_param(name, value, 0, None), MAX_COUNT)
                continue
            if base == "_offset":
                offset = _int_param(name, value, 0, None)
                continue
            kept.append((name, value))
            if base == "_sort":
                sort.extend(v for v in value.split(",") if v)
            elif base == "_include":
                includes.append((value, name.endswith((":iterate", ":recurse"))))
            elif base == "_revinclude":
                revincludes.append((value, name.endswith((":iterate", ":recurse"))))
            elif base == "_summary":
                if value == "count":
                    summary_count = True
                elif value != "false":
                    raise invalid(f"_summary={value} is not supported (only count and false)")
            elif base in RESULT_PARAMS:
                continue
            else:
                filters.append((name, value))
        with self._lock:
            where, args = self._where(resource_type, filters, guard)
            total = self._conn.execute(f"SELECT COUNT(*) FROM current c WHERE {where}", args).fetchone()[0]  # noqa: S608
            matches: list[dict[str, Any]] = []
            included: list[dict[str, Any]] = []
            if not summary_count and count > 0:
                order, order_args = self._order(resource_type, sort)
                rows = self._conn.execute(
                    f"SELECT json FROM current c WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
                    [*args, *order_args, count, offset],
                ).fetchall()
                matches = [json.loads(r[0]) for r in rows]
                included = self._includes(resource_type, matches, includes, revincludes, guard)
            else:
                self._order(resource_type, sort)  # an invalid _sort is still an error
                self._includes(resource_type, [], includes, revincludes, guard)  # validates the params
        return SearchResult(resource_type, matches, included, total, offset, count, kept, summary_count)

    def _match_ids(
        self, resource_type: str, params: Sequence[tuple[str, str]], guard: Guard | None, limit: int
    ) -> list[str]:
        for name, _ in params:
            if name.split(":", 1)[0] in RESULT_PARAMS:
                raise invalid(f"{name} is not allowed in a conditional request")
        where, args = self._where(resource_type, params, guard)
        rows = self._conn.execute(
            f"SELECT id FROM current c WHERE {where} ORDER BY seq LIMIT ?",  # noqa: S608 - where is built from bound params
            [*args, limit],
        ).fetchall()
        return [r[0] for r in rows]

    def _conditional_match(self, rtype: str, query: str, guard: Guard | None) -> dict[str, Any] | None:
        criteria = _parse_query(query)
        if not criteria:
            raise invalid("If-None-Exist needs search criteria")
        ids = self._match_ids(rtype, criteria, guard, limit=2)
        if len(ids) > 1:
            raise FhirError(412, "Multiple resources found matching the If-None-Exist criteria", "multiple-matches")
        if not ids:
            return None
        existing = self._current(rtype, ids[0])
        if existing is not None:
            self._check_compartment(guard, existing)
        return existing

    def _where(self, rtype: str, filters: Sequence[tuple[str, str]], guard: Guard | None) -> tuple[str, list[Any]]:
        clauses = ["c.type = ?"]
        args: list[Any] = [rtype]
        known = params_for(rtype)
        for name, value in filters:
            base, _, modifier = name.partition(":")
            param = known.get(base)
            if param is None:
                raise invalid(f"Unknown search parameter: {name} (for {rtype})")
            clause, cargs = self._param_clause(rtype, param, modifier, value, guard)
            clauses.append(clause)
            args.extend(cargs)
        patient = guard.patient_for("search", rtype) if guard is not None else None
        if patient is not None:
            # A patient-context token only ever sees its own compartment.
            if rtype == "Patient":
                clauses.append("c.id = ?")
                args.append(patient)
            else:
                clauses.append("c.id NOT IN (SELECT rid FROM idx_ref WHERE rtype=? AND param=? AND tid <> ?)")
                args.extend([rtype, OWNER_PARAM, patient])
        return " AND ".join(clauses), args

    def _param_clause(
        self, rtype: str, param: SearchParam, modifier: str, value: str, guard: Guard | None
    ) -> tuple[str, list[Any]]:
        if modifier == "missing":
            if value not in ("true", "false"):
                raise invalid(f"{param.name}:missing takes true or false")
            if param.name == "_id":
                return ("0" if value == "true" else "1"), []
            table = _TABLE_OF_TYPE[param.type]
            op = "NOT IN" if value == "true" else "IN"
            return f"c.id {op} (SELECT rid FROM {table} WHERE rtype=? AND param=?)", [rtype, param.name]  # noqa: S608
        alternatives = split_or(value)
        ors: list[str] = []
        args: list[Any] = []
        if param.name == "_id":
            if modifier:
                raise invalid(f"Modifier :{modifier} is not supported on _id")
            marks = ",".join("?" for _ in alternatives)
            return f"c.id IN ({marks})", list(alternatives)
        if param.type == "token":
            if modifier:
                raise invalid(f"Modifier :{modifier} is not supported on {param.name}")
            for alt in alternatives:
                system, code, has_system = parse_token(alt)
                parts = []
                if code is not None:
                    parts.append("code = ?")
                    args.append(code)
                if has_system:
                    if system:
                        parts.append("system = ?")
                        args.append(system)
                    else:
                        parts.append("system IS NULL")
                ors.append("(" + " AND ".join(parts or ["1"]) + ")")
            return (
                f"c.id IN (SELECT rid FROM idx_token WHERE rtype=? AND param=? AND ({' OR '.join(ors)}))",  # noqa: S608
                [rtype, param.name, *args],
            )
        if param.type == "reference":
            type_filter = None
            if modifier:
                if modifier[:1].isupper() and (param.targets is None or modifier in param.targets):
                    type_filter = modifier
                else:
                    raise invalid(f"Modifier :{modifier} is not supported on {param.name}")
            for alt in alternatives:
                target = split_reference(alt)
                if target is None:
                    if "/" in alt or not alt:
                        raise invalid(f"Invalid reference search value '{alt}'")
                    ttype, tid = type_filter, alt
                else:
                    ttype, tid = target
                    if type_filter and ttype != type_filter:
                        raise invalid(f"Reference '{alt}' does not match modifier :{type_filter}")
                patient = guard.patient_for("search", rtype) if guard is not None else None
                if (
                    patient is not None
                    and tid != patient
                    and (ttype == "Patient" or (ttype is None and param.targets == ("Patient",)))
                ):
                    raise FhirError(403, "This search asks for another patient's data", "forbidden")
                if ttype:
                    ors.append("(ttype = ? AND tid = ?)")
                    args.extend([ttype, tid])
                else:
                    ors.append("(tid = ?)")
                    args.append(tid)
            return (
                f"c.id IN (SELECT rid FROM idx_ref WHERE rtype=? AND param=? AND ({' OR '.join(ors)}))",  # noqa: S608
                [rtype, param.name, *args],
            )
        if param.type == "date":
            if modifier:
                raise invalid(f"Modifier :{modifier} is not supported on {param.name}")
            for alt in alternatives:
                prefix, low, high = parse_date_search(alt)
                cond, cargs = _date_condition(prefix, low, high, "low", "high")
                ors.append(cond)
                args.extend(cargs)
            return (
                f"c.id IN (SELECT rid FROM idx_date WHERE rtype=? AND param=? AND ({' OR '.join(ors)}))",  # noqa: S608
                [rtype, param.name, *args],
            )
        if param.type == "string":
            if modifier not in ("", "exact", "contains"):
                raise invalid(f"Modifier :{modifier} is not supported on {param.name}")
            for alt in alternatives:
                if modifier == "exact":
                    ors.append("raw = ?")
                    args.append(alt)
                else:
                    needle = _like_escape(normalize_string(alt))
                    ors.append("value LIKE ? ESCAPE '\\'")
                    args.append(("%" if modifier == "contains" else "") + needle + "%")
            return (
                f"c.id IN (SELECT rid FROM idx_string WHERE rtype=? AND param=? AND ({' OR '.join(ors)}))",  # noqa: S608
                [rtype, param.name, *args],
            )
        raise invalid(f"Search parameter {param.name} of type {param.type} is not supported")

    def _order(self, rtype: str, sort: list[str]) -> tuple[str, list[Any]]:
        known = params_for(rtype)
        terms: list[str] = []
        args: list[Any] = []
        for key in sort:
            desc = key.startswith("-")
            name = key.lstrip("-")
            direction = "DESC" if desc else "ASC"
            if name == "_lastUpdated":
                terms.append(f"c.last_updated {direction}")
            elif name == "_id":
                terms.append(f"c.id {direction}")
            elif name in known and known[name].type == "date":
                # Each row's own values, by its resource (`INDEXED BY`): left to itself, SQLite answers MIN(low) by
                # walking the index on `low` until it meets the row's id, once per row (42 s for 20,000 scores).
                agg = "MAX(high)" if desc else "MIN(low)"
                terms.append(
                    f"(SELECT {agg} FROM idx_date d INDEXED BY idx_date_rid "  # noqa: S608
                    f"WHERE d.rtype=c.type AND d.rid=c.id AND d.param=?) {direction}"
                )
                args.append(name)
            elif name in known and known[name].type in ("token", "string"):
                table = _TABLE_OF_TYPE[known[name].type]
                col = "code" if known[name].type == "token" else "value"
                terms.append(
                    f"(SELECT MIN({col}) FROM {table} x INDEXED BY {table}_rid "  # noqa: S608
                    f"WHERE x.rtype=c.type AND x.rid=c.id AND x.param=?) {direction}"
                )
                args.append(name)
            else:
                raise invalid(f"Cannot sort {rtype} on '{name}'")
        terms.append("c.seq ASC")
        return ", ".join(terms), args

    # ------------------------------------------------------------------ include / revinclude

    def _includes(
        self,
        rtype: str,
        matches: list[dict[str, Any]],
        includes: list[tuple[str, bool]],
        revincludes: list[tuple[str, bool]],
        guard: Guard | None,
    ) -> list[dict[str, Any]]:
        inc = [(self._include_spec(v, "_include"), it) for v, it in includes]
        rev = [(self._include_spec(v, "_revinclude"), it) for v, it in revincludes]
        if not matches:
            return []
        seen: set[tuple[str, str]] = {(r["resourceType"], r["id"]) for r in matches}
        result: list[dict[str, Any]] = []

        def expand(sources: list[dict[str, Any]], iterate_only: bool) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            keys: list[tuple[str, str]] = []
            for (source_type, param, target_type), iterate in inc:
                if iterate_only and not iterate:
                    continue
                ids = [r["id"] for r in sources if r["resourceType"] == source_type]
                for chunk in _chunks(ids):
                    marks = ",".join("?" for _ in chunk)
                    sql = f"SELECT ttype, tid FROM idx_ref WHERE rtype=? AND param=? AND rid IN ({marks})"  # noqa: S608
                    for ttype, tid in self._conn.execute(sql, [source_type, param, *chunk]):
                        if target_type is None or ttype == target_type:
                            keys.append((ttype, tid))
            for (source_type, param, target_type), iterate in rev:
                if iterate_only and not iterate:
                    continue
                targets = [(r["resourceType"], r["id"]) for r in sources]
                if target_type is not None:
                    targets = [t for t in targets if t[0] == target_type]
                by_id: dict[str, set[str]] = {}
                for ttype, tid in targets:
                    by_id.setdefault(tid, set()).add(ttype)
                for chunk in _chunks(list(by_id)):
                    marks = ",".join("?" for _ in chunk)
                    sql = f"SELECT rid, ttype, tid FROM idx_ref WHERE rtype=? AND param=? AND tid IN ({marks})"  # noqa: S608
                    for rid, ttype, tid in self._conn.execute(sql, [source_type, param, *chunk]):
                        if ttype in by_id.get(tid, ()):
                            keys.append((source_type, rid))
            fresh = [k for k in dict.fromkeys(keys) if k not in seen]
            for resource in self._fetch(fresh):
                key = (resource["resourceType"], resource["id"])
                if key in seen or not self._visible(guard, resource):
                    continue
                seen.add(key)
                found.append(resource)
            return found

        first = expand(matches, iterate_only=False)
        result.extend(first)
        frontier = matches + first
        for _ in range(_MAX_INCLUDE_ROUNDS):
            if not any(it for _, it in inc + rev) or not frontier:
                break
            frontier = expand(frontier, iterate_only=True)
            result.extend(frontier)
        return result

    def _include_spec(self, value: str, kind: str) -> tuple[str, str, str | None]:
        parts = value.split(":")
        if len(parts) not in (2, 3):
            raise invalid(f"{kind}={value}: expected SourceType:param[:TargetType]")
        source_type, param_name = parts[0], parts[1]
        target_type = parts[2] if len(parts) == 3 else None
        param = params_for(source_type).get(param_name) if source_type in SUPPORTED_TYPES else None
        if param is None or param.type != "reference":
            raise invalid(f"{kind}={value}: {source_type} has no reference search parameter '{param_name}'")
        return source_type, param_name, target_type

    def _visible(self, guard: Guard | None, resource: dict[str, Any]) -> bool:
        if guard is None:
            return True
        rtype = resource["resourceType"]
        if not guard.can("read", rtype):
            return False
        patient = guard.patient_for("read", rtype)
        if patient is None:
            return True
        if rtype == "Patient":
            return bool(resource["id"] == patient)
        owners = {
            r[0]
            for r in self._conn.execute(
                "SELECT tid FROM idx_ref WHERE rtype=? AND rid=? AND param=?",
                (resource["resourceType"], resource["id"], OWNER_PARAM),
            )
        }
        return not (owners - {patient})

    def _fetch(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        by_type: dict[str, list[str]] = {}
        order: list[tuple[str, str]] = []
        for key in keys:
            by_type.setdefault(key[0], []).append(key[1])
            order.append(key)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for rtype, ids in by_type.items():
            for chunk in _chunks(ids):
                marks = ",".join("?" for _ in chunk)
                sql = f"SELECT id, json FROM current WHERE type=? AND id IN ({marks})"  # noqa: S608
                for rid, text in self._conn.execute(sql, [rtype, *chunk]):
                    found[(rtype, rid)] = json.loads(text)
        return [found[k] for k in order if k in found]

    # ------------------------------------------------------------------ bundles

    def transaction(self, bundle: dict[str, Any], base_url: str, guard: Guard | None = None) -> dict[str, Any]:
        """Process a `transaction` Bundle atomically and return the `transaction-response` Bundle."""
        from sandbox.fhir import bundles

        entries = _bundle_entries(bundle)
        with self._unit():
            id_map: dict[str, str] = {}
            plans: list[dict[str, Any]] = []
            for index, entry in enumerate(entries):
                plans.append(self._plan_entry(index, entry, id_map, guard))
            for plan in plans:
                if plan.get("resource") is not None:
                    plan["resource"] = _rewrite_references(plan["resource"], id_map)
            responses: list[dict[str, Any] | None] = [None] * len(plans)
            for method in ("POST", "PUT", "GET"):
                for plan in plans:
                    if plan["method"] != method:
                        continue
                    try:
                        responses[plan["index"]] = self._execute(plan, base_url, guard)
                    except FhirError as exc:
                        raise FhirError(
                            exc.status,
                            f"Transaction failed at entry {plan['index']}: {exc.diagnostics}",
                            exc.code,
                            exc.expression,
                        ) from exc
            return bundles.response_bundle("transaction-response", [r or {} for r in responses])

    def batch(self, bundle: dict[str, Any], base_url: str, guard: Guard | None = None) -> dict[str, Any]:
        """Process a `batch` Bundle, every entry on its own, and return the `batch-response` Bundle."""
        from sandbox.fhir import bundles

        entries = _bundle_entries(bundle)
        responses: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            try:
                with self._unit():
                    plan = self._plan_entry(index, entry, {}, guard)
                    responses.append(self._execute(plan, base_url, guard))
            except FhirError as exc:
                responses.append(bundles.error_entry(exc))
        return bundles.response_bundle("batch-response", responses)

    def _plan_entry(self, index: int, entry: Any, id_map: dict[str, str], guard: Guard | None) -> dict[str, Any]:
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
            raise invalid(f"Bundle entry {index} has no request")
        request = entry["request"]
        method = str(request.get("method", "")).upper()
        url = str(request.get("url", "")).strip()
        if not url:
            raise invalid(f"Bundle entry {index} has no request.url")
        path, _, query = url.partition("?")
        segments = [s for s in path.split("/") if s]
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        plan: dict[str, Any] = {
            "index": index,
            "method": method,
            "segments": segments,
            "query": query,
            "request": request,
            "resource": resource,
        }
        if method == "POST":
            if len(segments) != 1 or not isinstance(resource, dict):
                raise invalid(f"Bundle entry {index}: POST needs url 'Type' and a resource")
            rtype = segments[0]
            if resource.get("resourceType") != rtype:
                raise invalid(f"Bundle entry {index}: resource type does not match url {url}")
            self._check_type(rtype)
            if guard:
                guard.allow("create", rtype)
            existing = None
            if request.get("ifNoneExist"):
                existing = self._conditional_match(rtype, str(request["ifNoneExist"]), guard)
            plan["existing"] = existing
            plan["id"] = existing["id"] if existing else str(uuid.uuid4())
            if full_url:
                id_map[str(full_url)] = f"{rtype}/{plan['id']}"
        elif method == "PUT":
            if not segments or not isinstance(resource, dict):
                raise invalid(f"Bundle entry {index}: PUT needs a url and a resource")
            rtype = segments[0]
            self._check_type(rtype)
            if guard:
                guard.allow("update", rtype)
            if len(segments) == 1 and query:
                ids = self._match_ids(rtype, _parse_query(query), guard, limit=2)
                if len(ids) > 1:
                    raise FhirError(412, f"Bundle entry {index}: several resources match {url}", "multiple-matches")
                plan["id"] = ids[0] if ids else (resource.get("id") or str(uuid.uuid4()))
            elif len(segments) == 2:
                plan["id"] = segments[1]
            else:
                raise invalid(f"Bundle entry {index}: PUT url must be 'Type/id' or 'Type?criteria'")
            if full_url:
                id_map[str(full_url)] = f"{rtype}/{plan['id']}"
        elif method in ("GET", "HEAD"):
            plan["method"] = "GET"
        elif method in ("DELETE", "PATCH"):
            raise FhirError(405, f"Bundle entry {index}: {method} is not supported by this server")
        else:
            raise invalid(f"Bundle entry {index}: unknown method '{method}'")
        return plan

    def _execute(self, plan: dict[str, Any], base_url: str, guard: Guard | None) -> dict[str, Any]:
        from sandbox.fhir import bundles

        request = plan["request"]
        segments: list[str] = plan["segments"]
        if plan["method"] == "POST":
            if plan.get("existing") is not None:
                return bundles.write_entry(plan["existing"], 200, base_url)
            body = dict(plan["resource"])
            result = self._write(segments[0], plan["id"], body, guard, must_be_new=True)
            return bundles.write_entry(result.resource, 201, base_url)
        if plan["method"] == "PUT":
            body = dict(plan["resource"])
            if body.get("id") not in (None, plan["id"]):
                raise invalid(f"The id in the body does not match the url {request.get('url')}")
            body["id"] = plan["id"]
            if not is_valid_id(plan["id"]):
                raise invalid(f"'{plan['id']}' is not a valid FHIR id")
            result = self._write(segments[0], plan["id"], body, guard, if_match=request.get("ifMatch"))
            return bundles.write_entry(result.resource, result.status, base_url)
        # GET: read, vread, history or search
        if not segments:
            raise invalid("GET entries need a url")
        rtype = segments[0]
        if len(segments) == 1:
            result_set = self.search(rtype, _parse_query(plan["query"]), guard)
            return {"resource": bundles.searchset(result_set, base_url), "response": {"status": "200 OK"}}
        if len(segments) == 2:
            resource = self.read(rtype, segments[1], guard)
            return bundles.write_entry(resource, 200, base_url)
        if len(segments) == 3 and segments[2] == "_history":
            versions = self.history(rtype, segments[1], guard)
            return {"resource": bundles.history(versions, base_url), "response": {"status": "200 OK"}}
        if len(segments) == 4 and segments[2] == "_history":
            resource = self.vread(rtype, segments[1], segments[3], guard)
            return bundles.write_entry(resource, 200, base_url)
        raise invalid(f"Unsupported GET url {request.get('url')}")

    # ------------------------------------------------------------------ seeding

    def load(self, data: dict[str, Any] | Iterable[dict[str, Any]]) -> list[str]:
        """Seed resources directly (no auth): a list of resources or a Bundle; returns 'Type/id' of each.

        Resources keep their ids (a new version when one exists). A transaction or batch Bundle is
        processed as such; any other Bundle has its entries stored, with `urn:uuid:` fullUrls
        resolved to the ids given or assigned. The whole load is atomic.
        """
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            if data.get("type") in ("transaction", "batch"):
                response = self.transaction(data, "") if data["type"] == "transaction" else self.batch(data, "")
                return [
                    "/".join(str(e.get("response", {}).get("location", "")).split("/")[:2])
                    for e in response.get("entry", [])
                ]
            items = [(e.get("fullUrl"), e["resource"]) for e in data.get("entry", []) if "resource" in e]
        elif isinstance(data, dict):
            items = [(None, data)]
        else:
            items = [(None, r) for r in data]
        with self._unit():
            id_map: dict[str, str] = {}
            prepared: list[dict[str, Any]] = []
            for full_url, resource in items:
                rtype = self._resource_type(resource)
                body = dict(resource)
                body["id"] = body.get("id") or str(uuid.uuid4())
                if full_url:
                    id_map[str(full_url)] = f"{rtype}/{body['id']}"
                prepared.append(body)
            written: list[str] = []
            for body in prepared:
                body = _rewrite_references(body, id_map)
                if not is_valid_id(str(body["id"])):
                    raise invalid(f"'{body['id']}' is not a valid FHIR id")
                result = self._write(body["resourceType"], str(body["id"]), body, None)
                written.append(f"{body['resourceType']}/{result.resource['id']}")
            return written

    def all_of_type(self, resource_type: str) -> list[dict[str, Any]]:
        """Every current resource of one type, in creation order (for the sandbox's own pages)."""
        self._check_type(resource_type)
        with self._lock:
            rows = self._conn.execute("SELECT json FROM current WHERE type=? ORDER BY seq", (resource_type,))
            return [json.loads(r[0]) for r in rows.fetchall()]


# ---------------------------------------------------------------------- helpers


def _int_param(name: str, value: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise invalid(f"{name} must be a whole number") from None
    if number < low or (high is not None and number > high):
        raise invalid(f"{name}={value} is out of range")
    return number


def _parse_query(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query.lstrip("?"), keep_blank_values=True)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _date_condition(prefix: str, low: str, high: str, lo_col: str, hi_col: str) -> tuple[str, list[str]]:
    if prefix == "eq":
        return f"({lo_col} >= ? AND {hi_col} <= ?)", [low, high]
    if prefix == "ne":
        return f"NOT ({lo_col} >= ? AND {hi_col} <= ?)", [low, high]
    if prefix == "gt":
        return f"({hi_col} > ?)", [high]
    if prefix == "lt":
        return f"({lo_col} < ?)", [low]
    if prefix == "ge":
        return f"({hi_col} >= ?)", [low]
    if prefix == "le":
        return f"({lo_col} <= ?)", [high]
    if prefix == "sa":
        return f"({lo_col} > ?)", [high]
    if prefix == "eb":
        return f"({hi_col} < ?)", [low]
    # ap: the (widened) ranges overlap
    return f"({lo_col} <= ? AND {hi_col} >= ?)", [high, low]


def _tokens(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, bool):
        return [(None, "true" if value else "false")]
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, dict):
        is_concept = "coding" in value or ("text" in value and "code" not in value and "value" not in value)
        if is_concept:
            return [(c.get("system"), c["code"]) for c in value.get("coding", []) if c.get("code")]
        if "code" in value:
            return [(value.get("system"), str(value["code"]))]
        if "value" in value:
            return [(value.get("system"), str(value["value"]))]
    return []


def _reference_target(value: Any) -> tuple[str, str] | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return split_reference(value["reference"])
    return None


def _date_value(value: Any) -> tuple[str, str] | None:
    if isinstance(value, str):
        return date_range(value)
    if isinstance(value, dict) and ("start" in value or "end" in value):
        start = date_range(value["start"]) if isinstance(value.get("start"), str) else None
        end = date_range(value["end"]) if isinstance(value.get("end"), str) else None
        return (start[0] if start else LOWEST), (end[1] if end else HIGHEST)
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        found: list[str] = []
        for key in ("text", "family", "given", "prefix", "suffix"):
            item = value.get(key)
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, list):
                found.extend(x for x in item if isinstance(x, str))
        return found
    return []


def _rewrite_references(value: Any, id_map: dict[str, str]) -> Any:
    """Copy of `value` with every Reference.reference found in `id_map` replaced (extensions too)."""
    if not id_map:
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item in id_map:
                out[key] = id_map[item]
            else:
                out[key] = _rewrite_references(item, id_map)
        return out
    if isinstance(value, list):
        return [_rewrite_references(v, id_map) for v in value]
    return value


def _bundle_entries(bundle: Any) -> list[Any]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise invalid("Expected a Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise invalid("Bundle.entry must be a list")
    return entries
