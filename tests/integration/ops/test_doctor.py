"""`resourcegroep doctor` against real servers: the sandbox EPD (SMART + FHIR), the Medplum engine (FHIR, no SMART)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import running_stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def doctor(iss: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", "doctor", "--iss", iss, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def report(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        level, _, rest = line.partition(" ")
        if level in ("OK", "WARN", "FAIL"):
            feature, _, why = rest.strip().partition("  ")
            found[feature.strip()] = f"{level} {why.strip()}"
    return found


def test_doctor_on_the_sandbox_says_everything_works(tmp_path: Path) -> None:
    with running_stack(tmp_path, seed=False) as stack:
        result = doctor(stack.fhir_base)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = report(result.stdout)
    fails = {k: v for k, v in lines.items() if not v.startswith("OK")}
    assert fails == {}, result.stdout
    for feature in (
        "SMART discovery",
        "EHR launch",
        "Standalone launch",
        "PKCE S256",
        "Scopes",
        "Refresh tokens",
        "Backend Services (worker)",
        "CareTeam",
        "Communication",
        "Provenance create",
        "Transactions",
        "Batch",
        "_include/_revinclude",
        "If-Match (versioning)",
    ):
        assert feature in lines, feature
    assert lines["Scopes"].startswith("OK SMART v2")
    assert "load strategy: include" in result.stdout
    assert "save strategy: transaction" in result.stdout


def test_doctor_on_the_bare_medplum_engine_reads_its_capabilities_but_finds_no_smart(medplum_base: str) -> None:
    result = doctor(medplum_base)
    # The engine has no authorization server: the app cannot launch there (exit 1), and the doctor says why.
    assert result.returncode == 1, result.stdout + result.stderr
    lines = report(result.stdout)
    assert lines["SMART discovery"].startswith("FAIL no SMART endpoints")
    assert lines["FHIR version"].startswith("OK 4.0")
    assert lines["Transactions"].startswith("OK")
    assert lines["Batch"].startswith("OK")
    assert "load strategy:" in result.stdout and "save strategy: transaction" in result.stdout
    assert "result: the app cannot work here" in result.stdout
    # Medplum does not declare its includes; with a token the doctor probes them the way the app does.
    probed = report(doctor(medplum_base, "--token", "any").stdout)
    assert probed["_include/_revinclude"] == "OK not declared, but the probe search with them worked"


def test_doctor_on_the_sandbox_fronting_medplum_says_the_app_works(tmp_path: Path, medplum_base: str) -> None:
    with running_stack(tmp_path, upstream_url=medplum_base, seed=False) as stack:
        result = doctor(stack.fhir_base)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = report(result.stdout)
    assert lines["SMART discovery"].startswith("OK") and lines["PKCE S256"].startswith("OK")
    assert lines["Transactions"].startswith("OK") and lines["FHIR version"].startswith("OK 4.0")
