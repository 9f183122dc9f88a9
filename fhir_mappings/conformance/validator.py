"""An offline FHIR R4 profile validator for the subset of StructureDefinition rules the product needs (pure).

It reads differentials (not snapshots) and checks, per profile and along its `baseDefinition` chain where that
base is known:

- cardinality (`min`/`max`, so also required and forbidden elements), counted per parent element; a primitive that
  is only there through its `_element` (an extension such as data-absent-reason) counts as present;
- `fixed[x]` (exact) and `pattern[x]` (the pattern's content must be in the value) values;
- required bindings (`code`, `Coding`, `CodeableConcept`: at least one coding in the ValueSet) where the ValueSet's
  codes are known (product ValueSets, the small external table); others are skipped;
- allowed types of choice elements and reference targets (by the resource type a profile constrains);
- slicing with `value`/`pattern` discriminators on `url` or `$this` and `type`/`profile` on `x.resolve()` (by
  the referenced resource's type), `closed` rules;
- the product's extensions wherever they occur: known URL, context, value type, binding, complex parts;
- the R4 required bindings on status-like elements (`r4_required`), on every resource.

It does not evaluate FHIRPath invariants, does not resolve references to check the target's own profile, and does
not know the R4 base cardinalities or types of elements no profile mentions. Issues are (path, rule, message).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Json = dict[str, Any]
HL7_SD = "http://hl7.org/fhir/StructureDefinition/"
_UPPER = re.compile(r"[A-Z]")


class Issue(NamedTuple):
    path: str
    rule: str
    message: str


Resolver = Callable[[str], str | None]  # a reference -> the resource type it points to (None: unknown)


@dataclass(frozen=True)
class Segment:
    name: str
    slice: str | None = None


def _segments(element_id: str) -> list[Segment]:
    out = []
    for part in element_id.split("."):
        name, _, slice_name = part.partition(":")
        out.append(Segment(name, slice_name or None))
    return out


def _seg_id(segments: list[Segment]) -> str:
    return ".".join(s.name + (f":{s.slice}" if s.slice else "") for s in segments)


def _max(value: Any) -> int | None:
    return None if value in (None, "*") else int(value)


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference names (`Type/id`, an absolute URL, `_history`), else None."""
    if not reference or reference.startswith(("urn:", "#")):
        return None
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2]
    return None


@dataclass
class Validator:
    """Definitions in, issues out.

    `definitions`: StructureDefinitions by url (profiles, extensions, rule sets); `valuesets`: url -> the set of
    (system, code) pairs it holds; `profile_types`: referenced profile url -> resource type; `r4_required`:
    element path -> codes of its required R4 binding.
    """

    definitions: Mapping[str, Json]
    valuesets: Mapping[str, frozenset[tuple[str, str]]]
    profile_types: Mapping[str, str] = field(default_factory=dict)
    r4_required: Mapping[str, frozenset[str]] = field(default_factory=dict)
    extension_base: str = ""  # extensions under this base must be known definitions

    # ------------------------------------------------------------------ entry points

    def validate(
        self, resource: Json, profiles: Iterable[str] | None = None, resolve: Resolver | None = None
    ) -> list[Issue]:
        """Issues of `resource` against `profiles` (default: its `meta.profile`), the product extensions it holds
        and the R4 required bindings."""
        wanted = list(profiles) if profiles is not None else list((resource.get("meta") or {}).get("profile") or [])
        issues: list[Issue] = []
        for url in wanted:
            issues += self.validate_profile(resource, url, resolve)
        issues += self.check_extensions(resource)
        issues += self.check_r4_bindings(resource)
        return list(dict.fromkeys(issues))

    def validate_profile(self, resource: Json, url: str, resolve: Resolver | None = None) -> list[Issue]:
        """Issues against one profile and the known profiles it derives from."""
        rtype = str(resource.get("resourceType", ""))
        issues: list[Issue] = []
        seen: set[str] = set()
        current: str | None = url
        while current and current not in seen and not current.startswith(HL7_SD):
            seen.add(current)
            sd = self.definitions.get(current)
            if sd is None:
                if current == url:
                    issues.append(Issue(rtype, "profile-unknown", f"no definition for profile {current}"))
                break
            if sd.get("type") != rtype:
                issues.append(Issue(rtype, "profile-type", f"{current} constrains {sd.get('type')}, not {rtype}"))
                break
            issues += _Run(self, sd, resolve or (lambda _r: None)).run(resource)
            current = sd.get("baseDefinition")
        return issues

    def element_values(
        self, resource: Json, profile: str, element_id: str, resolve: Resolver | None = None
    ) -> list[tuple[str, Any]]:
        """(location, value) of every occurrence of one differential element (slices applied) in a resource."""
        run = _Run(self, self.definitions[profile], resolve or (lambda _r: None))
        segments = _segments(element_id)
        root = segments[0]

        def in_slice(sub: list[Segment], item: tuple[str, Any]) -> bool:
            return run.matches_slice([root, *sub], item)

        return _select(resource, str(resource["resourceType"]), segments[1:], in_slice)

    # ------------------------------------------------------------------ terminology

    def in_valueset(self, valueset: str, system: str | None, code: str) -> bool | None:
        """Whether (system, code) is in the ValueSet; None when its codes are not known here."""
        vs = self.valuesets.get(valueset.split("|")[0])
        if vs is None:
            return None
        if system is None:
            return any(c == code for _, c in vs)
        return (system, code) in vs

    def binding_ok(self, valueset: str, value: Any, type_code: str | None = None) -> bool | None:
        """A value against a required binding: a code, a Coding or a CodeableConcept (at least one coding)."""
        if isinstance(value, str):
            return self.in_valueset(valueset, None, value)
        if not isinstance(value, dict):
            return False
        if "coding" in value or type_code == "CodeableConcept":
            results = [self.binding_ok(valueset, c) for c in value.get("coding") or []]
            if any(r is None for r in results):
                return None
            return any(results)
        result = self.in_valueset(valueset, value.get("system"), str(value.get("code", "")))
        return result

    def check_r4_bindings(self, resource: Json) -> list[Issue]:
        rtype = str(resource.get("resourceType", ""))
        issues = []
        for path, allowed in self.r4_required.items():
            head, *rest = path.split(".")
            if head != rtype:
                continue
            for loc, value in _select(resource, rtype, [Segment(s) for s in rest]):
                if isinstance(value, str) and value not in allowed:
                    issues.append(Issue(loc, "r4-binding", f"{value!r} is not a code of the R4 binding of {path}"))
        return issues

    # ------------------------------------------------------------------ extensions

    def check_extensions(self, resource: Json) -> list[Issue]:
        """Every extension with a product URL: known, in a context it allows, with a value of its type."""
        issues: list[Issue] = []
        rtype = str(resource.get("resourceType", ""))
        for loc, element_path, ext in _extensions(resource, rtype, rtype):
            url = str(ext.get("url", ""))
            sd = self.definitions.get(url)
            if sd is None or sd.get("type") != "Extension":
                if self.extension_base and url.startswith(self.extension_base + "/"):
                    issues.append(Issue(loc, "extension-unknown", f"no definition for product extension {url}"))
                continue
            contexts = [c.get("expression") for c in sd.get("context") or []]
            if element_path not in contexts:
                issues.append(Issue(loc, "extension-context", f"{url} is not allowed on {element_path} ({contexts})"))
            issues += _Run(self, sd, lambda _r: None).check_extension(loc, ext)
        return issues


def _extensions(node: Any, loc: str, element_path: str) -> Iterable[tuple[str, str, Json]]:
    """(location, element path, extension) of every extension in a resource (not inside other extensions)."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _extensions(item, f"{loc}[{i}]", element_path)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ("extension", "modifierExtension"):
            for i, ext in enumerate(value if isinstance(value, list) else []):
                if isinstance(ext, dict):
                    yield f"{loc}.{key}[{i}]", element_path, ext
        elif key == "contained":
            continue
        elif key.startswith("_"):
            continue  # a primitive's extensions (e.g. data-absent-reason): not product extensions' places
        else:
            yield from _extensions(value, f"{loc}.{key}", f"{element_path}.{key}")


def _items(node: Any, loc: str, name: str) -> list[tuple[str, Any]]:
    """The values of child `name` (a `[x]` choice: any typed variant) of one node, with their locations."""
    if not isinstance(node, dict):
        return []
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = [k for k in node if k.startswith(stem) and _UPPER.match(k[len(stem) : len(stem) + 1] or "")]
    else:
        keys = [name] if name in node else []
        if not keys and f"_{name}" in node:  # a primitive with only extensions (no value) is present
            return [(f"{loc}.{name}", node[f"_{name}"])]
    out: list[tuple[str, Any]] = []
    for key in keys:
        value = node[key]
        if isinstance(value, list):
            out += [(f"{loc}.{key}[{i}]", v) for i, v in enumerate(value)]
        else:
            out.append((f"{loc}.{key}", value))
    return out


_COMPLEX_NAMES = frozenset(
    {"CodeableConcept", "Coding", "Reference", "Period", "Annotation", "Quantity", "Attachment", "Identifier"}
)


def _select(
    resource: Json, loc: str, segments: list[Segment], slices: Callable[..., bool] | None = None
) -> list[tuple[str, Any]]:
    current: list[tuple[str, Any]] = [(loc, resource)]
    for i, seg in enumerate(segments):
        nxt: list[tuple[str, Any]] = []
        for cloc, node in current:
            children = _items(node, cloc, seg.name)
            if seg.slice and slices is not None:
                children = [c for c in children if slices(segments[: i + 1], c)]
            nxt += children
        current = nxt
    return current


def _contains(pattern: Any, value: Any) -> bool:
    """FHIR pattern matching: every part of the pattern is in the value (lists: each item matched by some item)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_contains(v, value.get(k)) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_contains(p, v) for v in value) for p in pattern)
    return bool(pattern == value)


def _fixed_and_pattern(element: Json) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in element.items() if k.startswith(("fixed", "pattern"))]


class _Run:
    """One StructureDefinition applied to one resource."""

    def __init__(self, validator: Validator, sd: Json, resolve: Resolver) -> None:
        self.v = validator
        self.sd = sd
        self.resolve = resolve
        self.elements: dict[str, Json] = {e["id"]: e for e in (sd.get("differential") or {}).get("element") or []}

    # ---------------------------------------------------------------- slices

    def _ref_type(self, value: Any) -> str | None:
        reference = str((value or {}).get("reference", "")) if isinstance(value, dict) else ""
        return reference_type(reference) or (self.resolve(reference) if reference else None)

    def _target_types(self, element: Json | None) -> set[str]:
        types: set[str] = set()
        for t in (element or {}).get("type") or []:
            for target in t.get("targetProfile") or []:
                if target.startswith(HL7_SD):
                    types.add(target[len(HL7_SD) :])
                elif target in self.v.profile_types:
                    types.add(self.v.profile_types[target])
                elif (sd := self.v.definitions.get(target)) is not None:
                    types.add(str(sd.get("type")))
        return types

    def _value_matches(self, element: Json | None, value: Any) -> bool:
        if element is None:
            return False
        checks = _fixed_and_pattern(element)
        if checks:
            return all((_contains(v, value) if k.startswith("pattern") else v == value) for k, v in checks)
        binding = element.get("binding") or {}
        if binding.get("strength") == "required":
            return bool(self.v.binding_ok(binding["valueSet"], value))
        types = element.get("type") or []
        profiles = [p for t in types for p in t.get("profile") or []]
        if profiles and isinstance(value, dict):
            return value.get("url") in profiles
        return False

    def matches_slice(self, segments: list[Segment], item: tuple[str, Any]) -> bool:
        slice_id = _seg_id(segments)
        sliced = self.elements.get(_seg_id([*segments[:-1], Segment(segments[-1].name)])) or {}
        discriminators = (sliced.get("slicing") or {}).get("discriminator") or []
        _, value = item
        if not discriminators:
            return False
        for d in discriminators:
            path = d.get("path", "$this")
            if path.endswith(".resolve()"):
                sub = path[: -len(".resolve()")]
                target = self._target_types(self.elements.get(f"{slice_id}.{sub}"))
                if self._ref_type((value or {}).get(sub) if isinstance(value, dict) else None) not in target:
                    return False
            elif path == "$this" or (path == "url" and f"{slice_id}.url" not in self.elements):
                if not self._value_matches(self.elements.get(slice_id), value):
                    return False
            else:
                sub_el = self.elements.get(f"{slice_id}.{path}")
                if sub_el is None or not isinstance(value, dict) or not self._value_matches(sub_el, value.get(path)):
                    return False
        return True

    # ---------------------------------------------------------------- elements

    def run(self, resource: Json) -> list[Issue]:
        issues: list[Issue] = []
        rtype = str(resource["resourceType"])
        for element_id, element in self.elements.items():
            segments = _segments(element_id)
            if len(segments) == 1:
                continue
            root = segments[0]
            parents = _select(
                resource, rtype, segments[1:-1], lambda sub, item, root=root: self.matches_slice([root, *sub], item)
            )
            last = segments[-1]
            for ploc, parent in parents:
                children = _items(parent, ploc, last.name)
                if last.slice:
                    children = [c for c in children if self.matches_slice(segments, c)]
                issues += self._check_cardinality(element, ploc, last, children)
                for cloc, value in children:
                    issues += self._check_value(element, cloc, value, last.name)
                if "slicing" in element and (element["slicing"].get("rules") == "closed"):
                    issues += self._check_closed(segments, children)
        return issues

    def _check_closed(self, segments: list[Segment], children: list[tuple[str, Any]]) -> list[Issue]:
        prefix = _seg_id(segments) + ":"
        names = sorted({eid[len(prefix) :].split(".")[0] for eid in self.elements if eid.startswith(prefix)})
        issues = []
        for cloc, value in children:
            if not any(
                self.matches_slice([*segments[:-1], Segment(segments[-1].name, n)], (cloc, value)) for n in names
            ):
                issues.append(Issue(cloc, "slice-closed", f"matches none of the slices {names} ({self.sd['url']})"))
        return issues

    def _check_cardinality(
        self, element: Json, ploc: str, last: Segment, children: list[tuple[str, Any]]
    ) -> list[Issue]:
        issues = []
        name = last.name + (f":{last.slice}" if last.slice else "")
        where = f"{ploc}.{last.name}"
        low, high = int(element.get("min", 0)), _max(element.get("max"))
        if len(children) < low:
            issues.append(
                Issue(where, "min", f"{name}: {len(children)} found, at least {low} required ({self.sd['url']})")
            )
        if high is not None and len(children) > high:
            rule = "forbidden" if high == 0 else "max"
            issues.append(
                Issue(where, rule, f"{name}: {len(children)} found, at most {high} allowed ({self.sd['url']})")
            )
        return issues

    def _check_value(self, element: Json, loc: str, value: Any, name: str) -> list[Issue]:
        issues: list[Issue] = []
        url = self.sd["url"]
        for key, expected in _fixed_and_pattern(element):
            ok = _contains(expected, value) if key.startswith("pattern") else expected == value
            if not ok:
                rule = "pattern" if key.startswith("pattern") else "fixed"
                issues.append(Issue(loc, rule, f"{key} {expected!r} not met by {value!r} ({url})"))
        binding = element.get("binding") or {}
        types = element.get("type") or []
        type_code = types[0].get("code") if len(types) == 1 else None
        if binding.get("strength") == "required" and self.v.binding_ok(binding["valueSet"], value, type_code) is False:
            issues.append(Issue(loc, "binding", f"{value!r} is not in {binding['valueSet']} ({url})"))
        if name.endswith("[x]") and types:
            allowed = {t["code"] for t in types}
            suffix = loc.rsplit(".", 1)[-1].split("[")[0][len(name) - 3 :]
            actual = suffix[:1].lower() + suffix[1:] if suffix not in _COMPLEX_NAMES else suffix
            if actual not in allowed and suffix not in allowed:
                issues.append(Issue(loc, "type", f"{suffix} is not one of {sorted(allowed)} ({url})"))
        targets = self._target_types(element)
        if targets and isinstance(value, dict) and "reference" in value:
            rtype = self._ref_type(value)
            if rtype is not None and rtype not in targets:
                issues.append(Issue(loc, "reference-target", f"{rtype} is not one of {sorted(targets)} ({url})"))
        return issues

    # ---------------------------------------------------------------- extensions

    def check_extension(self, loc: str, ext: Json) -> list[Issue]:
        """One product extension instance against its definition (simple or complex)."""
        issues: list[Issue] = []
        url = self.sd["url"]
        els = self.elements
        values = [k for k in ext if k.startswith("value")]
        value_el = els.get("Extension.value[x]") or {}
        if _max(value_el.get("max")) == 0:  # complex
            if values:
                issues.append(Issue(loc, "extension-value", f"{url} is complex: no value[x] allowed"))
            parts = ext.get("extension") or []
            known = {eid.split(":")[1].split(".")[0] for eid in els if eid.startswith("Extension.extension:")}
            for i, part in enumerate(parts):
                sub = str(part.get("url", ""))
                if sub not in known:
                    issues.append(Issue(f"{loc}.extension[{i}]", "extension-unknown", f"{url} has no part {sub!r}"))
                    continue
                issues += self._check_ext_value(
                    f"{loc}.extension[{i}]", part, els.get(f"Extension.extension:{sub}.value[x]") or {}
                )
            for sub in sorted(known):
                count = sum(1 for p in parts if p.get("url") == sub)
                slice_el = els.get(f"Extension.extension:{sub}") or {}
                low, high = int(slice_el.get("min", 0)), _max(slice_el.get("max"))
                if count < low or (high is not None and count > high):
                    issues.append(Issue(loc, "extension-cardinality", f"{url} part {sub}: {count} found"))
            return issues
        if ext.get("extension"):
            issues.append(Issue(loc, "extension-value", f"{url} takes no nested extensions"))
        return issues + self._check_ext_value(loc, ext, value_el)

    def _check_ext_value(self, loc: str, ext: Json, value_el: Json) -> list[Issue]:
        url = self.sd["url"]
        values = [k for k in ext if k.startswith("value")]
        allowed = [t["code"] for t in value_el.get("type") or []]
        if len(values) != 1:
            return [Issue(loc, "extension-value", f"{url}: exactly one value[x] expected, found {values}")]
        key = values[0]
        suffix = key[len("value") :]
        if not any(suffix.lower() == a.lower() for a in allowed):
            return [Issue(f"{loc}.{key}", "extension-value", f"{url}: value type {suffix} not in {allowed}")]
        return self._check_value(value_el, f"{loc}.{key}", ext[key], "value")


# --------------------------------------------------------------------------- the R4 base (a table passed in)

BaseTable = Mapping[str, tuple[int, str, list[str]]]  # element path -> (min, max, type codes or ["#path"])
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


def _json_type_ok(type_code: str, value: Any) -> bool:
    if type_code == "boolean":
        return isinstance(value, bool)
    if type_code in _INTEGERS:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_code == "decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_code[:1].islower() or type_code.startswith("http://hl7.org/fhirpath/"):
        return isinstance(value, str)
    return isinstance(value, dict)


def check_base(resource: Json, base: BaseTable) -> list[Issue]:
    """A resource against the R4 base elements of its type: unknown elements, lists where one value is allowed (and
    the reverse), missing required elements, JSON types. Datatypes are not entered (only resource and backbone
    elements); `contained` resources are not checked."""
    rtype = str(resource.get("resourceType", ""))
    if rtype not in {p.split(".")[0] for p in base}:
        return [Issue(rtype, "r4-unknown-type", f"no R4 base table for {rtype}")]
    return _check_base_node(resource, rtype, rtype, base)


def _base_element(base: BaseTable, path: str, key: str) -> tuple[str, tuple[int, str, list[str]], str | None] | None:
    """(base path, row, the choice's type code) for one JSON key under `path`."""
    if (row := base.get(f"{path}.{key}")) is not None:
        return f"{path}.{key}", row, None
    for candidate, row in base.items():
        if (
            candidate.startswith(f"{path}.")
            and candidate.endswith("[x]")
            and candidate.count(".") == path.count(".") + 1
        ):
            stem = candidate.rsplit(".", 1)[-1][:-3]
            suffix = key[len(stem) :]
            if key.startswith(stem) and suffix[:1].isupper():
                for code in row[2]:
                    if code.lower() == suffix.lower():
                        return candidate, row, code
    return None


def _check_base_node(node: Json, path: str, loc: str, base: BaseTable) -> list[Issue]:
    issues: list[Issue] = []
    present: set[str] = set()
    for raw_key, value in node.items():
        if raw_key == "resourceType" and path.count(".") == 0:
            continue
        key = raw_key[1:] if raw_key.startswith("_") else raw_key
        found = _base_element(base, path, key)
        if found is None:
            issues.append(Issue(f"{loc}.{raw_key}", "r4-unknown-element", f"{path} has no element {key!r}"))
            continue
        epath, (_, high, types), choice = found
        present.add(epath)
        if raw_key.startswith("_"):
            continue  # a primitive's id/extensions
        items = value if isinstance(value, list) else [value]
        if high == "1" and isinstance(value, list):
            issues.append(Issue(f"{loc}.{key}", "r4-max", f"{epath} takes one value, not a list"))
        elif high != "1" and not isinstance(value, list):
            issues.append(Issue(f"{loc}.{key}", "r4-list", f"{epath} repeats: a list is expected"))
        type_code = choice or (types[0] if len(types) == 1 else None)
        for i, item in enumerate(items):
            iloc = f"{loc}.{key}[{i}]" if isinstance(value, list) else f"{loc}.{key}"
            if type_code is None:
                continue
            if type_code.startswith("#"):
                if isinstance(item, dict):
                    issues += _check_base_node(item, type_code[1:], iloc, base)
            elif type_code in ("BackboneElement", "Element") and any(p.startswith(epath + ".") for p in base):
                if isinstance(item, dict):
                    issues += _check_base_node(item, epath, iloc, base)
                else:
                    issues.append(Issue(iloc, "r4-type", f"{epath} is an element, not {type(item).__name__}"))
            elif not _json_type_ok(type_code, item):
                issues.append(Issue(iloc, "r4-type", f"{epath}: {item!r} is not a JSON {type_code}"))
    for epath, (low, _, _) in base.items():
        if low >= 1 and epath.rsplit(".", 1)[0] == path and epath not in present:
            issues.append(Issue(loc, "r4-min", f"{epath} is required"))
    return issues
