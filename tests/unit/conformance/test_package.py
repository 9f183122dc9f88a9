"""The shipped conformance package: built from fhir_mappings/conformance/definitions.py, complete, installable."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from fhir_mappings import codes
from fhir_mappings.conformance.loader import claimed_files, default_validator, package_files

ROOT = Path(__file__).resolve().parents[3]


def _build_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_build", ROOT / "tools" / "conformance_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_json_is_what_the_build_writes() -> None:
    stale = _build_tool().stale()
    assert stale == [], "run .venv/bin/python tools/conformance_build.py: " + ", ".join(stale)


def test_every_product_extension_in_codes_has_a_definition() -> None:
    product = {
        value
        for name, value in vars(codes).items()
        if name.startswith("EXT_") and isinstance(value, str) and value.startswith(codes.CANONICAL_BASE + "/")
    }
    defined = {r["url"] for r in package_files().values() if r.get("type") == "Extension"}
    assert product == defined


@pytest.mark.parametrize("name", sorted(n for n in package_files() if n.startswith("StructureDefinition-")))
def test_each_structure_definition_is_a_differential_on_the_r4_base(name: str) -> None:
    sd = package_files()[name]
    assert name == f"StructureDefinition-{sd['id']}.json"
    assert sd["url"] == f"{codes.CANONICAL_BASE}/StructureDefinition/{sd['id']}"
    assert sd["fhirVersion"] == "4.0.1" and sd["derivation"] == "constraint"
    assert sd["baseDefinition"] == f"http://hl7.org/fhir/StructureDefinition/{sd['type']}"
    elements = sd["differential"]["element"]
    assert elements[0]["id"] == sd["type"]
    assert all(e["path"].split(".")[0] == sd["type"] for e in elements)
    assert len({e["id"] for e in elements}) == len(elements)
    if sd["type"] == "Extension":
        assert sd["kind"] == "complex-type" and sd["context"]
        ids = {e["id"]: e for e in elements}
        assert ids["Extension.url"]["fixedUri"] == sd["url"]
        value = ids["Extension.value[x]"]
        assert value.get("max") == "0" or len(value["type"]) == 1


@pytest.mark.parametrize("name", codes.CODESYSTEM_FILES)
def test_each_product_code_system_has_a_value_set_with_all_its_codes(name: str) -> None:
    vs = package_files()[f"ValueSet-resourcegroep-{name}.json"]
    assert vs["url"] == codes.vs_url(name)
    assert vs["compose"] == {"include": [{"system": codes.cs_url(name)}]}
    expected = {(codes.cs_url(name), c["code"]) for c in codes.codesystem(name)["concept"]}
    assert default_validator().valuesets[vs["url"]] == expected


def test_the_code_systems_are_not_copied_into_the_package() -> None:
    assert not [n for n in package_files() if n.startswith("CodeSystem")]


def test_the_manifest_lists_the_package() -> None:
    manifest = package_files()["package.json"]
    assert manifest["canonical"] == codes.CANONICAL_BASE
    assert manifest["fhirVersions"] == ["4.0.1"]
    assert manifest["dependencies"] == {"hl7.fhir.r4.core": "4.0.1"}
    assert set(manifest["files"]) == set(package_files()) - {"package.json"}
    assert all((ROOT / p).is_file() for p in manifest["codeSystems"])


def test_every_canonical_comes_from_codes_py() -> None:
    """Product URLs are on the canonical base; any other URL is a codes.py constant or an R4 base definition."""
    constants = {v for v in vars(codes).values() if isinstance(v, str)}
    for url in re.findall(r'"(https?://[^"]+)"', json.dumps(package_files())):
        assert (
            url.startswith(codes.CANONICAL_BASE + "/")
            or url in constants
            or url.startswith("http://hl7.org/fhir/StructureDefinition/")
        ), url


def test_the_json_is_package_data_of_an_installed_package() -> None:
    """setuptools' package discovery (`include = ["fhir_mappings*"]`) finds a folder with an `__init__.py`, and
    `package-data` takes its `*.json`: checked once by building the wheel (41 + 7 JSON files in it)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"fhir_mappings*"' in pyproject and '"*.json"' in pyproject
    for folder in ("conformance", "conformance/package", "conformance/claimed"):
        assert (ROOT / "fhir_mappings" / folder / "__init__.py").is_file()
    listed = {e.name for e in resources.files("fhir_mappings.conformance.package").iterdir()}
    assert set(package_files()) <= listed
    assert set(claimed_files()) <= {e.name for e in resources.files("fhir_mappings.conformance.claimed").iterdir()}


def test_another_canonical_base_rewrites_the_product_urls() -> None:
    script = (
        "from fhir_mappings.conformance.loader import default_validator as d\n"
        "from tests.unit.conformance.examples import examples\n"
        "from fhir_mappings.conformance.loader import product_profile\n"
        "v = d()\n"
        "assert 'https://example.org/rg/StructureDefinition/nomination-state' in v.definitions\n"
        "assert not [u for u in v.definitions if u.startswith('https://resourcegroep.nl')]\n"
        "ex = next(e for e in examples() if e.resource['resourceType'] == 'CareTeam' and e.mode == 'nl-core')\n"
        "assert v.validate(ex.resource, [product_profile(ex.resource)], ex.resolve) == [], 'issues'\n"
    )
    env = {**os.environ, "RESOURCEGROEP_CANONICAL_BASE": "https://example.org/rg/"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
