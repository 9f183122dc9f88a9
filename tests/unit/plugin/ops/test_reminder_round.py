"""A reminder round against a mocked EHR (`responses`): groups found, read into the domain, each reminder once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses

from fhir_mappings.audit import AccessRecord, AuditAction, AuditOutcome
from fhir_mappings.codes import IDENTIFIER_SYSTEM, GoalTerm, GroupStatus, MeetingStatus, ReminderReason
from fhir_mappings.model import Meeting, ResourceGroup, new_uid
from fhir_mappings.query import GROUP_INCLUDES, SCORES_INCLUDE
from fhir_mappings.to_fhir import group_to_fhir
from plugin.audit.trail import AccessLog
from plugin.reminders import SCORES_READ, open_group_params, send_reminders
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.worker import EX_OK, EX_TEMPFAIL, BackendTokenProvider, main
from smart_launch.errors import TokenEndpointError

AMS = ZoneInfo("Europe/Amsterdam")
BASE = "https://ehr.test/fhir/R4"
LEAD = "Practitioner/anna"
NOW = datetime(2026, 6, 1, 7, 0, tzinfo=AMS)
JsonDict = dict[str, Any]


def sanne_group() -> ResourceGroup:
    """Active since January; last meeting in January; a nominee since April; an agreement due in May."""
    group = ResourceGroup.start_new(
        patient="Patient/sanne",
        patient_display="Sanne Bakker",
        regieondersteuner=LEAD,
        regieondersteuner_display="Anna de Vries",
        name="Team Sanne",
        today=date(2026, 1, 5),
    )
    group.change_status(GroupStatus.ACTIVE, date(2026, 1, 5))
    group.meetings.append(
        Meeting(uid=new_uid(), start=datetime(2026, 1, 20, 15, tzinfo=AMS), status=MeetingStatus.FULFILLED)
    )
    group.nominate("Practitioner/lotte", "Lotte Smit", date(2026, 4, 1))
    group.add_agreement("Huurtoeslag aanvragen", date(2026, 1, 20), LEAD, None, date(2026, 5, 1))
    return group


def stored(group: ResourceGroup) -> list[JsonDict]:
    """The group as a server holds it: every resource with an id (its uid) and a version, references literal."""
    written = group_to_fhir(group)
    text = json.dumps([w.resource for w in written])
    for w in written:
        text = text.replace(f"urn:uuid:{w.uid}", f"{w.resource['resourceType']}/{w.uid}")
    resources: list[JsonDict] = json.loads(text)
    for w, res in zip(written, resources, strict=True):
        res["id"] = w.uid
        res["meta"] = {"versionId": "1"}
    return resources


def searchset(resources: list[JsonDict]) -> JsonDict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


STATEMENT = {
    "resourceType": "CapabilityStatement",
    "fhirVersion": "4.0.1",
    "rest": [
        {
            "mode": "server",
            "interaction": [{"code": "transaction"}],  # no batch: the group load is one plain search
            "resource": [
                {
                    "type": t,
                    "interaction": [{"code": c} for c in ("read", "search-type", "create", "update")],
                    "searchInclude": [v for k, v in GROUP_INCLUDES if k.startswith("_include")],
                    "searchRevInclude": [v for k, v in GROUP_INCLUDES if k.startswith("_revinclude")],
                }
                for t in ("CarePlan", "CareTeam", "Communication")
            ],
        }
    ],
}


class FakeEhr:
    """Serves the groups and keeps the Communications written, honouring If-None-Exist on the identifier."""

    def __init__(self, rsps: responses.RequestsMock, groups: list[ResourceGroup]) -> None:
        self.by_patient = {g.patient: stored(g) for g in groups}
        self.communications: dict[str, JsonDict] = {}
        self.created = 0
        rsps.add("GET", f"{BASE}/metadata", json=STATEMENT)
        rsps.add_callback("GET", f"{BASE}/CareTeam", callback=self.teams)
        rsps.add_callback("GET", f"{BASE}/CarePlan", callback=self.plans)
        rsps.add_callback("POST", f"{BASE}/Communication", callback=self.create)
        self.team_queries: list[dict[str, list[str]]] = []

    def teams(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.team_queries.append(parse_qs(urlsplit(request.url).query))
        teams = [r for res in self.by_patient.values() for r in res if r["resourceType"] == "CareTeam"]
        return 200, {}, json.dumps(searchset(teams))

    def plans(self, request: Any) -> tuple[int, dict[str, str], str]:
        subject = parse_qs(urlsplit(request.url).query)["subject"][0]
        return 200, {}, json.dumps(searchset(self.by_patient.get(subject, [])))

    def create(self, request: Any) -> tuple[int, dict[str, str], str]:
        condition = request.headers["If-None-Exist"]
        match = re.fullmatch(r"identifier=(.+)\|(.+)", condition)
        assert match is not None, condition
        body = json.loads(request.body)
        assert body["identifier"] == [{"system": match[1], "value": match[2]}]
        existing = self.communications.get(match[2])
        if existing is not None:
            return 200, {}, json.dumps(existing)
        self.created += 1
        body.update(id=f"c{self.created}", meta={"versionId": "1"})
        self.communications[match[2]] = body
        return 201, {"Location": f"{BASE}/Communication/{body['id']}/_history/1"}, json.dumps(body)


class BatchEhr(FakeEhr):
    """A FakeEhr that also takes a batch of GETs, as the app reads a group where the server can (the include search,
    the newest scores, the patient); it keeps the URLs of each batch."""

    def __init__(self, rsps: responses.RequestsMock, groups: list[ResourceGroup]) -> None:
        super().__init__(rsps, groups)
        statement = json.loads(json.dumps(STATEMENT))
        statement["rest"][0]["interaction"] = [{"code": "batch"}, {"code": "transaction"}]
        rsps.replace("GET", f"{BASE}/metadata", json=statement)
        rsps.add_callback("POST", re.compile(re.escape(BASE) + "/?$"), callback=self.batch)
        self.batches: list[list[str]] = []

    def batch(self, request: Any) -> tuple[int, dict[str, str], str]:
        urls = [e["request"]["url"] for e in json.loads(request.body)["entry"]]
        self.batches.append(urls)
        answer = {"resourceType": "Bundle", "type": "batch-response", "entry": [self.entry(u) for u in urls]}
        return 200, {}, json.dumps(answer)

    def entry(self, url: str) -> JsonDict:
        path, _, query = url.partition("?")
        params = parse_qs(query)
        if path.startswith("Patient/"):
            return {"resource": {"resourceType": "Patient", "id": path.split("/", 1)[1]}, "response": {"status": "200"}}
        held = self.by_patient.get(params["subject"][0], [])
        scores = sorted(
            (r for r in held if r["resourceType"] == "Observation"), key=lambda r: r["effectiveDateTime"], reverse=True
        )
        if path == "Observation":  # the newest scores
            found, total = scores[: int(params["_count"][0])], len(scores)
        else:
            asked = SCORES_INCLUDE[1] in params.get(SCORES_INCLUDE[0], [])
            found = [r for r in held if asked or r["resourceType"] != "Observation"]
            total = len(found)
        return {"resource": {**searchset(found), "total": total}, "response": {"status": "200 OK"}}


@pytest.fixture
def kept() -> list[AccessRecord]:
    """The access records a round keeps (the worker's access log in production)."""
    return []


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def client() -> FhirClient:
    return FhirClient(BASE, None, scope_context="system", retry=RetryPolicy(max_attempts=1))


def test_each_reminder_is_written_once_however_often_the_round_runs(
    rsps: responses.RequestsMock, tmp_path: Path, kept: list[AccessRecord]
) -> None:
    ehr = FakeEhr(rsps, [sanne_group()])
    outbox = SqliteOutbox(tmp_path / "outbox.sqlite3")
    first = send_reminders(client(), outbox, client_id="rg-backend", record=kept.extend, now=NOW)
    assert (first.groups, len(first.written), first.existing, first.failed, first.stopped) == (1, 3, [], [], None)
    reasons = sorted(c["reasonCode"][0]["coding"][0]["code"] for c in ehr.communications.values())
    assert reasons == sorted(r.value for r in ReminderReason)
    assert {c["recipient"][0]["reference"] for c in ehr.communications.values()} == {LEAD}
    # A restart (a new client, a new capability cache) and a second worker: nothing new in the record.
    again = send_reminders(client(), outbox, client_id="rg-backend", record=kept.extend, now=NOW)
    other = send_reminders(client(), outbox, client_id="rg-backend", record=kept.extend, now=NOW.replace(hour=9))
    assert (len(again.written), len(again.existing)) == (0, 3)
    assert (len(other.written), sorted(other.existing)) == (0, sorted(first.written))
    assert ehr.created == 3 and len(ehr.communications) == 3
    # The open groups are searched across patients by the product's identifier system and open states.
    assert ehr.team_queries[0]["status"] == ["proposed,active"]
    assert dict(open_group_params())["identifier"] == f"{IDENTIFIER_SYSTEM}|"


def test_a_round_reads_a_group_without_its_scores_where_the_server_takes_a_batch(
    rsps: responses.RequestsMock, tmp_path: Path, kept: list[AccessRecord]
) -> None:
    group = sanne_group()
    goal = group.add_goal("Weer aan het werk", GoalTerm.LANG, date(2026, 1, 5))
    for day, score in ((6, 4), (13, 5), (20, 6)):
        group.score_progress(goal.uid, score, datetime(2026, 1, day, 15, tzinfo=AMS))
    ehr = BatchEhr(rsps, [group])
    report = send_reminders(client(), SqliteOutbox(tmp_path / "o.sqlite3"), client_id="rg", record=kept.extend, now=NOW)
    assert (report.groups, len(report.written), report.failed) == (1, 3, [])  # as when every score is read
    (urls,) = ehr.batches  # one request for the group
    plan, scores, patient = urls
    assert plan.startswith("CarePlan?") and SCORES_INCLUDE[1] not in parse_qs(urlsplit(plan).query)["_revinclude"]
    assert scores.startswith("Observation?") and parse_qs(urlsplit(scores).query)["_count"] == [str(SCORES_READ)]
    assert patient == "Patient/sanne"


def test_a_group_with_nothing_due_gets_nothing(
    rsps: responses.RequestsMock, tmp_path: Path, kept: list[AccessRecord]
) -> None:
    group = sanne_group()
    group.meetings.append(
        Meeting(uid=new_uid(), start=datetime(2026, 6, 10, 15, tzinfo=AMS), status=MeetingStatus.BOOKED)
    )
    group.agreements.clear()
    group.members = [m for m in group.members if m.who != "Practitioner/lotte"]
    ehr = FakeEhr(rsps, [group])
    report = send_reminders(client(), SqliteOutbox(tmp_path / "o.sqlite3"), client_id="rg", record=kept.extend, now=NOW)
    assert (report.groups, report.written, ehr.created) == (1, [], 0)


def test_an_unreachable_ehr_stops_the_round(
    rsps: responses.RequestsMock, tmp_path: Path, kept: list[AccessRecord]
) -> None:
    rsps.add("GET", f"{BASE}/CareTeam", status=503, json={"resourceType": "OperationOutcome", "issue": []})
    report = send_reminders(client(), SqliteOutbox(tmp_path / "o.sqlite3"), client_id="rg", record=kept.extend, now=NOW)
    assert report.stopped is not None and report.stopped.startswith("ServerUnavailable")
    assert report.written == []


def write_toml(tmp_path: Path, *, backend: bool) -> Path:
    toml = tmp_path / "app.toml"
    text = (
        '[app]\npublic_base_url = "https://app.test"\nsecret_key = "' + "s" * 40 + '"\n'
        'session_db = "data/sessions.sqlite3"\n'
    )
    if backend:
        text += f'\n[backend]\niss = "{BASE}"\nclient_id = "rg-backend"\nprivate_key_file = "key.pem"\n'
        text += 'scopes = ["system/*.rs", "system/Communication.c"]\n'
    toml.write_text(text, encoding="utf-8")
    return toml


def test_resourcegroep_worker_with_the_apps_configuration_replays_and_reminds(
    rsps: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ehr = FakeEhr(rsps, [sanne_group()])
    monkeypatch.setenv("RESOURCEGROEP_FHIR_TOKEN", "static-test-token")  # instead of the Backend Services token
    toml = write_toml(tmp_path, backend=True)
    assert main(["--config", str(toml), "--once"], service=True) == EX_OK
    out = capsys.readouterr().out
    assert "outbox replay: 0 sent" in out
    assert "reminders: 1 group(s) read, 3 written, 0 already in the record" in out
    # Two rounds in a loop: the reminders run once (their own, longer schedule), the outbox every round.
    assert main(["--config", str(toml), "--every", "0.01", "--rounds", "2"], service=True) == EX_OK
    out = capsys.readouterr().out
    assert out.count("outbox replay:") == 2
    assert out.count("reminders:") == 1 and "0 written, 3 already in the record" in out
    assert ehr.created == 3
    assert all(c.request.headers.get("Authorization") == "Bearer static-test-token" for c in rsps.calls)
    # Each group read and reminder written is in the access log the app keeps too (the first round's read and three
    # writes, the second's read), with the worker's client id.
    (log_file,) = tmp_path.rglob("audit.jsonl")
    records = [r for r in AccessLog(log_file).records() if r.app_action == "send_reminders"]
    assert sorted(r.action.value for r in records) == ["C", "C", "C", "R", "R"]
    assert {(r.user, r.client_id, r.patient) for r in records} == {("Device/rg-backend", "rg-backend", "Patient/sanne")}


def test_reminders_are_off_without_backend_services_or_when_asked(
    rsps: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ehr = FakeEhr(rsps, [sanne_group()])
    monkeypatch.setenv("RESOURCEGROEP_FHIR_TOKEN", "t")
    plain = write_toml(tmp_path, backend=False)
    assert main(["--config", str(plain), "--fhir-base", BASE, "--once"], service=True) == EX_OK
    assert main(["--config", str(write_toml(tmp_path, backend=True)), "--once", "--no-reminders"], service=True) == 0
    assert "reminders:" not in capsys.readouterr().out and ehr.created == 0
    # The one-shot outbox worker writes them only when asked.
    assert main(["--outbox", str(tmp_path / "o.sqlite3"), "--fhir-base", BASE, "--reminders"]) == EX_OK
    assert ehr.created == 3


def test_the_worker_exit_code_tells_an_outage_of_the_reminder_round(
    rsps: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rsps.add("GET", f"{BASE}/CareTeam", status=503, json={"resourceType": "OperationOutcome", "issue": []})
    monkeypatch.setenv("RESOURCEGROEP_FHIR_TOKEN", "t")
    args = ["--outbox", str(tmp_path / "o.sqlite3"), "--fhir-base", BASE, "--reminders"]
    assert main(args) == EX_TEMPFAIL
    assert main(["--once", "--every", "5", *args], service=True) == 2  # --once with a schedule: usage error


def test_a_refused_backend_services_token_stops_the_round_instead_of_crashing(tmp_path: Path) -> None:
    class Refusing:
        def token(self) -> Any:
            raise TokenEndpointError("the key is not registered", status=401, error="invalid_client")

        def invalidate(self) -> None:
            pass

    provider = BackendTokenProvider(Refusing())  # type: ignore[arg-type]
    fhir = FhirClient(BASE, provider, scope_context="system", retry=RetryPolicy(max_attempts=1))
    report = send_reminders(fhir, SqliteOutbox(tmp_path / "o.sqlite3"), client_id="rg", record=[].extend, now=NOW)
    assert report.stopped is not None and report.stopped.startswith("Unauthorized: Backend Services token")


def test_a_round_keeps_an_access_record_of_each_group_read_and_each_reminder_written(
    rsps: responses.RequestsMock, tmp_path: Path, kept: list[AccessRecord]
) -> None:
    FakeEhr(rsps, [sanne_group()])
    outbox = SqliteOutbox(tmp_path / "o.sqlite3")
    report = send_reminders(client(), outbox, client_id="rg-backend", record=kept.extend, now=NOW)
    read, *written = kept
    assert (read.action, read.outcome, read.app_action) == (AuditAction.READ, AuditOutcome.SUCCESS, "send_reminders")
    assert (read.user, read.role, read.patient, read.client_id) == (
        "Device/rg-backend",
        "system",
        "Patient/sanne",
        "rg-backend",
    )
    assert sorted(e.split("/", 1)[0] for e in read.entities) == ["CarePlan", "CareTeam"]  # what a page records too
    assert [(w.action, w.outcome, w.patient) for w in written] == [
        (AuditAction.CREATE, AuditOutcome.SUCCESS, "Patient/sanne")
    ] * 3
    assert sorted(e for w in written for e in w.entities) == sorted(report.written)
    assert len({r.id for r in kept}) == 4
    # A later round reads again (on record) and finds the reminders in the record: nothing written, none recorded.
    kept.clear()
    send_reminders(client(), outbox, client_id="rg-backend", device="Device/rg-app", record=kept.extend, now=NOW)
    assert [(r.action, r.user) for r in kept] == [(AuditAction.READ, "Device/rg-app")]


PROBLEM = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]}


@pytest.mark.parametrize(
    ("status", "outcome", "stops"),
    [(403, AuditOutcome.REFUSED, True), (404, AuditOutcome.FAILED, False), (503, AuditOutcome.FAILED, True)],
)
@pytest.mark.parametrize("failing", ["the group's read", "a reminder's write"])
def test_a_read_or_write_the_ehr_fails_is_on_record_as_failed_with_nothing_in_it(
    rsps: responses.RequestsMock,
    tmp_path: Path,
    kept: list[AccessRecord],
    failing: str,
    status: int,
    outcome: AuditOutcome,
    stops: bool,
) -> None:
    FakeEhr(rsps, [sanne_group()])
    if failing == "the group's read":
        rsps.replace("GET", f"{BASE}/CarePlan", status=status, json=PROBLEM)
        expected = [(AuditAction.READ, outcome)]
    else:  # the group read, its first reminder refused: the group's part ends there
        rsps.replace("POST", f"{BASE}/Communication", status=status, json=PROBLEM)
        expected = [(AuditAction.READ, AuditOutcome.SUCCESS), (AuditAction.CREATE, outcome)]
    report = send_reminders(client(), SqliteOutbox(tmp_path / "o.sqlite3"), client_id="rg", record=kept.extend, now=NOW)
    assert (report.stopped is not None, len(report.failed), report.written) == (stops, 0 if stops else 1, [])
    assert [(r.action, r.outcome) for r in kept] == expected
    assert {r.patient for r in kept} == {"Patient/sanne"}
    assert kept[-1].entities == ()  # nothing read or written
