"""`resourcegroep worker` for real: the sandbox EPD, Backend Services (client_credentials, private_key_jwt), the
app's own TOML; run twice, the record holds each reminder once."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.audit import AuditAction, AuditOutcome
from fhir_mappings.codes import CS_ARTIFACT, IDENTIFIER_SYSTEM, Artifact, ReminderReason
from plugin.audit.trail import AccessLog
from sandbox.fhir import FhirStore
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def write_config(folder: Path, app_url: str, fhir_base: str, client_id: str) -> Path:
    config = folder / "app.toml"
    config.write_text(
        "[app]\n"
        f'public_base_url = "{app_url}"\n'
        f'secret_key = "test-secret-{"x" * 40}"\n'
        'session_db = "data/sessions.sqlite3"\n'
        "session_cookie_secure = false\n"
        'session_cookie_samesite = "Lax"\n'
        "\n[backend]\n"
        f'iss = "{fhir_base}"\n'
        f'client_id = "{client_id}"\n'
        'private_key_file = "app-key.pem"\n'  # the key running_stack registered (its JWKS is served by the app)
        'scopes = ["system/*.rs", "system/Communication.c"]\n',
        encoding="utf-8",
    )
    return config


def reminders(store: FhirStore) -> list[dict[str, Any]]:
    every = store.search("Communication", [("_count", "1000")]).matches
    return [
        c
        for c in every
        if any(
            coding.get("system") == CS_ARTIFACT and coding.get("code") == Artifact.REMINDER.value
            for cat in c.get("category") or []
            for coding in cat.get("coding") or []
        )
    ]


def run_worker(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", "worker", "--config", str(config), "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_the_worker_writes_each_reminder_once_across_runs(tmp_path: Path) -> None:
    with running_stack(tmp_path) as stack:
        store = stack.sandbox.store
        assert store is not None
        config = write_config(tmp_path, stack.app_url, stack.fhir_base, stack.sandbox.settings.client_id)

        first = run_worker(config)
        assert first.returncode == 0, first.stderr
        written = reminders(store)
        assert written, first.stdout  # the demo data has reminders due (see below)
        assert f"{len(written)} written, 0 already in the record" in first.stdout

        second = run_worker(config)
        assert second.returncode == 0, second.stderr
        assert f"0 written, {len(written)} already in the record" in second.stdout
        again = reminders(store)
        keys = Counter(i["value"] for c in again for i in c["identifier"] if i["system"] == IDENTIFIER_SYSTEM)
        assert len(again) == len(written) and all(n == 1 for n in keys.values())

        # Each goes to the group's regieondersteuner, about the group, with one of the three reasons.
        by_reason: dict[str, list[dict[str, Any]]] = {}
        for c in again:
            by_reason.setdefault(c["reasonCode"][0]["coding"][0]["code"], []).append(c)
        assert set(by_reason) <= {r.value for r in ReminderReason}
        for c in again:
            assert c["status"] == "completed"
            assert len(c["recipient"]) == 1 and c["recipient"][0]["reference"].startswith("Practitioner/")
            assert c["about"][0]["reference"].startswith("CareTeam/")
            assert c["subject"]["reference"].startswith("Patient/")
        sanne = [c for c in again if c["subject"]["reference"] == "Patient/sanne-bakker"]
        assert {c["recipient"][0]["reference"] for c in sanne} == {"Practitioner/anna-de-vries"}

        # Both runs are on record in the app's access log: each group read (twice), each reminder written (once),
        # with the resources the sandbox holds.
        logs = [AccessLog(file).records() for file in tmp_path.rglob("audit.jsonl")]  # the stack's app's, the worker's
        records = [r for log in logs for r in log if r.app_action == "send_reminders"]
        created = sorted(e for r in records if r.action is AuditAction.CREATE for e in r.entities)
        assert created == sorted(f"Communication/{c['id']}" for c in written)
        reads = [r for r in records if r.action is AuditAction.READ]
        groups = {c["subject"]["reference"] for c in again}
        assert groups <= {r.patient for r in reads} and len(reads) % 2 == 0
        for read in reads:
            assert read.outcome is AuditOutcome.SUCCESS and read.role == "system"
            assert read.entities and all(store.read(*e.split("/", 1))["id"] for e in read.entities)
