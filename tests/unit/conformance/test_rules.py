"""One rule per test: for every rule of every profile we ship or claim, a valid resource passes and the same resource
broken in exactly that way fails with that rule.

The cases are derived from the definitions themselves (each differential element's min, max, fixed/pattern value,
required binding, reference targets, choice types, closed slicing), so a rule added to a profile gets its test; a
rule no case can be made for fails `test_every_rule_has_a_case`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fhir_mappings.codes import (
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_KT2_TASK,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_NL_CORE_CONTACT_PERSON,
    PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
)
from fhir_mappings.conformance.loader import claimed_files, default_validator, package_files, product_profile
from fhir_mappings.conformance.validator import Json
from tests.unit.conformance.examples import Example, examples

CLAIMED = (
    PROFILE_NL_CORE_TREATMENT_OBJECTIVE,
    PROFILE_NL_CORE_CONTACT_PERSON,
    PROFILE_NL_CORE_CARE_TEAM,
    PROFILE_KT2_CARE_TEAM,
    PROFILE_KT2_RELATED_PERSON,
    PROFILE_KT2_TASK,
)

# A value of the right shape for an element a case has to add (forbidden elements, a max exceeded).
SAMPLES: dict[str, Any] = {
    "category": [{"text": "x"}],
    "encounter": {"reference": "Encounter/e1"},
    "reasonCode": [{"text": "x"}],
    "reasonReference": [{"reference": "Condition/c1"}],
    "telecom": [{"system": "phone", "value": "0600000000"}],
    "note": [{"text": "x"}, {"text": "y"}],
    "addresses": [{"reference": "Condition/c1"}, {"reference": "Condition/c2"}],
    "managingOrganization": [{"reference": "Organization/o1"}, {"reference": "Organization/o2"}],
    "photo": [{"contentType": "image/png", "data": "AA=="}],
    "instantiatesUri": ["http://example.org/activity"],
    "basedOn": [{"reference": "CarePlan/cp1"}],
    "groupIdentifier": {"value": "g1"},
    "statusReason": {"text": "x"},
    "businessStatus": {"text": "x"},
    "focus": {"reference": "Goal/g1"},
    "performerType": [{"text": "x"}],
    "location": {"reference": "Location/l1"},
    "insurance": [{"reference": "Coverage/c1"}],
    "relevantHistory": [{"reference": "Provenance/p1"}],
    "restriction": {"repetitions": 1},
    "input": [{"type": {"text": "x"}, "valueString": "x"}],
    "output": [{"type": {"text": "x"}, "valueString": "x"}],
}


@dataclass(frozen=True)
class Case:
    profile: str
    element: str
    rule: str  # what the test breaks; the issue must carry one of `expect`
    expect: tuple[str, ...]
    valid: Json
    resolve: Callable[[str], str | None]
    breaker: Callable[[Json], None]

    @property
    def id(self) -> str:
        return f"{self.profile.rsplit('/', 1)[-1]}:{self.element}:{self.rule}"


def _valid_example(profile: str) -> Example | None:
    """Of the examples the mapping writes that meet the profile (claim it, or are of its product kind), the one
    that has the most of the profile's elements."""
    v = default_validator()
    ids = [e["id"] for e in v.definitions[profile]["differential"]["element"][1:]]
    best: tuple[int, Example] | None = None
    for ex in examples():
        claims = (ex.resource.get("meta") or {}).get("profile") or []
        meets = profile in claims or product_profile(ex.resource) == profile
        if meets and not v.validate_profile(ex.resource, profile, ex.resolve):
            score = sum(1 for eid in ids if v.element_values(ex.resource, profile, eid, ex.resolve))
            if best is None or score > best[0]:
                best = (score, ex)
    return best[1] if best else None


# Reference elements that repeat (a case adds a list), where an example has none.
REFERENCE_LISTS = frozenset({"partOf", "basedOn", "careTeam", "goal", "supportingInformation", "recipient", "about"})
EXAMPLE_VALUES: dict[str, Any] = {
    "Coding": {"system": "urn:example:other", "code": "x"},
    "date": "2026-01-01",
    "string": "x",
    "Period": {"start": "2026-01-01"},
    "Annotation": {"text": "x"},
}


def _extension_instance(url: str) -> Json:
    """A correct instance of one product extension, made from its definition."""
    v = default_validator()
    elements = {e["id"]: e for e in v.definitions[url]["differential"]["element"]}
    value_el = elements["Extension.value[x]"]
    if value_el.get("max") == "0":
        sub = next(e for e in elements if e.startswith("Extension.extension:"))
        name = sub.split(":")[1].split(".")[0]
        return {"url": url, "extension": [{"url": name, "valueString": "x"}]}
    type_entry = value_el["type"][0]
    code = type_entry["code"]
    if code == "Reference":
        value: Any = {"reference": type_entry["targetProfile"][0].rsplit("/", 1)[-1] + "/x1"}
    elif "binding" in value_el:
        system, concept = sorted(v.valuesets[value_el["binding"]["valueSet"]])[0]
        value = {"system": system, "code": concept}
    else:
        value = EXAMPLE_VALUES[code]
    return {"url": url, f"value{code[:1].upper()}{code[1:]}": value}


_STEP = re.compile(r"\.?([A-Za-z_]+)(?:\[(\d+)\])?")


def _locate(resource: Json, loc: str) -> tuple[Any, str | int]:
    """The container and key (or index) of one location such as `CareTeam.participant[1].extension[0]`."""
    steps = [(m.group(1), m.group(2)) for m in _STEP.finditer(loc)][1:]
    node: Any = resource
    for i, (name, index) in enumerate(steps):
        last = i == len(steps) - 1
        if last and index is None:
            return node, name
        node = node[name]
        if last:
            return node, int(index)
        if index is not None:
            node = node[int(index)]
    raise AssertionError(loc)


def _remove_all(resource: Json, locs: list[str]) -> None:
    for loc in reversed(locs):  # later indices first
        container, key = _locate(resource, loc)
        if isinstance(key, str) and key not in container:
            key = f"_{key}"  # a primitive present only through its extensions
        del container[key]
    _drop_empty(resource)


def _drop_empty(node: Any) -> None:
    if isinstance(node, dict):
        for key in list(node):
            _drop_empty(node[key])
            if node[key] == []:
                del node[key]
    elif isinstance(node, list):
        for item in node:
            _drop_empty(item)


def _parent_locs(resource: Json, profile: str, element_id: str, resolve: Callable[[str], str | None]) -> list[str]:
    parent_id = element_id.rsplit(".", 1)[0]
    if "." not in parent_id:
        return [parent_id]
    return [loc for loc, _ in default_validator().element_values(resource, profile, parent_id, resolve)]


def _node(resource: Json, loc: str) -> Any:
    if "." not in loc:
        return resource
    container, key = _locate(resource, loc)
    return container[key]


def _wrong_reference(targets: set[str]) -> str:
    return "Device/d1" if "Group" in targets else "Group/g1"


def _cases_for(profile: str) -> tuple[list[Case], list[str]]:
    """The cases of one profile, and the rules no case could be made for."""
    v = default_validator()
    sd = v.definitions[profile]
    example = _valid_example(profile)
    elements: list[Json] = sd["differential"]["element"]
    if example is None:
        return [], [f"{profile}: no example the mapping writes meets it"]
    valid, resolve = example.resource, example.resolve
    cases: list[Case] = []
    missing: list[str] = []
    by_id = {e["id"]: e for e in elements}

    def add(element: str, rule: str, expect: tuple[str, ...], breaker: Callable[[Json], None]) -> None:
        cases.append(Case(profile, element, rule, expect, valid, resolve, breaker))

    for element in elements[1:]:
        eid = element["id"]
        name = eid.rsplit(".", 1)[-1]
        base_name, _, slice_name = name.partition(":")
        values = v.element_values(valid, profile, eid, resolve)
        parents = _parent_locs(valid, profile, eid, resolve)
        low, high = int(element.get("min", 0)), element.get("max")
        sliced_parent = by_id.get(eid.rsplit(":", 1)[0]) if slice_name else None
        discriminators = [d["path"] for d in ((sliced_parent or {}).get("slicing") or {}).get("discriminator") or []]

        def sample(
            base_name: str = base_name,
            slice_name: str = slice_name,
            eid: str = eid,
            discriminators: list[str] = discriminators,
            element: Json = element,
        ) -> Any:
            if slice_name and discriminators and discriminators[0].endswith(".resolve()"):
                sub = discriminators[0][: -len(".resolve()")]
                target = by_id[f"{eid}.{sub}"]["type"][0]["targetProfile"][0]
                rtype = v.profile_types.get(target) or target.rsplit("/", 1)[-1]
                return [{sub: {"reference": f"{rtype}/x1"}}]
            type_entry = element.get("type", [{}])[0]
            if slice_name and type_entry.get("code") == "Extension":  # one more than the slice allows
                extra = 1 + (int(element["max"]) if element.get("max", "*") != "*" else 0)
                return [_extension_instance(type_entry["profile"][0]) for _ in range(extra)]
            return SAMPLES.get(base_name)

        # A slice's discriminating element is there by definition (without it the item is in no slice).
        discriminating = not slice_name and any(
            eid == f"{eid.rsplit('.', 1)[0]}.{d[: -len('.resolve()')]}"
            for d in _discriminators_above(by_id, eid)
            if d.endswith(".resolve()")
        )
        if low >= 1 and not discriminating:
            if values:
                add(eid, "min", ("min",), lambda r, locs=[loc for loc, _ in values]: _remove_all(r, locs))
            else:
                missing.append(f"{eid} min {low}: the example has none to remove")
        if high not in (None, "*"):
            limit = int(high)
            if values:

                def exceed(r: Json, loc: str = values[0][0], limit: int = limit) -> None:
                    container, key = _locate(r, loc)
                    if isinstance(key, int):
                        container[key + 1 : key + 1] = [copy.deepcopy(container[key]) for _ in range(limit)]
                    else:
                        container[key] = [container[key]] * (limit + 1)

                add(eid, "max" if limit else "forbidden", ("max", "forbidden"), exceed)
            elif (value := sample()) is not None and parents:

                def put(r: Json, parent: str = parents[0], key: str = base_name, value: Any = value) -> None:
                    node = _node(r, parent)
                    if isinstance(node.get(key), list):
                        node[key] = [*node[key], *copy.deepcopy(value)]
                    else:
                        node[key] = copy.deepcopy(value)

                add(eid, "max" if int(high) else "forbidden", ("max", "forbidden"), put)
            else:
                missing.append(f"{eid} max {high}: no sample to add")
        for key, fixed in element.items():
            if key.startswith(("fixed", "pattern")) and eid.endswith(".url") is False:
                if not values:
                    missing.append(f"{eid} {key}: the example has no value")
                    continue
                wrong: Any = "proposal" if key == "fixedCode" and fixed != "proposal" else "urgent"
                if key.startswith("pattern"):
                    wrong = {"coding": [{"system": "urn:example:other", "code": "x"}]}
                rule = "pattern" if key.startswith("pattern") else "fixed"

                def change(
                    r: Json, locs: tuple[str, ...] = tuple(loc for loc, _ in values), wrong: Any = wrong
                ) -> None:
                    for loc in locs:
                        container, k = _locate(r, loc)
                        container[k] = copy.deepcopy(wrong)

                add(eid, rule, (rule, "min") if slice_name else (rule,), change)
        binding = element.get("binding") or {}
        if binding.get("strength") == "required" and not (slice_name and "$this" in discriminators):
            if not values:
                missing.append(f"{eid} binding: the example has no value")
            else:

                def uncode(r: Json, locs: tuple[str, ...] = tuple(loc for loc, _ in values)) -> None:
                    for loc in locs:
                        container, k = _locate(r, loc)
                        value = container[k]
                        for coding in value.get("coding", [value]) if isinstance(value, dict) else []:
                            coding["code"] = "not-a-code"
                        if isinstance(value, str):
                            container[k] = "not-a-code"

                add(eid, "binding", ("binding",), uncode)
        targets = {
            v.profile_types.get(t) or t.rsplit("/", 1)[-1]
            for ty in element.get("type") or []
            for t in ty.get("targetProfile") or []
        }
        if targets and not discriminating and ".extension" not in eid:
            refs = [loc for loc, value in values if isinstance(value, dict) and "reference" in value]
            if refs:

                def retarget(r: Json, loc: str = refs[0], wrong: str = _wrong_reference(targets)) -> None:
                    container, k = _locate(r, loc)
                    container[k] = {"reference": wrong}

                add(eid, "reference-target", ("reference-target",), retarget)
            elif parents:
                wrong = _wrong_reference(targets)

                def add_ref(r: Json, parent: str = parents[0], key: str = base_name, wrong: str = wrong) -> None:
                    _node(r, parent)[key] = [{"reference": wrong}] if key in REFERENCE_LISTS else {"reference": wrong}

                add(eid, "reference-target", ("reference-target",), add_ref)
            else:
                missing.append(f"{eid} targets: the example has no reference")
        if name.endswith("[x]") and element.get("type"):
            if values:

                def retype(r: Json, loc: str = values[0][0]) -> None:
                    container, k = _locate(r, loc)
                    stem = str(k)[: str(k).index(next(c for c in str(k) if c.isupper()))]
                    del container[k]
                    container[stem + "Boolean"] = True

                add(eid, "type", ("type",), retype)
            else:
                missing.append(f"{eid} type: the example has no value")
        if (element.get("slicing") or {}).get("rules") == "closed":

            def stranger(r: Json, parent: str = parents[0], key: str = base_name) -> None:
                node = _node(r, parent)
                node[key] = [*node.get(key, []), {"coding": [{"system": "urn:example:other", "code": "x"}]}]

            add(eid, "slice-closed", ("slice-closed",), stranger)
    return cases, missing


def _discriminators_above(by_id: dict[str, Json], eid: str) -> list[str]:
    """The discriminator paths of the slicing that the slice just above this element belongs to."""
    parent = eid.rsplit(".", 1)[0]
    if ":" not in parent.rsplit(".", 1)[-1]:
        return []
    sliced = by_id.get(parent.rsplit(":", 1)[0]) or {}
    return [d["path"] for d in (sliced.get("slicing") or {}).get("discriminator") or []]


def _profiles() -> list[str]:
    shipped = [
        r["url"]
        for r in package_files().values()
        if r.get("resourceType") == "StructureDefinition" and r.get("kind") == "resource"
    ]
    return [*shipped, *CLAIMED]


def _all_cases() -> list[Case]:
    return [case for profile in _profiles() for case in _cases_for(profile)[0]]


CASES = _all_cases()


def test_every_rule_has_a_case() -> None:
    missing = [m for profile in _profiles() for m in _cases_for(profile)[1]]
    assert not missing, "\n".join(missing)


def test_the_claimed_rule_sets_cover_each_claimed_profile() -> None:
    urls = {r["url"] for name, r in claimed_files().items() if name.startswith("rules-")}
    assert urls == set(CLAIMED)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    v = default_validator()
    assert v.validate_profile(case.valid, case.profile, case.resolve) == []
    broken = copy.deepcopy(case.valid)
    case.breaker(broken)
    assert broken != case.valid, "the case did not change the resource"
    issues = v.validate_profile(broken, case.profile, case.resolve)
    assert any(i.rule in case.expect for i in issues), issues
