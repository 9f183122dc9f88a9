"""Services of the outbox: what a care professional does with a save the EHR refused for good.

"Opnieuw proberen" puts the entry back to waiting and sends what this user may send now (their own saves,
with their own token); another author's save then waits for that author or for the worker, so nobody's
token ever writes a Provenance that names someone else. "Laten vervallen" marks it discarded: kept, never
sent, never deleted. Both are rights of the patient's care professionals, once per submission, and audited:
a log line with who, when and which entry, and the same kept on the entry (``OutboxEntry.history``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fhir_mappings.errors import DomainError
from fhir_mappings.refs import literal
from fhir_mappings.rights import Action, require
from plugin.services.core import current_actor, once
from plugin.services.uow import Done, SaveState, UnitOfWork
from plugin.sync.errors import SyncError
from plugin.sync.outbox import Outbox, OutboxEntry, OutboxState

log = logging.getLogger("plugin.audit.outbox")


class EntryNotFound(DomainError):
    """No refused save with this number for this patient (already handled, or another patient's)."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(
            "Deze mislukte wijziging is er niet (meer). Misschien heeft een collega haar al afgehandeld.",
            f"no failed outbox entry {entry_id} for this patient",
        )


def failed_entry(uow: UnitOfWork, outbox: Outbox, entry_id: int) -> OutboxEntry:
    """The patient's failed entry `entry_id`, else `EntryNotFound` (never another patient's)."""
    entry = outbox.get(entry_id)
    if entry is None or literal(entry.patient) != literal(uow.patient) or entry.state is not OutboxState.FAILED:
        raise EntryNotFound(entry_id)
    return entry


def retry_failed(
    uow: UnitOfWork, key: str, outbox: Outbox, entry_id: int, *, send_own: Callable[[], object]
) -> Done[OutboxEntry]:
    """Put a refused save back to waiting and send now what this user may send (`send_own`: the page's
    replay of the user's own waiting saves). The value is the entry as it stands afterwards."""
    uow.note_action(Action.RETRY_FAILED)
    require(current_actor(uow), Action.RETRY_FAILED)

    def save() -> Done[OutboxEntry]:
        entry = failed_entry(uow, outbox, entry_id)
        outbox.requeue(entry.id, by=uow.user)
        log.info(
            "outbox entry %d of %s: retry by %s (author %s, last error: %s)",
            entry.id,
            entry.patient,
            uow.user,
            entry.user,
            entry.last_error,
        )
        try:
            send_own()
        except SyncError as exc:  # it stays waiting: the worker or its author sends it later
            log.warning("outbox entry %d: sending after the retry failed: %s", entry.id, exc.diagnostics)
        after = outbox.get(entry.id) or entry
        return Done(after, SaveState.SAVED if after.state is OutboxState.SENT else SaveState.WAITING, str(entry.id))

    return once(uow, key, save)


def discard_failed(uow: UnitOfWork, key: str, outbox: Outbox, entry_id: int) -> Done[OutboxEntry]:
    """Let a refused save lapse: discarded, kept (never deleted), never sent."""
    uow.note_action(Action.DISCARD_FAILED)
    require(current_actor(uow), Action.DISCARD_FAILED)

    def save() -> Done[OutboxEntry]:
        entry = failed_entry(uow, outbox, entry_id)
        outbox.discard(entry.id, by=uow.user)
        log.info(
            "outbox entry %d of %s: let lapse by %s (author %s, last error: %s)",
            entry.id,
            entry.patient,
            uow.user,
            entry.user,
            entry.last_error,
        )
        return Done(outbox.get(entry.id) or entry, SaveState.SAVED, str(entry.id))

    return once(uow, key, save)


def activity_of(entry: OutboxEntry) -> str:
    """What the save did, as its Provenance says (the activity text), for the list of refused saves."""
    for item in entry.bundle.get("entry") or []:
        resource = item.get("resource") or {}
        if resource.get("resourceType") == "Provenance":
            activity = resource.get("activity") or {}
            text = activity.get("text") if isinstance(activity, dict) else None
            if isinstance(text, str) and text.strip():
                return text.strip()
    return ""
