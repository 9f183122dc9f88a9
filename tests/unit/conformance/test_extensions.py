"""The product's extensions, wherever they occur: one rule per test (URL known, context, value type, binding,
complex parts); and the R4 required bindings checked on every resource."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from fhir_mappings import codes
from fhir_mappings.conformance.definitions import product_extensions
from fhir_mappings.conformance.loader import claimed_files, default_validator
from fhir_mappings.conformance.validator import Json
from tests.unit.conformance.examples import Example, examples


def _occurrences(node: Any) -> Iterator[Json]:
    if isinstance(node, list):
        for item in node:
            yield from _occurrences(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "extension" and isinstance(value, list):
                yield from (e for e in value if isinstance(e, dict))
            yield from _occurrences(value)


def _example_with(url: str) -> tuple[Example, Json]:
    """An example resource holding the extension, and (in the copy returned) that extension."""
    for ex in examples():
        resource = copy.deepcopy(ex.resource)
        for ext in _occurrences(resource):
            if ext.get("url") == url:
                return ex, resource
    raise AssertionError(f"no example the mapping writes uses {url}")


def _first(resource: Json, url: str) -> Json:
    return next(e for e in _occurrences(resource) if e.get("url") == url)


def _issues(resource: Json) -> list[tuple[str, str]]:
    return [(i.rule, i.path) for i in default_validator().check_extensions(resource)]


EXTENSIONS = product_extensions()
COMPLEX = (codes.EXT_PATIENT_PARTICIPATION, codes.EXT_STATUS_CHANGE)
SIMPLE = [u for u in EXTENSIONS if u not in COMPLEX]
CODED = [codes.EXT_NOMINATION_STATE, codes.EXT_SECTION]


@pytest.mark.parametrize("url", EXTENSIONS, ids=[u.rsplit("/", 1)[-1] for u in EXTENSIONS])
def test_the_mapping_writes_the_extension_as_defined(url: str) -> None:
    _, resource = _example_with(url)
    assert _issues(resource) == []


@pytest.mark.parametrize("url", SIMPLE, ids=[u.rsplit("/", 1)[-1] for u in SIMPLE])
def test_a_value_of_another_type_is_refused(url: str) -> None:
    _, resource = _example_with(url)
    ext = _first(resource, url)
    for key in [k for k in ext if k.startswith("value")]:
        del ext[key]
    ext["valueBoolean"] = True
    assert "extension-value" in {rule for rule, _ in _issues(resource)}


@pytest.mark.parametrize("url", SIMPLE, ids=[u.rsplit("/", 1)[-1] for u in SIMPLE])
def test_an_extension_without_a_value_is_refused(url: str) -> None:
    _, resource = _example_with(url)
    ext = _first(resource, url)
    for key in [k for k in ext if k.startswith("value")]:
        del ext[key]
    assert "extension-value" in {rule for rule, _ in _issues(resource)}


@pytest.mark.parametrize("url", EXTENSIONS, ids=[u.rsplit("/", 1)[-1] for u in EXTENSIONS])
def test_an_extension_out_of_its_context_is_refused(url: str) -> None:
    _, resource = _example_with(url)
    moved = {"resourceType": "Location", "name": "x", "extension": [copy.deepcopy(_first(resource, url))]}
    assert ("extension-context", "Location.extension[0]") in _issues(moved)


@pytest.mark.parametrize("url", CODED, ids=[u.rsplit("/", 1)[-1] for u in CODED])
def test_a_code_outside_the_value_set_is_refused(url: str) -> None:
    _, resource = _example_with(url)
    _first(resource, url)["valueCoding"]["code"] = "not-a-code"
    assert "binding" in {rule for rule, _ in _issues(resource)}


def test_an_unknown_product_extension_is_refused() -> None:
    resource = {"resourceType": "Goal", "extension": [{"url": codes.ext_url("no-such-thing"), "valueString": "x"}]}
    assert _issues(resource) == [("extension-unknown", "Goal.extension[0]")]


def test_another_systems_extension_is_left_alone() -> None:
    resource = {"resourceType": "Goal", "extension": [{"url": "http://example.org/x", "valueBoolean": True}]}
    assert _issues(resource) == []


def test_a_simple_extension_takes_no_nested_extensions() -> None:
    _, resource = _example_with(codes.EXT_MEMBER_KEY)
    _first(resource, codes.EXT_MEMBER_KEY)["extension"] = [{"url": "x", "valueString": "y"}]
    assert "extension-value" in {rule for rule, _ in _issues(resource)}


def test_a_complex_extension_refuses_an_unknown_part() -> None:
    _, resource = _example_with(codes.EXT_PATIENT_PARTICIPATION)
    _first(resource, codes.EXT_PATIENT_PARTICIPATION)["extension"].append({"url": "colour", "valueString": "red"})
    assert "extension-unknown" in {rule for rule, _ in _issues(resource)}


def test_a_complex_extension_refuses_a_value() -> None:
    _, resource = _example_with(codes.EXT_PATIENT_PARTICIPATION)
    _first(resource, codes.EXT_PATIENT_PARTICIPATION)["valueString"] = "x"
    assert "extension-value" in {rule for rule, _ in _issues(resource)}


def test_a_complex_extension_part_beyond_its_max_is_refused() -> None:
    _, resource = _example_with(codes.EXT_PATIENT_PARTICIPATION)
    ext = _first(resource, codes.EXT_PATIENT_PARTICIPATION)
    ext["extension"] += [{"url": "key", "valueString": "a"}, {"url": "key", "valueString": "b"}]
    assert "extension-cardinality" in {rule for rule, _ in _issues(resource)}


def test_a_complex_extension_part_of_another_type_is_refused() -> None:
    _, resource = _example_with(codes.EXT_PATIENT_PARTICIPATION)
    role = next(p for p in _first(resource, codes.EXT_PATIENT_PARTICIPATION)["extension"] if p["url"] == "role")
    role["valueCoding"]["code"] = "not-a-role"
    assert "binding" in {rule for rule, _ in _issues(resource)}


def test_a_status_change_needs_its_date_and_may_repeat() -> None:
    _, resource = _example_with(codes.EXT_STATUS_CHANGE)
    changes = [e for e in resource["extension"] if e["url"] == codes.EXT_STATUS_CHANGE]
    assert len(changes) >= 1
    resource["extension"] += copy.deepcopy(changes)  # repeating is allowed
    assert _issues(resource) == []
    first = _first(resource, codes.EXT_STATUS_CHANGE)
    next(p for p in first["extension"] if p["url"] == "to")["valueCode"] = "paused"  # not a CarePlan status
    assert "binding" in {rule for rule, _ in _issues(resource)}
    first["extension"] = [p for p in first["extension"] if p["url"] != "date"]
    assert "extension-cardinality" in {rule for rule, _ in _issues(resource)}


R4 = claimed_files()["terminology.json"]["r4RequiredBindings"]


def _example_with_path(path: str) -> Json:
    rtype, *rest = path.split(".")
    for ex in examples():
        if ex.resource["resourceType"] != rtype:
            continue
        node: Any = ex.resource
        for name in rest:
            node = node[0] if isinstance(node, list) and node else node
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, str):
            return copy.deepcopy(ex.resource)
    raise AssertionError(f"no example the mapping writes has {path}")


@pytest.mark.parametrize("path", sorted(R4))
def test_an_r4_required_binding_refuses_an_unknown_code(path: str) -> None:
    resource = _example_with_path(path)
    v = default_validator()
    assert v.check_r4_bindings(resource) == []
    node: Any = resource
    *head, last = path.split(".")[1:]
    for name in head:
        node = node[name]
        node = node[0] if isinstance(node, list) else node
    node[last] = "not-a-code"
    assert [i.rule for i in v.check_r4_bindings(resource)] == ["r4-binding"]
