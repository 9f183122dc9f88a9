"""Server limits on both servers: a meeting report that scores 10 goals and adds 5 agreements is one save.

Medplum 4.5 refuses a transaction with a conditional entry beyond 8 entries; the repository learns that from
the refusal and splits the save into the fewest transactions it accepts. The sandbox store has no limit and
takes it in one. Either way: one save, every resource exactly once, references between the parts resolved,
and the Provenance(s) cover everything written. An outage between the parts parks the whole save in the
outbox; its replay, and any replay after that, writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from fhir_mappings.codes import IDENTIFIER_SYSTEM, SAVE_KEY_SYSTEM, GoalTerm, Section
from fhir_mappings.model import ResourceGroup
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.outbox import submit_rebasing
from tests.contract.conftest import Fhir
from tests.contract.test_contract_repository import (
    TODAY,
    count_identifier,
    new_patient,
    repo_for,
    started,
)
from tests.support.proxy import Fault, FaultProxy

AMS = ZoneInfo("Europe/Amsterdam")
KEY = "contract-report-10-goals-5-agreements"


@pytest.fixture
def proxy(fhir: Fhir) -> Iterator[FaultProxy]:
    parts = urlsplit(fhir.base)
    with FaultProxy(f"{parts.scheme}://{parts.netloc}", hang_seconds=3) as p:
        yield p


def _goals(g: ResourceGroup) -> None:
    for i in range(10):
        g.add_goal(f"Doel {i + 1}", GoalTerm.LANG, TODAY)


def _meeting(g: ResourceGroup) -> None:
    g.plan_meeting(datetime(2026, 11, 20, 10, 0, tzinfo=AMS))


def _report(g: ResourceGroup) -> None:
    meeting = g.meetings[0].uid
    goals = [goal.uid for goal in g.goals]
    agreements = [g.add_agreement(f"Afspraak {i + 1}", TODAY, goal_uid=goals[i]).uid for i in range(5)]
    for i, goal in enumerate(goals):
        g.score_progress(goal, i % 11, datetime(2026, 11, 20, 11, 0, tzinfo=AMS), meeting, f"Stap {i + 1}")
    g.write_report(
        meeting,
        sections={Section.SAMENVATTING: "Alle doelen besproken"},
        attended=[],
        goals_discussed=goals,
        new_agreements=agreements,
        written=datetime(2026, 11, 20, 11, 30, tzinfo=AMS),
    )


def _versions(fhir: Fhir, loaded: Any, user: str) -> dict[str, str]:
    """Every resource of the group with its version, and every Provenance naming the user."""
    out = {key: str(res["meta"]["versionId"]) for key, res in loaded.resources.items()}
    provs = fhir.search(f"Provenance?_count=1000&agent={user}")
    out.update({f"Provenance/{e['resource']['id']}": str(e["resource"]["meta"]["versionId"]) for e in provs["entry"]})
    return out


def test_a_report_with_10_scores_and_5_agreements_is_one_save_written_once(
    fhir: Fhir, proxy: FaultProxy, tmp_path: Path
) -> None:
    caps = CapabilityCache()
    repo = repo_for(fhir, proxy, caps, new_patient(fhir), tmp_path, attempts=1)
    loaded = started(repo)
    assert repo.save(loaded, _goals, "Doelen toegevoegd").saved  # 10 creates + plan + Provenance: split too
    assert repo.save(repo.load(), _meeting, "Bijeenkomst gepland").saved
    loaded = repo.load()
    limits = caps.limits(repo.client.base_url)
    if fhir.name == "medplum":
        assert limits.max_entries == 8, limits  # learned from the first refusal, kept for this server
    else:
        assert limits.max_entries is None  # the sandbox store takes any size

    # The report save meets an outage at its second transaction: the whole save waits in the outbox.
    proxy.reset()
    if fhir.name == "medplum":
        proxy.inject(1, Fault.STATUS_503)
    saved = repo.save(loaded, _report, "Verslag van de bijeenkomst", key=KEY)
    transactions = [s for s in proxy.seen if s.method == "POST" and s.path.rstrip("/").endswith(("R4", "fhir"))]
    if fhir.name == "medplum":
        assert saved.waiting and len(transactions) == 2  # part 1 written, part 2 hit the outage
        assert repo.replay_waiting()
    else:
        assert saved.saved and len(transactions) == 1  # one transaction: the fault hit nothing of it
    assert not repo.waiting() and not repo.failed()

    final = repo.load()
    group = final.group
    assert group is not None
    assert len(group.agreements) == 5 and len(group.progress) == 10 and len(group.goals) == 10
    for agreement in group.agreements:
        assert count_identifier(fhir, "Task", agreement.uid) == 1
    for score in group.progress:
        assert count_identifier(fhir, "Observation", score.uid) == 1
    report = group.meetings[0].report
    assert report is not None and sorted(report.new_agreements) == sorted(a.uid for a in group.agreements)
    plan = final.plans[0]
    task_refs = {f"Task/{final.resources[k]['id']}" for k in final.resources if k.startswith("Task/")}
    assert {a["reference"]["reference"] for a in plan.get("activity", [])} >= task_refs  # references resolved

    # The Provenance(s): every resource the save wrote is a target; each names the save key and the activity.
    provs = [
        e["resource"]
        for e in fhir.search(f"Provenance?_count=1000&agent={repo.user}").get("entry", [])
        if any(str(t.get("code", "")).startswith(KEY) for t in e["resource"].get("meta", {}).get("tag", []))
    ]
    assert provs and all(p["activity"]["text"] == "Verslag van de bijeenkomst" for p in provs)
    assert all(t["system"] == SAVE_KEY_SYSTEM for p in provs for t in p["meta"]["tag"])
    targets = {t["reference"].split("/_history")[0] for p in provs for t in p["target"]}
    written = task_refs | {k for k in final.resources if k.startswith("Observation/")}
    assert written <= targets
    assert len(provs) == (3 if fhir.name == "medplum" else 1)

    # A replay of the same save key writes nothing new: through the repository (the same submission again)
    # and through the outbox (the parked Bundle sent once more).
    before = _versions(fhir, final, repo.user)
    again = repo.save(final, _report, "Verslag van de bijeenkomst", key=KEY)
    assert again.repeated
    if fhir.name == "medplum":
        sent = repo.outbox.get(saved.outcome.queued.id) if saved.outcome and saved.outcome.queued else None
        assert sent is not None
        # What the outbox replay does with an entry, once more with the entry already sent.
        result = submit_rebasing(repo.client, sent.bundle, sent.bases, capabilities=repo.capabilities.get(repo.client))
        assert result.already_applied
    after = repo.load()
    assert _versions(fhir, after, repo.user) == before
    assert count_identifier(fhir, "Task", group.agreements[0].uid) == 1
    assert IDENTIFIER_SYSTEM  # the identifiers counted are the product's
