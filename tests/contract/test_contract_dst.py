"""Daylight saving on both servers (issue 12): a meeting at the spring gap is refused at the form; one at the
autumn overlap is saved with either choice; then several saves in that group succeed and every meeting keeps its
60 minutes (Appointment.minutesDuration and end - start), however the server writes the offsets back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask_babel import Babel

from fhir_mappings.codes import IDENTIFIER_SYSTEM, GoalTerm, MeetingStatus
from fhir_mappings.model import Meeting, ResourceGroup
from plugin.sync.capabilities import CapabilityCache
from plugin.sync.client import FhirClient, RetryPolicy
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import Activity, GroupRepository, LoadedGroup
from plugin.web.forms import BaseForm, LocalDateTimeField
from tests.contract.conftest import Fhir

TODAY = date(2026, 11, 2)
USER = "Practitioner/contract-dst"


class MeetingTime(BaseForm):
    start = LocalDateTimeField("start")


@pytest.fixture
def form_app() -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="contract")
    Babel(app, locale_selector=lambda: "nl")
    yield app


def chosen_time(app: Flask, data: dict[str, str]) -> tuple[datetime | None, list[str]]:
    """What the meeting form makes of a wall-clock time (and its errors)."""
    with app.test_request_context(method="POST", data=data):
        form = MeetingTime()
        form.validate()
        return form.start.data, list(form.start.errors)


def repository(fhir: Fhir, tmp_path: Path) -> GroupRepository:
    patient = fhir.create({"resourceType": "Patient", "name": [{"family": "Contract", "given": ["Zomertijd"]}]})
    parts = urlsplit(fhir.base)
    assert parts.scheme and parts.netloc
    return GroupRepository(
        client=FhirClient(fhir.base, retry=RetryPolicy(max_attempts=3), sleep=lambda _s: None),
        patient_id=str(patient["id"]),
        user=USER,
        user_display="Anna de Vries",
        outbox=SqliteOutbox(tmp_path / "outbox.sqlite"),
        capabilities=CapabilityCache(),
    )


def started(repo: GroupRepository) -> LoadedGroup:
    group = ResourceGroup.start_new(
        patient=repo.patient,
        patient_display="Zomertijd Contract",
        regieondersteuner=repo.user,
        regieondersteuner_display="Anna de Vries",
        name="Team Klok",
        today=TODAY,
    )
    assert repo.start(group, Activity("Resourcegroep gestart", "CREATE")).saved
    return repo.load()


def stored(fhir: Fhir, meeting_uid: str) -> dict[str, Any]:
    bundle = fhir.search(f"Appointment?identifier={IDENTIFIER_SYSTEM}|{meeting_uid}")
    (entry,) = [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]
    resource: dict[str, Any] = entry["resource"]
    return resource


def real_minutes(meeting: Meeting) -> float:
    return (meeting.end.astimezone(UTC) - meeting.start.astimezone(UTC)).total_seconds() / 60


def test_meetings_around_dst_changes_keep_their_hour_and_never_lock_the_group(
    fhir: Fhir, form_app: Flask, tmp_path: Path
) -> None:
    # The spring gap: refused at the form, nothing reaches the server.
    nothing, errors = chosen_time(form_app, {"start": "2032-03-28T02:30"})
    assert nothing is None and errors and "does not exist" in errors[0]
    # The autumn overlap: asked; then either choice is a real instant, an hour apart.
    asked, errors = chosen_time(form_app, {"start": "2032-10-31T02:30"})
    assert asked is None and "happens twice" in errors[0]
    first, _ = chosen_time(form_app, {"start": "2032-10-31T02:30", "start-fold": "0"})
    second, _ = chosen_time(form_app, {"start": "2032-10-31T02:30", "start-fold": "1"})
    assert first is not None and second is not None
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)

    repo = repository(fhir, tmp_path)
    loaded = started(repo)
    uids: list[str] = []
    # Both autumn choices, plus a start in the gap as an older version (or another door) would pass it on.
    gap_as_before = datetime(2032, 3, 28, 2, 30, tzinfo=first.tzinfo)
    for start in (first, second, gap_as_before):
        saved = repo.save(
            loaded, lambda g, s=start: g.plan_meeting(s, s + timedelta(minutes=60)), "Bijeenkomst gepland"
        )
        assert saved.saved, saved
        uids.append(saved.value.uid)
        loaded = repo.load()

    def check_hours(group: ResourceGroup) -> None:
        for uid in uids:
            meeting = group.meeting(uid)
            assert meeting.minutes == 60 and real_minutes(meeting) == 60, (uid, meeting.start, meeting.end)
            appointment = stored(fhir, uid)
            assert appointment["minutesDuration"] == 60
            span = datetime.fromisoformat(appointment["end"].replace("Z", "+00:00")) - datetime.fromisoformat(
                appointment["start"].replace("Z", "+00:00")
            )
            assert span == timedelta(minutes=60), appointment

    assert loaded.group is not None
    check_hours(loaded.group)
    starts = {uid: datetime.fromisoformat(stored(fhir, uid)["start"].replace("Z", "+00:00")) for uid in uids}
    assert starts[uids[0]] == first.astimezone(UTC) and starts[uids[1]] == second.astimezone(UTC)

    # Several saves in that group: each goes through, and the meetings keep their hour.
    later_saves = [
        ("Doel toegevoegd", lambda g: g.add_goal("Op tijd komen", GoalTerm.LANG, TODAY)),
        ("Naam gewijzigd", lambda g: g.rename("Team Klok en Tijd")),
        ("Bijeenkomst afgezegd", lambda g: g.set_meeting_status(uids[2], MeetingStatus.CANCELLED, TODAY)),
        ("Doel toegevoegd", lambda g: g.add_goal("Een vaste dag", GoalTerm.LANG, TODAY)),
    ]
    for activity, action in later_saves:
        saved = repo.save(loaded, action, activity)
        assert saved.saved, activity
        loaded = repo.load()
        assert loaded.group is not None
        check_hours(loaded.group)
    # Saving what was read, unchanged, sends nothing: the read-back offsets are no change.
    assert not repo.save(loaded, lambda g: None, "niets").changed
