"""Example resources for the conformance tests: what the mapping writes, in both mapping modes.

Built with the domain operations (tests/unit/fhir_mappings/factory.py, sandbox/demo_data.py) and written with
`group_to_fhir(..., mode=...)`, plus a save's Provenance and a worker reminder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from fhir_mappings.codes import SAVE_KEY_SYSTEM
from fhir_mappings.conformance.loader import product_profile
from fhir_mappings.fhirjson import Json
from fhir_mappings.model import ResourceGroup
from fhir_mappings.profiles import MappingMode
from fhir_mappings.reminders import due_reminders, reminder_to_fhir
from fhir_mappings.to_fhir import group_to_fhir, provenance
from sandbox.demo_data import demo_groups
from tests.unit.fhir_mappings.factory import full_group, group_with_patient_input

AMS = ZoneInfo("Europe/Amsterdam")
TODAY = date(2026, 12, 1)


@dataclass(frozen=True)
class Example:
    name: str  # "<group>/<mode>/<Type>/<n>", for test ids
    mode: MappingMode
    resource: Json
    resolve: Callable[[str], str | None]  # urn:uuid -> resource type, as the transaction will make it


def _cancelled_meeting_group() -> ResourceGroup:
    g = full_group()
    meeting = g.meetings[-1]
    g.add_invitation(
        meeting.uid, "Tot dan.", datetime(2026, 4, 1, 9, 0, tzinfo=AMS), "BEGIN:VCALENDAR\r\nEND:VCALENDAR"
    )
    g.cancel_meeting(meeting.uid, datetime(2026, 4, 2, 9, 0, tzinfo=AMS), "Gaat niet door.", "BEGIN:VCALENDAR")
    return g


def _role_member_group() -> ResourceGroup:
    """A professional nominated by their PractitionerRole (the role's practitioner kept with the member)."""
    g = full_group()
    g.nominate("PractitionerRole/lotte-smit-ips", "Lotte Smit", TODAY, practitioner="Practitioner/lotte-smit")
    return g


def groups() -> dict[str, ResourceGroup]:
    out = {d.patient_id: d.group for d in demo_groups(TODAY)}
    out["full"] = full_group()
    out["patient-input"] = group_with_patient_input()
    out["cancelled-meeting"] = _cancelled_meeting_group()
    out["practitioner-role"] = _role_member_group()
    return out


@cache
def examples() -> tuple[Example, ...]:
    out: list[Example] = []
    for gname, group in groups().items():
        for mode in MappingMode:
            if gname == "practitioner-role" and mode is MappingMode.KT2:
                continue  # KT2CareTeam has no PractitionerRole member: KT2 mode nominates the Practitioner
            written = group_to_fhir(group, mode=mode)
            types = {f"urn:uuid:{w.uid}": str(w.resource["resourceType"]) for w in written}
            counts: dict[str, int] = {}
            for w in written:
                rtype = str(w.resource["resourceType"])
                counts[rtype] = counts.get(rtype, 0) + 1
                out.append(Example(f"{gname}/{mode.value}/{rtype}/{counts[rtype]}", mode, w.resource, types.get))
            save = provenance(
                targets=[f"urn:uuid:{w.uid}" for w in written],
                agent=group.members[1].who if len(group.members) > 1 else group.patient,
                recorded=datetime(2026, 12, 1, 9, 0, tzinfo=AMS),
                activity={"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE"},
                tag=(SAVE_KEY_SYSTEM, f"key-{gname}"),
            )
            out.append(Example(f"{gname}/{mode.value}/Provenance/1", mode, save, types.get))
    for reminder in due_reminders(
        group_with_patient_input(), lambda uid: uid, datetime(2026, 12, 1, 9, 0, tzinfo=AMS), AMS
    ):
        out.append(
            Example(
                f"reminder/{reminder.reason.value}",
                MappingMode.NL_CORE,
                reminder_to_fhir(reminder, datetime(2026, 12, 1, 9, 0, tzinfo=AMS), "resourcegroep-backend"),
                lambda _r: None,
            )
        )
    return tuple(out)


def by_profile(mode: MappingMode | None = None) -> dict[str, Example]:
    """The first example of each product profile (in one mode, or any)."""
    out: dict[str, Example] = {}
    for ex in examples():
        profile = product_profile(ex.resource)
        if profile and profile not in out and (mode is None or ex.mode is mode):
            out[profile] = ex
    return out


@cache
def EXAMPLES_BY_NAME() -> dict[str, Example]:
    return {ex.name: ex for ex in examples()}
