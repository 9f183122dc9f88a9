"""The report that closes the loop: write the report of a meeting and, in the same save, mark existing open
agreements done or dropped.

One user action (one submission key, one transaction): `Action.WRITE_REPORT` for the report, and
`Action.EDIT_AGREEMENT` for every agreement it closes, both checked by `fhir_mappings.rights` before and
inside the save. The domain says which agreements can be closed (`ResourceGroup.close_agreement`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fhir_mappings.codes import AgreementStatus, Section
from fhir_mappings.model import Report, ResourceGroup
from fhir_mappings.rights import Action, Actor, require
from plugin.services.core import act
from plugin.services.meetings import (
    GoalAtMeeting,
    NewAgreement,
    build_report,  # the report itself, as meetings writes it
)
from plugin.services.uow import Done, UnitOfWork

CLINIC_TZ = ZoneInfo("Europe/Amsterdam")  # the meeting's date in the note, as the clinic reads it

# How an agreement was closed, as the note on the agreement says (the record is Dutch).
_CLOSED_NOTE = {
    AgreementStatus.COMPLETED: "Klaar gemeld in het verslag van de bijeenkomst van {date}.",
    AgreementStatus.CANCELLED: "Gaat niet door, volgens het verslag van de bijeenkomst van {date}.",
}


def write_report(
    uow: UnitOfWork,
    key: str,
    *,
    meeting_uid: str,
    sections: Mapping[Section, str],
    attended: Sequence[str],
    goals: Sequence[GoalAtMeeting],
    new_agreements: Sequence[NewAgreement],
    closing: Mapping[str, AgreementStatus],
    written: datetime,
    today: date,
) -> Done[Report]:
    """Write (or change) the report of a meeting with its scores and new agreements, and close the open
    agreements in `closing` (agreement uid -> completed or cancelled), each with a note dated `written` and
    signed by the acting user; all as one save. A refusal anywhere leaves everything as it was."""
    loaded = uow.group()
    editing = loaded is not None and any(m.uid == meeting_uid and m.report is not None for m in loaded.meetings)
    activity = "Verslag van de bijeenkomst aangepast" if editing else "Verslag van de bijeenkomst geschreven"
    if closing:
        activity += "; afspraken afgesloten"

    def change(group: ResourceGroup, actor: Actor) -> Report:
        if closing:
            require(actor, Action.EDIT_AGREEMENT)
            day = group.meeting(meeting_uid).start.astimezone(CLINIC_TZ).strftime("%d-%m-%Y")
            for uid, status in closing.items():
                note = _CLOSED_NOTE.get(status, "").format(date=day)
                group.close_agreement(uid, status, note, written, actor.who)
        return build_report(
            group,
            meeting_uid,
            sections=sections,
            attended=attended,
            goals=goals,
            new_agreements=new_agreements,
            written=written,
            today=today,
        )

    return act(uow, key, Action.WRITE_REPORT, activity, change)
