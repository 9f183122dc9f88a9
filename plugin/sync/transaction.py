"""One user action = one FHIR ``transaction`` Bundle: building it, sending it, reading the answer.

- creates get ``urn:uuid:`` fullUrls and ``ifNoneExist`` on the product identifier, so a retried create
  never makes a duplicate;
- updates get ``ifMatch`` = the version that was read;
- one Provenance names everything written, the launching user and the activity. R4 Provenance has no
  ``identifier`` element (and no ``identifier`` search parameter), so its idempotency key travels as a
  ``meta.tag`` and the create is conditional on ``_tag``: a replay never duplicates it, and finding it
  proves that an earlier attempt committed.

A server that refuses a transaction as too large (Medplum 4.5: more than 8 entries once any entry is
conditional, more than 50 updates) gets the same save as the fewest transactions it accepts, split in
dependency order; see :func:`split_bundle` and docs/sync.md "Server limits".

Servers without transactions get ordered requests instead (logged as degraded). Outages there are
recovered forwards (replay is idempotent); a permanent refusal is compensated backwards: updates are
restored to the version read, creates are retired (entered-in-error / inactive), because this product
never deletes.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir_mappings.refs import URN_UUID
from fhir_mappings.to_fhir import provenance
from plugin.sync.capabilities import ServerCapabilities, TransactionLimits
from plugin.sync.client import FhirClient, FhirResponse, entry_status, parse_etag, weak_etag
from plugin.sync.errors import Forbidden, JsonDict, OutageError, PreconditionFailed, SyncError

log = logging.getLogger(__name__)


# How to retire a resource we created when a later step of a non-transactional save fails for good.
RETIRE: Mapping[str, tuple[str, Any]] = {
    "Appointment": ("status", "entered-in-error"),
    "CarePlan": ("status", "entered-in-error"),
    "CareTeam": ("status", "entered-in-error"),
    "Communication": ("status", "entered-in-error"),
    "Goal": ("lifecycleStatus", "entered-in-error"),
    "Location": ("status", "inactive"),
    "Observation": ("status", "entered-in-error"),
    "Practitioner": ("active", False),
    "PractitionerRole": ("active", False),
    "RelatedPerson": ("active", False),
    "Task": ("status", "entered-in-error"),
}


def new_placeholder() -> str:
    """A fresh ``urn:uuid:`` to name a resource that does not exist yet."""
    return f"{URN_UUID}{uuid.uuid4()}"


@dataclass(frozen=True)
class PendingCreate:
    """A resource to create; ``placeholder`` is its ``urn:uuid:`` fullUrl inside the Bundle."""

    placeholder: str
    resource: JsonDict
    if_none_exist: str


@dataclass(frozen=True)
class PendingUpdate:
    """A resource to update; ``version`` is the version read, ``base`` the resource as read (for merges)."""

    key: str
    resource: JsonDict
    version: str
    base: JsonDict | None = None


@dataclass
class ChangeSet:
    """Everything one user action writes, turned into one transaction Bundle by :meth:`to_bundle`.

    ``identifier_system`` is the product's identifier system (conditional creates match on it);
    ``idempotency_tag_system`` the system of the Provenance tag that makes a replay recognisable.
    """

    identifier_system: str
    idempotency_tag_system: str
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    creates: list[PendingCreate] = field(default_factory=list)
    updates: list[PendingUpdate] = field(default_factory=list)

    def create(self, resource: JsonDict, *, placeholder: str | None = None) -> str:
        """Add a create; returns the ``urn:uuid:`` to reference it from other resources in this change set.

        The resource must carry an identifier of ``identifier_system``: that is what makes a retry safe.
        """
        rtype = resource.get("resourceType")
        if not rtype or rtype == "Provenance":
            raise ValueError("create() needs a resourceType (the Provenance is added by to_bundle)")
        value = self._product_identifier(resource)
        ref = placeholder or new_placeholder()
        if not ref.startswith(URN_UUID):
            raise ValueError(f"placeholder must be a urn:uuid:, got {ref!r}")
        if any(c.placeholder == ref for c in self.creates):
            raise ValueError(f"placeholder {ref} used twice")
        body = copy.deepcopy(resource)
        body.pop("id", None)
        body.pop("meta", None)
        if labels := data_meta(resource):
            body["meta"] = labels
        self.creates.append(PendingCreate(ref, body, f"identifier={self.identifier_system}|{value}"))
        return ref

    def update(self, resource: JsonDict, *, version: str, base: JsonDict | None = None) -> str:
        """Add an update of a resource read at ``version``; returns its ``Type/id`` reference.

        ``base`` (the resource as read) enables the automatic three-way merge after a 409/412.
        """
        if not resource.get("resourceType") or not resource.get("id"):
            raise ValueError("update() needs resourceType and id")
        key = f"{resource['resourceType']}/{resource['id']}"
        body = copy.deepcopy(resource)
        body.pop("meta", None)  # the server owns meta.versionId/lastUpdated; keeping them confuses some servers
        if labels := data_meta(resource):
            body["meta"] = labels
        self.updates = [u for u in self.updates if u.key != key]
        self.updates.append(PendingUpdate(key, body, parse_etag(version), copy.deepcopy(base) if base else None))
        return key

    def update_for(self, key: str) -> PendingUpdate | None:
        """The pending update of ``Type/id``, if any."""
        return next((u for u in self.updates if u.key == key), None)

    @property
    def written(self) -> list[str]:
        """References of everything this change set writes: placeholders for creates, ``Type/id`` for updates."""
        return [c.placeholder for c in self.creates] + [u.key for u in self.updates]

    def __bool__(self) -> bool:
        return bool(self.creates or self.updates)

    def _product_identifier(self, resource: JsonDict) -> str:
        for ident in resource.get("identifier") or []:
            if ident.get("system") == self.identifier_system and ident.get("value"):
                return str(ident["value"])
        raise ValueError(
            f"{resource.get('resourceType')} has no identifier of system {self.identifier_system}: "
            "a create without it could be duplicated by a retry"
        )

    def provenance(
        self,
        *,
        agent: str,
        activity: JsonDict,
        recorded: dt.datetime | None = None,
        agent_display: str | None = None,
        reason: str | None = None,
    ) -> JsonDict:
        """The Provenance for this change set (target = everything written, agent = the launching user)."""
        when = recorded or dt.datetime.now(dt.UTC)
        if when.tzinfo is None:
            raise ValueError("recorded must be timezone-aware")
        return provenance(
            targets=self.written,
            agent=agent,
            recorded=when,
            activity=activity,
            tag=(self.idempotency_tag_system, self.idempotency_key),
            agent_display=agent_display,
            reason=reason,
        )

    def to_bundle(
        self,
        *,
        agent: str,
        activity: JsonDict,
        recorded: dt.datetime | None = None,
        agent_display: str | None = None,
        reason: str | None = None,
    ) -> JsonDict:
        """The transaction Bundle: creates, updates, then the Provenance. ``agent`` is a fhirUser reference."""
        if not self:
            raise ValueError("an empty change set has nothing to save")
        entries: list[JsonDict] = [
            {
                "fullUrl": c.placeholder,
                "resource": copy.deepcopy(c.resource),
                "request": {"method": "POST", "url": c.resource["resourceType"], "ifNoneExist": c.if_none_exist},
            }
            for c in self.creates
        ]
        entries += [
            {
                "resource": copy.deepcopy(u.resource),
                "request": {"method": "PUT", "url": u.key, "ifMatch": weak_etag(u.version)},
            }
            for u in self.updates
        ]
        prov = self.provenance(
            agent=agent, activity=activity, recorded=recorded, agent_display=agent_display, reason=reason
        )
        entries.append(
            {
                # Derived from the key so a rebuilt bundle of the same action is byte-for-byte the same.
                "fullUrl": f"{URN_UUID}{uuid.uuid5(uuid.NAMESPACE_URL, 'provenance:' + self.idempotency_key)}",
                "resource": prov,
                "request": {
                    "method": "POST",
                    "url": "Provenance",
                    "ifNoneExist": f"_tag={self.idempotency_tag_system}|{self.idempotency_key}",
                },
            }
        )
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def fhir_user_reference(fhir_user: str, base_url: str | None = None) -> str:
    """The launch's ``fhirUser`` as a reference: relative (``Practitioner/1``) when it lives on ``base_url``."""
    if base_url and fhir_user.startswith(base_url.rstrip("/") + "/"):
        return fhir_user[len(base_url.rstrip("/")) + 1 :]
    return fhir_user


def is_idempotent(bundle: JsonDict) -> bool:
    """True when sending ``bundle`` twice cannot write twice: creates conditional, updates/patches ifMatch."""
    for entry in bundle.get("entry") or []:
        req = entry.get("request") or {}
        method = str(req.get("method", "")).upper()
        if method == "POST" and not req.get("ifNoneExist"):
            return False
        if method in ("PUT", "PATCH", "DELETE") and not req.get("ifMatch"):
            return False
    return True


_DATA_META = ("tag", "profile", "security", "source")


def data_meta(resource: JsonDict) -> JsonDict:
    """The parts of `meta` that are data others rely on (tags, profiles, security labels, source).

    The server owns versionId and lastUpdated; the rest must survive a create and an update.
    """
    meta = resource.get("meta") or {}
    return {k: meta[k] for k in _DATA_META if meta.get(k)}


def idempotency_tag(bundle: JsonDict) -> tuple[str, str] | None:
    """(system, code) of the Provenance idempotency tag in a Bundle built by :class:`ChangeSet`."""
    for entry in bundle.get("entry") or []:
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Provenance":
            for tag in (res.get("meta") or {}).get("tag") or []:
                if tag.get("system") and tag.get("code"):
                    return str(tag["system"]), str(tag["code"])
    return None


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class Written:
    """One resource the save wrote (or found already written)."""

    request_ref: str  # urn:uuid:... for creates, Type/id for updates
    reference: str  # Type/id on the server
    version_id: str | None
    status: int
    resource: JsonDict | None = None

    @property
    def created(self) -> bool:
        """The server created it now (201), as opposed to finding it by ifNoneExist (200)."""
        return self.status == 201


@dataclass(frozen=True)
class TransactionResult:
    """What a save wrote. ``already_applied``: an earlier attempt had committed (versions then unknown)."""

    written: tuple[Written, ...]
    idempotency_key: str | None = None
    already_applied: bool = False
    degraded: bool = False

    def resolve(self, ref: str) -> str:
        """Real ``Type/id`` for a placeholder or a reference written by this save."""
        for w in self.written:
            if ref in (w.request_ref, w.reference):
                return w.reference
        raise KeyError(ref)

    def version(self, ref: str) -> str | None:
        """New version id of a written resource (None when unknown)."""
        for w in self.written:
            if ref in (w.request_ref, w.reference):
                return w.version_id
        raise KeyError(ref)

    @property
    def ids(self) -> dict[str, str]:
        """Placeholder -> ``Type/id`` for every create."""
        return {w.request_ref: w.reference for w in self.written if w.request_ref.startswith(URN_UUID)}

    @property
    def provenance(self) -> Written | None:
        """The Provenance written with the save."""
        return next((w for w in self.written if w.reference.startswith("Provenance/")), None)


def _split_location(location: str) -> tuple[str, str | None]:
    """``[base/]Type/id[/_history/vid]`` -> (``Type/id``, vid)."""
    parts = [p for p in location.split("?")[0].split("/") if p]
    if "_history" in parts:
        i = parts.index("_history")
        vid = parts[i + 1] if i + 1 < len(parts) else None
        parts = parts[:i]
        return "/".join(parts[-2:]), vid
    return "/".join(parts[-2:]), None


def parse_transaction_response(request: JsonDict, response: JsonDict) -> TransactionResult:
    """Map each request entry to what the server wrote (entries answer in request order, as R4 requires)."""
    if response.get("resourceType") != "Bundle" or response.get("type") not in (
        "transaction-response",
        "batch-response",
    ):
        raise SyncError("transaction answer is not a transaction-response Bundle")
    req_entries = request.get("entry") or []
    resp_entries = response.get("entry") or []
    if len(req_entries) != len(resp_entries):
        raise SyncError(f"transaction answer has {len(resp_entries)} entries for {len(req_entries)} requests")
    written: list[Written] = []
    for req, resp in zip(req_entries, resp_entries, strict=True):
        answer = resp.get("response") or {}
        res = resp.get("resource") if isinstance(resp.get("resource"), dict) else None
        ref, vid = _split_location(str(answer.get("location") or ""))
        if res and res.get("id"):
            ref = f"{res['resourceType']}/{res['id']}"
            vid = vid or (res.get("meta") or {}).get("versionId")
        if answer.get("etag"):
            vid = parse_etag(str(answer["etag"]))
        request_ref = req.get("fullUrl") if str(req.get("fullUrl", "")).startswith(URN_UUID) else None
        written.append(
            Written(
                request_ref=request_ref or str((req.get("request") or {}).get("url")),
                reference=ref,
                version_id=vid,
                status=entry_status(answer.get("status"), 0),
                resource=res,
            )
        )
    tag = idempotency_tag(request)
    return TransactionResult(tuple(written), idempotency_key=tag[1] if tag else None)


# ---------------------------------------------------------------------- sending


def find_applied(client: FhirClient, bundle: JsonDict) -> TransactionResult | None:
    """If an earlier attempt of ``bundle`` committed, what it wrote (found by its Provenance tag); else None."""
    tag = idempotency_tag(bundle)
    if tag is None:
        return None
    try:
        found = client.search("Provenance", [("_tag", f"{tag[0]}|{tag[1]}")]).json()
    except Forbidden as exc:
        # A launch that may write Provenances need not be allowed to search them (a patient's often is not):
        # then "unknown" - the caller re-reads the group, where a committed save shows itself.
        log.info("cannot look for an earlier attempt of save %s: %s", tag[1], exc.diagnostics)
        return None
    provs = [e["resource"] for e in found.get("entry") or [] if (e.get("resource") or {}).get("resourceType")]
    if not provs:
        return None
    prov = provs[0]
    targets = [str(t.get("reference", "")) for t in prov.get("target") or []]
    requests_ = [e for e in bundle.get("entry") or [] if (e.get("resource") or {}).get("resourceType") != "Provenance"]
    written: list[Written] = []
    # The Provenance lists its targets in request order; the server rewrote placeholders to real ids.
    for entry, target in zip(requests_, targets, strict=False):
        ref, vid = _split_location(target)
        full = str(entry.get("fullUrl", ""))
        written.append(Written(full if full.startswith(URN_UUID) else str(entry["request"]["url"]), ref, vid, 200))
    written.append(Written("Provenance", f"Provenance/{prov['id']}", (prov.get("meta") or {}).get("versionId"), 200))
    log.info("fhir save %s had already been applied by an earlier attempt", tag[1])
    return TransactionResult(tuple(written), idempotency_key=tag[1], already_applied=True)


def submit(
    client: FhirClient,
    bundle: JsonDict,
    *,
    capabilities: ServerCapabilities | None = None,
    bases: Mapping[str, JsonDict] | None = None,
) -> TransactionResult:
    """Save a transaction Bundle: as one transaction when the server can, else ordered with compensation.

    A 409/412 first checks whether an earlier attempt of this very Bundle committed (then it is done);
    otherwise :class:`PreconditionFailed` is raised for the caller's re-read and re-apply.
    ``bases`` (the resources as read, by ``Type/id``) let a split save merge a stale update in a later part.
    """
    try:
        if capabilities is not None and not capabilities.supports_transaction:
            return submit_sequential(client, bundle)
        limits = capabilities.limits if capabilities is not None else TransactionLimits()
        for _ in range(_MAX_LEARNING_ROUNDS):
            parts = split_bundle(bundle, limits)
            try:
                if len(parts) == 1:
                    return _submit_one(client, bundle)
                return _submit_parts(client, bundle, parts, bases)
            except SyncError as exc:
                if isinstance(exc, OutageError) or getattr(exc, "after_parts", None) is not None:
                    raise
                learned = limits_from_refusal(exc, parts[0])
                if learned is None or not limits.learn(**learned, why=exc.diagnostics):
                    raise
                log.warning(
                    "fhir server %s refused a transaction of %d entries as too large (%s): now max %s entries, "
                    "max %s updates per transaction",
                    client.base_url,
                    len(parts[0].get("entry") or []),
                    exc.diagnostics,
                    limits.max_entries,
                    limits.max_updates,
                )
        raise SyncError("the server keeps refusing the save as too large, however it is split")
    except OutageError as exc:
        exc.bundle = bundle  # so the caller can park exactly this Bundle in the outbox
        raise


def _submit_one(client: FhirClient, bundle: JsonDict) -> TransactionResult:
    try:
        answer = client.transaction(bundle, idempotent=is_idempotent(bundle))
    except PreconditionFailed:
        applied = find_applied(client, bundle)
        if applied is not None:
            return applied
        raise
    return parse_transaction_response(bundle, answer.json())


# ---------------------------------------------------------------------- server limits: split saves

_MAX_LEARNING_ROUNDS = 6
_MAX_MERGES = 3

# Refusals whose limit is known from the server's source: (lower-case phrase, which limit, its value).
_KNOWN_LIMITS: tuple[tuple[str, str, int], ...] = (
    # Medplum 4.5: a transaction that needs serializable isolation (any conditional entry) has at most 8 entries.
    ("requires strict isolation but has too many entries", "max_entries", 8),
    # Medplum 4.5: at most 50 update operations in one transaction.
    ("more update operations than allowed", "max_updates", 50),
)
_TOO_LARGE = re.compile(r"too (many|large|big)|exceed|more than", re.IGNORECASE)
_ISSUE_CODES = frozenset({"invalid", "too-costly", "too-long", "business-rule", "not-supported", "processing"})


def limits_from_refusal(exc: SyncError, bundle: JsonDict) -> dict[str, int] | None:
    """The limits a refusal of ``bundle`` tells, or None when it is no "transaction too large" refusal.

    Known messages give the server's real limit; any other 400/413/422 that says the transaction is too
    large (too many entries, a maximum, a limit) halves the size that was refused. ``max_entries`` counts
    the Provenance too; a limit below 2 cannot be honoured (1 resource + its Provenance) and is not learned.
    """
    if exc.status not in (400, 413, 422):
        return None
    entries = bundle.get("entry") or []
    count = len(entries)
    updates = sum(1 for e in entries if str((e.get("request") or {}).get("method", "")).upper() == "PUT")
    texts = [exc.diagnostics]
    for issue in exc.issues:
        if issue.get("code") not in _ISSUE_CODES:
            continue
        texts += [str(issue.get("diagnostics") or ""), str((issue.get("details") or {}).get("text") or "")]
    text = " ".join(texts).lower()
    learned: dict[str, int] = {}
    for phrase, which, value in _KNOWN_LIMITS:
        if phrase in text:
            size = count if which == "max_entries" else updates
            learned[which] = min(value, size - 1)
    if not learned and (exc.status == 413 or ("transaction" in text and _TOO_LARGE.search(text))):
        if "update" in text and updates > 1:
            learned["max_updates"] = updates // 2
        else:
            learned["max_entries"] = math.ceil(count / 2)
    if learned.get("max_entries", 2) < 2 or learned.get("max_updates", 1) < 1:
        return None
    return learned or None


def _method(entry: JsonDict) -> str:
    return str((entry.get("request") or {}).get("method", "")).upper()


def _is_provenance(entry: JsonDict) -> bool:
    return (entry.get("resource") or {}).get("resourceType") == "Provenance"


def split_bundle(bundle: JsonDict, limits: TransactionLimits) -> list[JsonDict]:
    """The fewest transactions within ``limits`` that together write ``bundle``; ``[bundle]`` when it fits.

    Entries go in dependency order (a create before whatever refers to it; updates after the creates), so a
    part refers only to its own placeholders and to earlier parts' (rewritten to real ids when sent). Each
    part carries its own Provenance: the same agent, activity, time and reason, targets = that part's
    writes, tag = the save key + ``.part<i>of<n>`` (so each part is created once and a replayed part is
    recognised). Deterministic: the same bundle and limits give the same parts.
    """
    entries = list(bundle.get("entry") or [])
    updates = sum(1 for e in entries if _method(e) == "PUT")
    if (limits.max_entries is None or len(entries) <= limits.max_entries) and (
        limits.max_updates is None or updates <= limits.max_updates
    ):
        return [bundle]
    provs = [e for e in entries if _is_provenance(e)]
    if len(provs) != 1:
        raise SyncError("a save to split must carry exactly one Provenance")
    writes = _ordered_entries({"entry": [e for e in entries if not _is_provenance(e)]})
    room = (limits.max_entries or len(entries)) - 1
    chunks: list[list[JsonDict]] = [[]]
    for entry in writes:
        chunk = chunks[-1]
        in_chunk = sum(1 for e in chunk if _method(e) == "PUT")
        full = len(chunk) >= room or (
            _method(entry) == "PUT" and limits.max_updates is not None and in_chunk >= limits.max_updates
        )
        if full and chunk:
            chunks.append([])
        chunks[-1].append(entry)
    tag = idempotency_tag(bundle)
    key = tag[1] if tag else str(uuid.uuid4())
    total = len(chunks)
    parts: list[JsonDict] = []
    for number, chunk in enumerate(chunks, start=1):
        code = f"{key}.part{number}of{total}"
        prov = copy.deepcopy(provs[0])
        resource = prov["resource"]
        resource["target"] = [{"reference": _entry_ref(e)} for e in chunk]
        for t in (resource.get("meta") or {}).get("tag") or []:
            if tag and t.get("system") == tag[0] and t.get("code") == key:
                t["code"] = code
        prov["fullUrl"] = f"{URN_UUID}{uuid.uuid5(uuid.NAMESPACE_URL, 'provenance:' + code)}"
        if tag:
            prov["request"] = {"method": "POST", "url": "Provenance", "ifNoneExist": f"_tag={tag[0]}|{code}"}
        parts.append({"resourceType": "Bundle", "type": "transaction", "entry": [*copy.deepcopy(chunk), prov]})
    return parts


def _rebased(client: FhirClient, part: JsonDict, bases: Mapping[str, JsonDict], mapping: Mapping[str, str]) -> JsonDict:
    """``part`` with each stale update three-way merged onto the current version (new ``ifMatch``).

    Raises :class:`~plugin.sync.errors.Conflict` when someone else changed what this save changed.
    """
    from plugin.sync.conflict import reread, three_way_merge  # conflict.py imports this module

    out = copy.deepcopy(part)
    keys = [str(e["request"]["url"]) for e in out["entry"] if _method(e) == "PUT"]
    current = reread(client, keys)
    for entry in out["entry"]:
        key = str(entry["request"].get("url"))
        theirs = current.get(key)
        if _method(entry) != "PUT" or theirs is None:
            continue
        version = str((theirs.get("meta") or {}).get("versionId", ""))
        if weak_etag(version) == entry["request"].get("ifMatch"):
            continue
        base = bases.get(key)
        if not isinstance(base, dict):
            raise PreconditionFailed(f"{key} changed on the server and no base was kept", status=412)
        mine = rewrite_references(entry["resource"], mapping)
        merged = three_way_merge(rewrite_references(base, mapping), mine, theirs)
        if "meta" in mine:
            merged["meta"] = mine["meta"]
        else:
            merged.pop("meta", None)
        entry["resource"] = merged
        entry["request"]["ifMatch"] = weak_etag(version)
    return out


def _entry_ref(entry: JsonDict) -> str:
    full = str(entry.get("fullUrl") or "")
    return full if full.startswith(URN_UUID) else str((entry.get("request") or {}).get("url"))


def _submit_parts(
    client: FhirClient, bundle: JsonDict, parts: list[JsonDict], bases: Mapping[str, JsonDict] | None = None
) -> TransactionResult:
    """Send the parts in order; later parts refer to earlier parts' creates by their real ids.

    An outage raises as-is: the whole save waits in the outbox and its replay sends the same parts again
    (conditional creates and the parts' Provenance tags make that idempotent). A version conflict (412) in a
    later part is merged onto the current versions when ``bases`` are known and the edits commute (as the
    outbox replay does). Any other refusal after earlier parts committed undoes their effects (updates
    restored, creates retired, as the ordered-requests path does) and raises with ``after_parts`` set:
    never half a save silently.
    """
    mapping: dict[str, str] = {}
    written: list[Written] = []
    undo: list[tuple[str, JsonDict, str, str]] = []
    applied = True
    parts = list(parts)
    number, merges = 0, 0
    while number < len(parts):
        number += 1
        part = parts[number - 1]
        sent = rewrite_references(part, mapping)
        try:
            try:
                result = _submit_one(client, sent)
            except PreconditionFailed:
                if number == 1 or not bases or merges >= _MAX_MERGES:
                    raise
                merges += 1
                parts[number - 1] = _rebased(client, part, bases, mapping)
                number -= 1
                log.info("fhir save: part %d merged onto the current versions after a 412", number + 1)
                continue
        except OutageError:
            raise
        except SyncError as exc:
            if number > 1:
                log.error(
                    "fhir save %s: part %d of %d refused after earlier parts were written; undoing them: %s",
                    idempotency_tag(bundle),
                    number,
                    len(parts),
                    exc.diagnostics,
                )
                _compensate(client, undo, exc)
                exc.after_parts = number - 1  # type: ignore[attr-defined]
            raise
        # A part is "already applied" when its answer was found (412 + its Provenance), or when it only creates
        # and every create was found by its condition (nothing new written).
        found_only = all(_method(e) == "POST" for e in sent.get("entry") or []) and not any(
            w.created for w in result.written
        )
        applied = applied and (result.already_applied or found_only)
        for entry, w in zip(sent.get("entry") or [], result.written, strict=False):
            if w.request_ref.startswith(URN_UUID) and not _is_provenance(entry):
                mapping[w.request_ref] = w.reference
            if result.already_applied or _is_provenance(entry):
                continue
            if _method(entry) == "POST" and w.created:
                created = w.resource or client.read(*w.reference.split("/", 1)).json()
                undo.append(("create", created, "", w.version_id or ""))
            elif _method(entry) == "PUT":
                previous = parse_etag(str((entry.get("request") or {}).get("ifMatch") or ""))
                if previous:
                    undo.append(("update", entry["resource"], previous, w.version_id or ""))
        written += result.written
    tag = idempotency_tag(bundle)
    log.info("fhir save %s written as %d transactions (server limits)", tag[1] if tag else "?", len(parts))
    return TransactionResult(tuple(written), idempotency_key=tag[1] if tag else None, already_applied=applied)


def rewrite_references(value: Any, mapping: Mapping[str, str]) -> Any:
    """Copy of ``value`` with every ``reference`` found in ``mapping`` replaced (urn:uuid -> Type/id)."""
    if isinstance(value, dict):
        out = {k: rewrite_references(v, mapping) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in mapping:
            out["reference"] = mapping[ref]
        return out
    if isinstance(value, list):
        return [rewrite_references(v, mapping) for v in value]
    return value


def _placeholders_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref.startswith(URN_UUID):
            yield ref
        for v in value.values():
            yield from _placeholders_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from _placeholders_in(v)


def _ordered_entries(bundle: JsonDict) -> list[JsonDict]:
    """Creates in dependency order, then updates, then the Provenance (it references everything)."""
    entries = list(bundle.get("entry") or [])
    creates = [e for e in entries if e["request"]["method"] == "POST" and e["resource"]["resourceType"] != "Provenance"]
    others = [e for e in entries if e["request"]["method"] != "POST"]
    provs = [e for e in entries if e["request"]["method"] == "POST" and e["resource"]["resourceType"] == "Provenance"]
    ordered: list[JsonDict] = []
    done: set[str] = set()
    pending = creates
    while pending:
        ready = [e for e in pending if set(_placeholders_in(e["resource"])) - {e.get("fullUrl")} <= done]
        if not ready:
            raise SyncError("creates reference each other in a cycle: cannot save them without a transaction")
        for e in ready:
            ordered.append(e)
            done.add(str(e.get("fullUrl")))
        pending = [e for e in pending if e not in ready]
    return ordered + others + provs


def _strip(resource: JsonDict) -> JsonDict:
    return {k: v for k, v in resource.items() if k not in ("meta", "text")}


def submit_sequential(client: FhirClient, bundle: JsonDict) -> TransactionResult:
    """Save without a transaction: one request per entry, in order (degraded).

    Outage: raise as-is; a replay completes the work (conditional creates, content check on updates).
    Permanent refusal: undo what was done (restore updates, retire creates), then raise.
    """
    tag = idempotency_tag(bundle)
    log.warning("fhir save %s without transaction support: ordered requests (degraded)", tag[1] if tag else "?")
    mapping: dict[str, str] = {}
    written: list[Written] = []
    undo: list[tuple[str, JsonDict, str, str]] = []  # (kind, resource, previous version, new version)
    try:
        for entry in _ordered_entries(bundle):
            req = entry["request"]
            resource = rewrite_references(entry["resource"], mapping)
            if req["method"] == "POST":
                resp = client.create(resource, if_none_exist=req.get("ifNoneExist"))
                w = _written_from(resp, str(entry.get("fullUrl") or req["url"]))
                if str(entry.get("fullUrl", "")).startswith(URN_UUID):
                    mapping[entry["fullUrl"]] = w.reference
                if w.created and resource["resourceType"] != "Provenance":
                    undo.append(("create", resp.json(), "", w.version_id or ""))
            elif req["method"] == "PUT":
                previous = parse_etag(str(req.get("ifMatch") or ""))
                try:
                    resp = client.update(resource, if_match=req.get("ifMatch"))
                except PreconditionFailed:
                    current = client.read(resource["resourceType"], resource["id"])
                    if _strip(current.json()) != _strip(resource):
                        raise
                    resp = current  # our own earlier attempt already wrote exactly this
                else:
                    if previous:
                        undo.append(("update", resource, previous, resp.version_id or ""))
                w = _written_from(resp, str(req["url"]))
            else:
                raise SyncError(f"unsupported method {req['method']} in a save")
            written.append(w)
    except OutageError:
        raise
    except SyncError as exc:
        _compensate(client, undo, exc)
        raise
    return TransactionResult(tuple(written), idempotency_key=tag[1] if tag else None, degraded=True)


def _written_from(resp: FhirResponse, request_ref: str) -> Written:
    body = resp.body or {}
    if body.get("id"):
        ref = f"{body['resourceType']}/{body['id']}"
        vid = resp.version_id
    else:
        ref, vid = _split_location(resp.location or "")
        vid = resp.version_id or vid
    return Written(request_ref, ref, vid, resp.status, resp.body)


def _compensate(client: FhirClient, undo: list[tuple[str, JsonDict, str, str]], cause: SyncError) -> None:
    """Best effort, newest first. Failures are logged: the save is reported as failed either way."""
    for kind, resource, previous, new_version in reversed(undo):
        key = f"{resource['resourceType']}/{resource['id']}"
        try:
            if kind == "update":
                old = client.vread(resource["resourceType"], resource["id"], previous).json()
                restored = {k: v for k, v in old.items() if k != "meta"}
                client.update(restored, if_match=weak_etag(new_version))
            else:
                field_name, value = RETIRE.get(resource["resourceType"], (None, None))
                if field_name is None:
                    log.error("fhir compensation: cannot retire %s (no status for this type)", key)
                    continue
                retired = {k: v for k, v in resource.items() if k != "meta"}
                retired[field_name] = value
                client.update(retired, if_match=weak_etag(new_version))
            log.warning("fhir compensation: undid %s of %s after: %s", kind, key, cause.diagnostics)
        except SyncError as exc:
            log.error("fhir compensation incomplete: %s of %s not undone (%s)", kind, key, exc.diagnostics)
