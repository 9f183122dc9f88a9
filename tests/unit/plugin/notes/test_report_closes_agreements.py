"""Reports close the loop: open agreements marked done or dropped from the report form, in the report's one
save; and the report's print view with the clinic's name, the print date and page numbers."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.codes import IDENTIFIER_SYSTEM, AgreementStatus
from fhir_mappings.errors import DomainError
from fhir_mappings.model import CLINIC_ZONE, Agreement, ResourceGroup, dutch_date
from fhir_mappings.rights import NotAllowed
from plugin.services import meetings
from plugin.services.uow import MemoryUnitOfWork
from tests.support.ui import LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
PAST = date.today() - timedelta(days=100)
_CLOSE = re.compile(r'id="close-(\d+)-agreement" name="close-\d+-agreement" type="hidden" value="([^"]+)"')


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def planned_meeting(env: LaunchedApp) -> tuple[str, str]:
    """(product uid, id) of Sanne's meeting still planned (in the past when launched with today=PAST)."""
    for a in env.resources("Appointment"):
        codes = {c.get("code") for s in a.get("serviceType", []) for c in s.get("coding", [])}
        actors = {(p.get("actor") or {}).get("reference") for p in a.get("participant", [])}
        if "resourcegroepbijeenkomst" in codes and SANNE in actors and a["status"] == "proposed":
            uid = next(i["value"] for i in a["identifier"] if i["system"] == IDENTIFIER_SYSTEM)
            return uid, a["id"]
    raise AssertionError("no planned meeting")


def tasks_by_uid(env: LaunchedApp) -> dict[str, dict[str, Any]]:
    return {
        next(i["value"] for i in t.get("identifier", []) if i["system"] == IDENTIFIER_SYSTEM): t
        for t in env.resources("Task")
    }


def report_data(**extra: Any) -> dict[str, Any]:
    return {"samenvatting": "We spraken over de afspraken.", "besluiten": "", "overig": "", **extra}


def test_the_report_marks_open_agreements_done_or_dropped_in_one_save(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", today=PAST) as env:
        uid, _ = planned_meeting(env)
        url = f"/bijeenkomsten/{uid}/verslag"
        page = text(env.get(url))
        assert "Eerder gemaakte afspraken" in page
        lines = {int(i): html.unescape(v) for i, v in _CLOSE.findall(page)}
        assert len(lines) >= 2
        tasks = tasks_by_uid(env)
        open_before = {k for k, t in tasks.items() if t["status"] in ("requested", "accepted", "in-progress")}
        assert set(lines.values()) == open_before  # every open agreement, and nothing else
        first, second = lines[0], lines[1]
        data = report_data()
        for i, agreement in lines.items():
            data[f"close-{i}-agreement"] = agreement
            data[f"close-{i}-outcome"] = "open"
        data["close-0-outcome"], data["close-1-outcome"] = "done", "dropped"

        # An outcome that is no choice is refused at the field, nothing is saved.
        refused = env.post(url, {**data, "close-1-outcome": "weg"})
        assert refused.status_code == 422
        assert tasks_by_uid(env)[second]["status"] in ("requested", "accepted", "in-progress")

        sent: list[list[str]] = []
        transaction = env.store.transaction

        def spy(bundle: dict[str, Any], *args: Any, **kw: Any) -> Any:
            sent.append([f"{e['request']['method']} {e['request']['url'].split('/')[0]}" for e in bundle["entry"]])
            return transaction(bundle, *args, **kw)

        env.store.transaction = spy  # type: ignore[method-assign]
        saved = env.post(url, data)
        env.store.transaction = transaction  # type: ignore[method-assign]
        assert saved.status_code == 303, text(saved)[:2000]
        assert len(sent) == 1 and sent[0].count("PUT Task") == 2 and "POST Communication" in sent[0]
        after = tasks_by_uid(env)
        assert after[first]["status"] == "completed" and after[second]["status"] == "cancelled"
        [meeting] = [
            a for a in env.resources("Appointment") if uid in {i.get("value") for i in a.get("identifier", [])}
        ]
        day = dutch_date(datetime.fromisoformat(meeting["start"]).astimezone(CLINIC_ZONE).date())
        assert after[first]["note"][-1]["text"] == f"Klaar gemeld in het verslag van de bijeenkomst van {day}."
        assert after[first]["note"][-1]["authorReference"]["reference"] == "Practitioner/anna-de-vries"
        others = set(lines.values()) - {first, second}
        assert all(after[k]["status"] == tasks[k]["status"] for k in others)
        assert any("afspraken afgesloten" in p.get("activity", {}).get("text", "") for p in env.resources("Provenance"))

        # The closed ones are no longer offered; the timeline tells who closed them.
        again = text(env.get(url))
        assert first not in {html.unescape(v) for _, v in _CLOSE.findall(again)}
        timeline = text(env.get("/tijdlijn?soort=afspraken"))
        assert "Afspraak klaar:" in timeline and "Afspraak gaat niet door:" in timeline
        assert "door Anna de Vries" in timeline

        # A stale form that closes an agreement the other way is refused; nothing changes.
        stale = env.post(url, {**report_data(), "close-0-agreement": first, "close-0-outcome": "dropped"})
        assert stale.status_code in (409, 422)
        assert "al afgesloten" in text(stale)
        assert tasks_by_uid(env)[first]["status"] == "completed"


def test_report_print_view_has_clinic_print_date_and_page_numbers(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        uid, _ = planned_meeting(env)
        page = text(env.get(f"/bijeenkomsten/{uid}/verslag/afdrukken"))
        assert '<p class="print-clinic"><span>GGZ-instelling</span>' in page
        assert "Afgedrukt op " in page
        env.app.config["RESOURCEGROEP"] = replace(env.app.config["RESOURCEGROEP"], clinic_name="GGZ De Linde")
        assert "<span>GGZ De Linde</span>" in text(env.get(f"/bijeenkomsten/{uid}/verslag/afdrukken"))
    css = (Path(__file__).resolve().parents[4] / "plugin/static/print.css").read_text()
    assert re.search(r"@page\s*\{\s*@bottom-right\s*\{[^}]*counter\(page\)[^}]*counter\(pages\)", css)


# ------------------------------------------------------------------------------- domain and service (no HTTP)


def group_with(*agreements: Agreement) -> ResourceGroup:
    from fhir_mappings.codes import MemberRole, NominationState
    from fhir_mappings.model import Meeting, Member

    members = [
        Member("p", "Patient/p", "Sanne", {MemberRole.REGISSEUR}, nomination=NominationState.LID),
        Member("a", "Practitioner/anna", "Anna", {MemberRole.REGIEONDERSTEUNER}, nomination=NominationState.LID),
        Member("m", "RelatedPerson/ans", "Ans", {MemberRole.LID}, nomination=NominationState.LID),
    ]
    meeting = Meeting("mt", datetime(2026, 3, 1, 18, tzinfo=UTC))
    return ResourceGroup("ct", "cp", "Patient/p", "G", members=members, agreements=list(agreements), meetings=[meeting])


def test_close_agreement_rules() -> None:
    g = group_with(Agreement("a1", "Bellen"), Agreement("a2", "Mailen", status=AgreementStatus.COMPLETED))
    when = datetime(2026, 3, 2, tzinfo=UTC)
    g.close_agreement("a1", AgreementStatus.CANCELLED, "Gaat niet door", when, "Practitioner/anna")
    assert g.agreement("a1").status is AgreementStatus.CANCELLED and g.agreement("a1").notes[0].author
    g.close_agreement("a2", AgreementStatus.COMPLETED)  # closed the same way again: stays as it is
    with pytest.raises(DomainError):
        g.close_agreement("a2", AgreementStatus.CANCELLED)
    with pytest.raises(DomainError):
        g.close_agreement("a1", AgreementStatus.IN_PROGRESS)


def _report(uow: MemoryUnitOfWork, key: str, closing: dict[str, AgreementStatus]) -> Any:
    return meetings.write_report(
        uow,
        key,
        meeting_uid="mt",
        sections={},
        attended=[],
        goals=[],
        new_agreements=[],
        closing=closing,
        written=datetime(2026, 3, 2, tzinfo=UTC),
        today=date(2026, 3, 2),
    )


def test_the_service_checks_the_rights_and_is_all_or_nothing() -> None:
    g = group_with(Agreement("a1", "Bellen"), Agreement("a2", "Mailen", status=AgreementStatus.CANCELLED))
    uow = MemoryUnitOfWork("Practitioner/anna", "Patient/p", g)
    with pytest.raises(DomainError):
        _report(uow, "k1", {"a1": AgreementStatus.COMPLETED, "a2": AgreementStatus.COMPLETED})
    assert uow.group().agreement("a1").status is AgreementStatus.REQUESTED  # type: ignore[union-attr]
    assert uow.group().meeting("mt").report is None  # type: ignore[union-attr]
    done = _report(uow, "k2", {"a1": AgreementStatus.COMPLETED})
    assert done.value is not None
    assert uow.group().agreement("a1").status is AgreementStatus.COMPLETED  # type: ignore[union-attr]
    member = MemoryUnitOfWork(
        "RelatedPerson/ans", "Patient/p", group_with(Agreement("a1", "Bellen", owner="RelatedPerson/ans"))
    )
    with pytest.raises(NotAllowed):
        _report(member, "k3", {"a1": AgreementStatus.COMPLETED})


@pytest.mark.parametrize(
    ("created", "closes"),
    [(None, True), (date(2026, 2, 28), True), (date(2026, 3, 1), False), (date(2026, 3, 2), False)],
    ids=["no made-date", "the day before", "the meeting's day", "after it"],
)
def test_a_report_closes_only_agreements_made_before_its_meeting(created: date | None, closes: bool) -> None:
    """The report of the meeting of 1 March lists the open agreements made before that day; a hand-made POST that
    closes one made that day or later (from an older meeting's report) is refused, nothing saved."""
    g = group_with(Agreement("a1", "Bellen", created=created))
    uow = MemoryUnitOfWork("Practitioner/anna", "Patient/p", g)
    if closes:
        assert _report(uow, "k1", {"a1": AgreementStatus.COMPLETED}).value is not None
        assert uow.group().agreement("a1").status is AgreementStatus.COMPLETED  # type: ignore[union-attr]
        return
    with pytest.raises(DomainError) as refused:
        _report(uow, "k1", {"a1": AgreementStatus.COMPLETED})
    assert "op of na de dag van deze bijeenkomst gemaakt" in refused.value.user_message
    assert uow.group().agreement("a1").status is AgreementStatus.REQUESTED  # type: ignore[union-attr]
    assert uow.group().meeting("mt").report is None  # type: ignore[union-attr]
