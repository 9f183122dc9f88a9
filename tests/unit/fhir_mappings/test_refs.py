"""References that name a care professional: one rule for the domain, the pages and the caseload."""

from __future__ import annotations

import pytest

from fhir_mappings.refs import PROFESSIONAL_TYPES, is_professional_ref


@pytest.mark.parametrize(
    ("reference", "professional"),
    [
        ("Practitioner/anna-de-vries", True),
        ("PractitionerRole/anna-ggz", True),
        ("Patient/sanne-bakker", False),
        ("RelatedPerson/ans", False),
        ("Practitioner", False),  # a type without an id
        ("PractitionerX/1", False),
        ("3f2a-uid-of-a-supporter", False),
        ("", False),
    ],
)
def test_a_professional_is_a_practitioner_or_one_of_their_roles(reference: str, professional: bool) -> None:
    assert is_professional_ref(reference) is professional
    assert PROFESSIONAL_TYPES == ("Practitioner", "PractitionerRole")
