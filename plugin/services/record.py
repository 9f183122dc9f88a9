"""Services for what the record holds that the app cannot read (another system's or an older version's resource).

Such a resource is left out of the group and listed (`ResourceGroup.unreadable`); saves that do not touch it go
through. A care professional can free the record of one of ours that still plans something: cancelling an
unreadable meeting or interview appointment sets its status to cancelled and changes nothing else of it.
"""

from __future__ import annotations

from fhir_mappings.model import Unreadable
from fhir_mappings.rights import Action
from plugin.services.core import act
from plugin.services.uow import Activity, Done, UnitOfWork

CANCEL_TEXT = "Bijeenkomst of gesprek afgezegd dat de app niet kon lezen"


def cancel_unreadable(uow: UnitOfWork, key: str, *, resource: str) -> Done[Unreadable]:
    """Cancel the unreadable appointment `resource` ("Appointment/<id>"); the Provenance records who did."""
    return act(
        uow,
        key,
        Action.CANCEL_UNREADABLE,
        Activity(CANCEL_TEXT, reason="Het staat in het dossier maar de app kan het niet lezen."),
        lambda group, actor: group.cancel_unreadable(resource),
    )
