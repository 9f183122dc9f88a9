"""A section typed as invisible characters only counts as not written: it is left out, so what is stored is what
the record reads back (found by the round-trip property test)."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_mappings.codes import InterviewVisibility, Section
from fhir_mappings.from_fhir import group_from_fhir
from fhir_mappings.to_fhir import group_to_fhir
from tests.unit.fhir_mappings.factory import full_group


def test_an_interview_section_of_invisible_characters_only_is_left_out() -> None:
    group = full_group()
    coach = next(m for m in group.members if m.who == "Practitioner/pr2")
    interview = group.record_interview(
        coach.uid,
        datetime(2026, 3, 12, 10, 0, tzinfo=UTC),
        {Section.VERWACHTINGEN: "\u200b\u200b", Section.INZET: "Elke maand", Section.RELATIE: "\ufeff"},
        visibility=InterviewVisibility.PROFESSIONALS,
    )
    assert interview.sections == {Section.INZET: "Elke maand"}
    back, _ = group_from_fhir([w.resource for w in group_to_fhir(group)], group.patient)
    assert next(i for i in back.interviews if i.member_uid == coach.uid).sections == {Section.INZET: "Elke maand"}
