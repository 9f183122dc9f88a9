"""Version conflicts (409/412): re-read, re-apply what commutes, raise a Conflict for what does not.

Two ways to re-apply, both plain functions over FHIR JSON:
- the caller's own ``reapply(changeset, current)`` (e.g. the unit of work replays domain operations);
- :func:`merge_reapply`, a three-way merge per element of (as read, mine, theirs) where lists named in
  ``list_keys`` merge item by item (adding a goal to CarePlan.goal, a participant to CareTeam.participant,
  a note to Goal.note all commute); two different edits of the same element are a real conflict.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from plugin.sync.capabilities import ServerCapabilities
from plugin.sync.client import FhirClient
from plugin.sync.errors import Conflict, JsonDict, NotFound, PreconditionFailed
from plugin.sync.transaction import ChangeSet, TransactionResult, submit

log = logging.getLogger(__name__)

ReapplyFn = Callable[[ChangeSet, Mapping[str, JsonDict]], ChangeSet]
KeyFn = Callable[[Any], Hashable]

_MISSING: Any = object()


def _ref(item: Any) -> Hashable:
    return item.get("reference") if isinstance(item, dict) else None


def _member(item: Any) -> Hashable:
    if not isinstance(item, dict):
        return None
    who = item.get("member") or item.get("actor") or {}
    return who.get("reference") if isinstance(who, dict) else None


def _note(item: Any) -> Hashable:
    if not isinstance(item, dict):
        return None
    author = item.get("authorString") or (item.get("authorReference") or {}).get("reference")
    return (item.get("text"), item.get("time"), author)


def _activity(item: Any) -> Hashable:
    return _ref(item.get("reference")) if isinstance(item, dict) and isinstance(item.get("reference"), dict) else None


def _identifier(item: Any) -> Hashable:
    return (item.get("system"), item.get("value")) if isinstance(item, dict) else None


# Elements whose lists merge item by item (by the key) instead of conflicting as a whole.
DEFAULT_LIST_KEYS: Mapping[str, KeyFn] = {
    "goal": _ref,  # CarePlan.goal
    "careTeam": _ref,  # CarePlan.careTeam
    "addresses": _ref,
    "supportingInfo": _ref,
    "supportingInformation": _ref,
    "basedOn": _ref,
    "partOf": _ref,
    "about": _ref,
    "recipient": _ref,
    "outcomeReference": _ref,
    "participant": _member,  # CareTeam.participant (member), Appointment.participant (actor)
    "activity": _activity,  # CarePlan.activity[].reference
    "note": _note,  # Goal.note, Task.note, ...
    "identifier": _identifier,
    "extension": lambda item: None,  # keyed by content: unknown extensions of others survive
}


def _canon(value: Any) -> str:
    if value is _MISSING:
        return "\x00missing"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------- pure commutative helpers


def with_reference(resource: JsonDict, element: str, reference: str, **extra: Any) -> JsonDict:
    """Copy of ``resource`` with ``{"reference": reference}`` added to list ``element`` unless already there.

    For CarePlan.goal, CarePlan.careTeam and the like (lists of Reference).
    """
    out = copy.deepcopy(resource)
    items = out.setdefault(element, [])
    if not any(isinstance(i, dict) and i.get("reference") == reference for i in items):
        items.append({"reference": reference, **extra})
    return out


def with_participant(resource: JsonDict, participant: JsonDict, element: str = "participant") -> JsonDict:
    """Copy with ``participant`` added unless one with the same member (or actor) reference is present."""
    out = copy.deepcopy(resource)
    items = out.setdefault(element, [])
    key = _member(participant)
    if key is None:
        raise ValueError("participant needs member.reference or actor.reference")
    if not any(_member(i) == key for i in items):
        items.append(copy.deepcopy(participant))
    return out


def with_note(resource: JsonDict, text: str, *, time: str | None = None, author: str | None = None) -> JsonDict:
    """Copy with an Annotation appended to ``note`` unless one with the same text (and time/author) exists."""
    note: JsonDict = {"text": text}
    if time:
        note["time"] = time
    if author:
        note["authorReference"] = {"reference": author}
    out = copy.deepcopy(resource)
    items = out.setdefault("note", [])
    if not any(_note(i) == _note(note) for i in items):
        items.append(note)
    return out


# ---------------------------------------------------------------------- three-way merge


def three_way_merge(
    base: JsonDict,
    mine: JsonDict,
    theirs: JsonDict,
    *,
    list_keys: Mapping[str, KeyFn] = DEFAULT_LIST_KEYS,
) -> JsonDict:
    """Merge my edit of ``base`` into ``theirs``; raises :class:`Conflict` when both changed an element differently.

    Server-owned elements (``meta``, ``text`` narrative) come from ``theirs``.
    """
    merged: JsonDict = {}
    for key in list(theirs) + [k for k in mine if k not in theirs] + [k for k in base if k not in theirs]:
        if key in merged:
            continue
        if key in ("meta", "text", "id", "resourceType"):
            if key in theirs:
                merged[key] = copy.deepcopy(theirs[key])
            continue
        b, m, t = base.get(key, _MISSING), mine.get(key, _MISSING), theirs.get(key, _MISSING)
        value = _merge_value(key, b, m, t, list_keys, mine, theirs)
        if value is not _MISSING:
            merged[key] = value
    return merged


def _merge_value(
    path: str, b: Any, m: Any, t: Any, list_keys: Mapping[str, KeyFn], mine: JsonDict, theirs: JsonDict
) -> Any:
    if _canon(m) == _canon(b):
        return copy.deepcopy(t)
    if _canon(t) == _canon(b) or _canon(m) == _canon(t):
        return copy.deepcopy(m)
    element = path.rsplit(".", 1)[-1]
    if element in list_keys and all(isinstance(x, list) or x is _MISSING for x in (b, m, t)):
        return _merge_list(path, b, m, t, list_keys[element], list_keys, mine, theirs)
    raise Conflict(
        f"{mine.get('resourceType')}/{mine.get('id')}: '{path}' was changed by both sides",
        mine=copy.deepcopy(mine),
        theirs=copy.deepcopy(theirs),
        element=path,
    )


def _merge_list(
    path: str, b: Any, m: Any, t: Any, key_fn: KeyFn, list_keys: Mapping[str, KeyFn], mine: JsonDict, theirs: JsonDict
) -> Any:
    def keyed(items: Any) -> dict[tuple[str, Hashable], Any]:
        out: dict[tuple[str, Hashable], Any] = {}
        for item in [] if items is _MISSING else items:
            k = key_fn(item)
            out[("content", _canon(item)) if k is None else ("key", k)] = item
        return out

    kb, km, kt = keyed(b), keyed(m), keyed(t)
    result: list[Any] = []
    for k in list(kt) + [k for k in km if k not in kt] + [k for k in kb if k not in kt and k not in km]:
        item = _merge_value(
            f"{path}[{k[1]}]", kb.get(k, _MISSING), km.get(k, _MISSING), kt.get(k, _MISSING), {}, mine, theirs
        )
        if item is not _MISSING:
            result.append(item)
    return result if result or t is not _MISSING or m is not _MISSING else _MISSING


def merge_reapply(list_keys: Mapping[str, KeyFn] = DEFAULT_LIST_KEYS) -> ReapplyFn:
    """A ``reapply`` that three-way merges each stale update; needs the ``base`` kept by ``ChangeSet.update``."""

    def reapply(changeset: ChangeSet, current: Mapping[str, JsonDict]) -> ChangeSet:
        for key, theirs in current.items():
            pending = changeset.update_for(key)
            if pending is None:
                continue
            if pending.base is None:
                raise Conflict(
                    f"{key}: changed on the server and no base version kept to merge with",
                    mine=copy.deepcopy(pending.resource),
                    theirs=copy.deepcopy(theirs),
                )
            merged = three_way_merge(pending.base, pending.resource, theirs, list_keys=list_keys)
            changeset.update(merged, version=_version(theirs), base=theirs)
        return changeset

    return reapply


# ---------------------------------------------------------------------- re-read and retry


def _version(resource: JsonDict) -> str:
    vid = (resource.get("meta") or {}).get("versionId")
    if vid is None:
        raise PreconditionFailed(f"{resource.get('resourceType')}/{resource.get('id')} has no meta.versionId")
    return str(vid)


def reread(client: FhirClient, keys: Sequence[str], *, use_batch: bool = True) -> dict[str, JsonDict]:
    """Current versions of ``Type/id`` resources: one batch of reads (one round trip), else one read each."""
    if not keys:
        return {}
    current: dict[str, JsonDict] = {}
    if use_batch and len(keys) > 1:
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": k}} for k in keys],
        }
        answer = client.batch(bundle).json()
        for key, entry in zip(keys, answer.get("entry") or [], strict=False):
            res = entry.get("resource")
            if isinstance(res, dict) and res.get("resourceType") == key.split("/")[0]:
                current[key] = res
        missing = [k for k in keys if k not in current]
        if missing:
            raise NotFound(f"re-read after a version conflict: {', '.join(missing)} not returned")
        return current
    for key in keys:
        rtype, rid = key.split("/", 1)
        current[key] = client.read(rtype, rid).json()
    return current


def submit_with_reapply(
    client: FhirClient,
    changeset: ChangeSet,
    *,
    agent: str,
    activity: JsonDict,
    reapply: ReapplyFn | None = None,
    capabilities: ServerCapabilities | None = None,
    max_rounds: int = 3,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> TransactionResult:
    """Save ``changeset``; on 409/412 re-read the updated resources, re-apply, and try again (bounded).

    ``reapply`` gets the change set and the resources whose version moved, and returns the change set to
    send next; it raises :class:`Conflict` for a real conflict. Default: :func:`merge_reapply`.
    """
    reapply = reapply or merge_reapply()
    use_batch = capabilities.supports_batch if capabilities is not None else True
    for attempt in range(1, max_rounds + 1):
        bundle = changeset.to_bundle(agent=agent, activity=activity, recorded=clock())
        try:
            return submit(client, bundle, capabilities=capabilities)
        except PreconditionFailed as exc:
            keys = [u.key for u in changeset.updates]
            current = reread(client, keys, use_batch=use_batch)
            stale: dict[str, JsonDict] = {}
            for key, theirs in current.items():
                pending = changeset.update_for(key)
                if pending is not None and _version(theirs) != pending.version:
                    stale[key] = theirs
            if not stale:
                # Nothing we update moved: the 409 was about something else; nothing to re-apply.
                raise
            log.info(
                "fhir save %s: version conflict on %s (round %d), re-applying",
                changeset.idempotency_key,
                ",".join(sorted(stale)),
                attempt,
            )
            if attempt == max_rounds:
                raise PreconditionFailed(
                    f"still conflicting after {max_rounds} rounds: {', '.join(sorted(stale))}", status=exc.status
                ) from exc
            changeset = reapply(changeset, stale)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
