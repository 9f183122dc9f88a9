"""Every resource the mapping writes, in both modes, meets the product profile of its kind and the nl-core / KT2
profiles it claims; KT2-mode resources hold no element a KT2 profile forbids."""

from __future__ import annotations

import pytest

from fhir_mappings.codes import (
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_KT2_TASK,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_NL_CORE_CONTACT_PERSON,
    PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
)
from fhir_mappings.conformance.loader import default_validator, product_profile
from fhir_mappings.profiles import MappingMode
from tests.unit.conformance.examples import Example, by_profile, examples

EXAMPLES = examples()
KT2_RULES = {"CareTeam": PROFILE_KT2_CARE_TEAM, "RelatedPerson": PROFILE_KT2_RELATED_PERSON, "Task": PROFILE_KT2_TASK}
EXPECTED_CLAIMS = {
    MappingMode.NL_CORE: {
        "CareTeam": PROFILE_NL_CORE_CARE_TEAM,
        "RelatedPerson": PROFILE_NL_CORE_CONTACT_PERSON,
        "Goal": PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
    },
    MappingMode.KT2: {**KT2_RULES, "Goal": PROFILE_NL_CORE_TREATMENT_OBJECTIVE},
}


def _claims(ex: Example) -> list[str]:
    return list((ex.resource.get("meta") or {}).get("profile") or [])


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_the_example_meets_its_product_profile_and_its_claims(ex: Example) -> None:
    profile = product_profile(ex.resource)
    assert profile is not None, f"no product profile for {ex.resource['resourceType']}"
    issues = default_validator().validate(ex.resource, [profile, *_claims(ex)], ex.resolve)
    assert issues == []


KT2_EXAMPLES = [e for e in EXAMPLES if e.resource["resourceType"] in KT2_RULES and e.mode is MappingMode.KT2]


@pytest.mark.parametrize("ex", KT2_EXAMPLES, ids=[e.name for e in KT2_EXAMPLES])
def test_kt2_mode_resources_hold_no_element_kt2_forbids(ex: Example) -> None:
    issues = default_validator().validate_profile(ex.resource, KT2_RULES[ex.resource["resourceType"]], ex.resolve)
    assert [i for i in issues if i.rule == "forbidden"] == []


@pytest.mark.parametrize("mode", list(MappingMode))
def test_each_mode_claims_its_profiles(mode: MappingMode) -> None:
    for ex in (e for e in EXAMPLES if e.mode is mode):
        wanted = EXPECTED_CLAIMS[mode].get(ex.resource["resourceType"])
        claims = _claims(ex)
        if wanted is None:
            assert claims == [], ex.name
        else:
            assert claims == [wanted], ex.name


def test_every_claim_has_rules_and_every_product_profile_an_example() -> None:
    v = default_validator()
    claimed = {p for ex in EXAMPLES for p in _claims(ex)}
    assert claimed <= set(v.definitions)
    shipped = {url for url, sd in v.definitions.items() if sd.get("kind") == "resource" and "/resourcegroep-" in url}
    assert set(by_profile()) == shipped
    assert set(by_profile(MappingMode.KT2)) == shipped - {
        product_profile(e.resource) for e in EXAMPLES if "reminder" in e.name
    }
