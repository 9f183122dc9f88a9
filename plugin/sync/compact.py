"""Resources as read, held with their repeated parts as one object: a huge group in a fraction of the memory.

A progress score (Observation) parsed from JSON is a tree of a dozen dicts, lists and strings, ~5 KB in memory,
most of which every score repeats: the code, the subject, the plan it is based on, the goal it is about (shared
with the goal's other scores), the meeting (shared with that meeting's other scores), the time (shared with the
meeting's). A meeting (Appointment) lists every member, as every other meeting does. `SharedParts.share` makes
equal parts one object, a few levels down, so a huge group's 20,000 scores take ~25 MB instead of ~100 MB.

Resources as read are never changed in place (a save starts from a deep copy, `fhirjson.start_from`, and the read
cache already shares them between requests), so sharing their parts changes nothing but the memory they take.
The parts that are each resource's own (its id, meta, narrative, notes) are not compared: that costs time and
saves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

JsonDict = dict[str, Any]

# Elements each resource has its own of: not worth comparing.
_OWN = frozenset({"id", "meta", "text", "note"})
# How deep below a resource's elements equal parts are looked for: an Appointment's participant, its actor, the
# actor's reference (a huge group's meetings each list every member).
_DEPTH = 3


class SharedParts:
    """Equal parts of the resources given to `share` become one object (for one load's resources)."""

    def __init__(self, resource_types: Iterable[str] = ("Observation", "Appointment")) -> None:
        self._types = frozenset(resource_types)
        self._parts: dict[str, Any] = {}
        self._strings: dict[str, str] = {}

    def share(self, resources: Iterable[JsonDict]) -> None:
        """Make each resource of the given types hold the one copy of each of its parts seen before."""
        for resource in resources:
            if resource.get("resourceType") not in self._types:
                continue
            for key, value in resource.items():  # (values replaced, keys unchanged: safe while iterating)
                if key not in _OWN:
                    resource[key] = self._one(value, _DEPTH)

    def _one(self, value: Any, depth: int) -> Any:
        """The one copy of `value` (a string, or a part of JSON) seen in this load; a part seen for the first time
        is kept as it is, with its own parts shared `depth` levels down."""
        if type(value) is str:
            return self._strings.setdefault(value, value)
        if not isinstance(value, dict | list) or not value:
            return value
        try:
            # As text: orjson's bytes keep the 4 KB it wrote them in, the text only what it holds.
            seen = orjson.dumps(value).decode()
        except (orjson.JSONEncodeError, TypeError):  # what orjson cannot write (an integer beyond 64 bits)
            return value
        known = self._parts.setdefault(seen, value)
        if known is value and depth > 1:  # new: its own parts may have been seen (a meeting's participant)
            if isinstance(value, dict):
                for key, part in value.items():
                    value[key] = self._one(part, depth - 1)
            else:
                for at, part in enumerate(value):
                    value[at] = self._one(part, depth - 1)
        return known
