"""Version conflicts (409/412): the three-way merge that tells what commutes, and the re-read.

There is one conflict path per kind of save:
- a live save (``repository.GroupRepository.save``) re-reads the group, checks with :func:`three_way_merge`
  that the other change does not touch what this action changed, and applies the domain action again;
- a replay from the outbox (``outbox.submit_rebasing``) re-reads the updated resources with :func:`reread` and
  rebases its stored Bundle onto them with :func:`three_way_merge`.

The merge works per element of (as read, mine, theirs); lists named in ``list_keys`` merge item by item
(adding a goal to CarePlan.goal, a participant to CareTeam.participant, a note to Goal.note all commute);
two different edits of the same element are a real conflict.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from plugin.sync.client import FhirClient
from plugin.sync.errors import Conflict, JsonDict, NotFound, PreconditionFailed
from plugin.sync.transaction import ChangeSet

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


# ---------------------------------------------------------------------- the three-way merge


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
