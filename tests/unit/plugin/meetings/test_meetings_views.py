"""The meetings area with the real app and a real FHIR store: list, planning, roles, invitations, status."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from fhir_mappings.codes import CS_ARTIFACT, IDENTIFIER_SYSTEM, cs_url
from fhir_mappings.model import MAX_NAME, MAX_TEXT, add_months
from plugin.meetings import views as meeting_views
from tests.support.ui import READ_SCOPES, LaunchedApp, launched

AMS = ZoneInfo("Europe/Amsterdam")
SANNE = "Patient/sanne-bakker"
HOSTILE = "<script>alert(1)</script> \"dubbel\" 'enkel' \u202eשלום עולם\u202c 😀"
ILLEGAL = "Deze bijeenkomst kan niet meer van status veranderen."


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def by_uid(env: LaunchedApp, rtype: str, uid: str) -> dict[str, Any]:
    """The resource with the product identifier `uid`."""
    found = [
        r
        for r in env.resources(rtype)
        if any(i.get("system") == IDENTIFIER_SYSTEM and i.get("value") == uid for i in r.get("identifier", []))
    ]
    assert len(found) == 1, f"{rtype} {uid}: {len(found)} found"
    return found[0]


def sanne_meetings(env: LaunchedApp) -> list[dict[str, Any]]:
    """Sanne's meeting Appointments, oldest first."""
    meetings = [
        a
        for a in env.resources("Appointment")
        if any(
            c.get("code") == "resourcegroepbijeenkomst" for s in a.get("serviceType", []) for c in s.get("coding", [])
        )
        and any(p.get("actor", {}).get("reference") == SANNE for p in a.get("participant", []))
    ]
    return sorted(meetings, key=lambda a: a["start"])


def uid_of(resource: dict[str, Any]) -> str:
    return next(i["value"] for i in resource["identifier"] if i["system"] == IDENTIFIER_SYSTEM)


def planned_uid(response: Any) -> str:
    """The meeting uid from the redirect after planning."""
    assert response.status_code == 303, text(response)
    found = re.search(r"/bijeenkomsten/([^/#?]+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return found.group(1)


def provenance_texts(env: LaunchedApp) -> list[str]:
    return [p.get("activity", {}).get("text", "") for p in env.resources("Provenance")]


def place_actor(appointment: dict[str, Any]) -> str:
    refs = [
        p["actor"]["reference"]
        for p in appointment["participant"]
        if p.get("actor", {}).get("reference", "").startswith("Location/")
    ]
    assert len(refs) == 1, appointment["participant"]
    return str(refs[0])


def role_holders(appointment: dict[str, Any]) -> dict[str, str]:
    return {
        c["code"]: p["actor"]["reference"]
        for p in appointment["participant"]
        for t in p.get("type", [])
        for c in t.get("coding", [])
        if c.get("system") == cs_url("meeting-role")
    }


def test_a_long_list_of_earlier_meetings_shows_the_latest_with_a_link_to_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def earlier(html: str) -> list[str]:
        section = html.split('id="past-h"', 1)[1].split("</section>", 1)[0]
        return re.findall(r'href="/c/[^/]+/bijeenkomsten/([0-9a-f-]{36})"', section)

    monkeypatch.setattr(meeting_views, "EARLIER_SHOWN", 1)
    with launched(tmp_path, patient="sanne-bakker") as env:
        html = text(env.get("/bijeenkomsten"))
        link = re.search(
            r'<a href="(/c/[^"]+/bijeenkomsten\?alle=1)#past-h">Alle (\d+) eerdere bijeenkomsten tonen</a>', html
        )
        assert link is not None, html
        every = text(env.get("/bijeenkomsten" + link.group(1).split("/bijeenkomsten", 1)[1]))
        shown, listed = earlier(html), earlier(every)
        count = int(link.group(2))
        assert len(listed) == count >= 2 and shown == listed[:1]  # the latest first, then all of them
        assert f"De laatste 1 van {count}." in html and "eerdere bijeenkomsten tonen" not in every
        starts = {uid_of(a): a["start"] for a in sanne_meetings(env)}
        assert [starts[u] for u in listed] == sorted((starts[u] for u in listed), reverse=True)
        assert f"Show all {count} earlier meetings" in text(env.get("/bijeenkomsten?lang=en"))
        monkeypatch.setattr(meeting_views, "EARLIER_SHOWN", count)  # no more than shown: no link
        html = text(env.get("/bijeenkomsten"))
        assert earlier(html) == listed and "eerdere bijeenkomsten tonen" not in html


def test_pages_render_in_dutch_and_english_and_propose_three_months_on(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        index = env.get("/bijeenkomsten")
        assert index.status_code == 200, text(index)
        html = text(index)
        assert "<h1>Bijeenkomsten</h1>" in html and "Gepland" in html and "Bijeenkomst plannen" in html
        assert "Buurthuis De Linde" in html and "Omgaan met drukte" in html and "gehouden" in html
        assert re.search(r"(maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag) \d+ \w+ \d{4}, \d\d:\d\d", html)
        links = re.findall(r'href="/c/[^/]+/bijeenkomsten/([0-9a-f-]{36})"', html)
        assert len(links) == 3
        # Planned first, then held ones, the latest first.
        starts = {uid_of(a): a["start"] for a in sanne_meetings(env)}
        assert starts[links[1]] > starts[links[2]]
        english = text(env.get("/bijeenkomsten?lang=en"))
        assert "<h1>Meetings</h1>" in english and "Plan a meeting" in english and 'lang="en"' in english

        held = [a for a in sanne_meetings(env) if a["status"] == "fulfilled"]
        last = datetime.fromisoformat(held[-1]["start"]).astimezone(AMS)
        expected = add_months(last, 3).replace(second=0, microsecond=0)
        form = text(env.get("/bijeenkomsten/nieuw?lang=nl"))
        assert "Bijeenkomst plannen" in form
        assert f'value="{expected:%Y-%m-%dT%H:%M}"' in form, expected
        assert re.search(r'id="minutes"[^>]*value="60"', form)
        assert re.search(r'checked[^>]*value="[0-9a-f-]{36}"', form)  # the earlier place is offered, chosen
        assert "Plan a meeting" in text(env.get("/bijeenkomsten/nieuw?lang=en"))

        detail = env.get(f"/bijeenkomsten/{links[2]}?lang=nl")
        assert detail.status_code == 200, text(detail)
        page = text(detail)
        for heading in ("Rollen", "Uitnodiging", "Wie komt er", "Wat is er gebeurd"):
            assert f">{heading}</h2>" in page, heading
        assert "Ans Bakker" in page and "Omgaan met drukte" in page
        assert "Meeting of" in text(env.get(f"/bijeenkomsten/{links[2]}?lang=en"))
        assert env.get("/bijeenkomsten/onbekend").status_code == 404
        assert env.get("/bijeenkomsten/onbekend/bijeenkomst.ics").status_code == 404


def test_plan_with_a_new_place_and_with_an_earlier_place(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        locations_before = len(env.resources("Location"))
        too_short = env.post(
            "/bijeenkomsten/nieuw",
            {
                "start": "2032-03-02T19:30",
                "minutes": "5",
                "place": "new",
                "new_place_name": "",
                "new_place_address": "Dorpsstraat 1",
            },
        )
        assert too_short.status_code == 422
        html = text(too_short)
        assert "tussen 15 en 480 minuten" in html and "Vul de naam van de nieuwe plek in" in html
        assert 'value="2032-03-02T19:30"' in html and 'value="Dorpsstraat 1"' in html  # input kept
        bad_date = env.post("/bijeenkomsten/nieuw", {"start": "32-13-2032 25:00", "minutes": "60", "place": "later"})
        assert bad_date.status_code == 422 and 'value="32-13-2032 25:00"' in text(bad_date)

        new_uid = planned_uid(
            env.post(
                "/bijeenkomsten/nieuw",
                {
                    "start": "2032-03-02T19:30",
                    "minutes": "90",
                    "place": "new",
                    "new_place_name": "Bij Sanne thuis",
                    "new_place_address": "Kerkstraat 12, Breda",
                    "theme": "herorientatie",
                    "theme_text": "",
                },
            )
        )
        appointment = by_uid(env, "Appointment", new_uid)
        assert appointment["status"] == "proposed"
        assert datetime.fromisoformat(appointment["start"]) == datetime(2032, 3, 2, 19, 30, tzinfo=AMS)
        assert datetime.fromisoformat(appointment["end"]) == datetime(2032, 3, 2, 21, 0, tzinfo=AMS)
        assert appointment["minutesDuration"] == 90
        assert appointment["serviceType"][0]["coding"][0]["code"] == "resourcegroepbijeenkomst"
        assert appointment["reasonCode"][0]["coding"][0]["code"] == "herorientatie"
        location = env.store.read("Location", place_actor(appointment).split("/")[1])
        assert location["name"] == "Bij Sanne thuis" and location["address"]["text"] == "Kerkstraat 12, Breda"
        assert location["status"] == "active" and location["identifier"][0]["system"] == IDENTIFIER_SYSTEM
        place_entry = next(p for p in appointment["participant"] if p["actor"]["reference"].startswith("Location/"))
        assert place_entry["status"] == "accepted" and place_entry["actor"]["display"] == "Bij Sanne thuis"
        assert appointment["supportingInformation"][0]["reference"].startswith("CarePlan/")
        assert len(env.resources("Location")) == locations_before + 1
        assert "Bijeenkomst gepland met een nieuwe plek" in provenance_texts(env)
        page = text(env.get(f"/bijeenkomsten/{new_uid}"))
        assert "dinsdag 2 maart 2032" in page and "Bij Sanne thuis" in page

        # The place offered again: choosing it writes no new Location.
        form = text(env.get("/bijeenkomsten/nieuw"))
        choices = {
            label.strip(): value
            for value, label in re.findall(
                r'name="place" required type="radio" value="([^"]+)"> <label for="place-\d+">([^<]+)</label>', form
            )
        }
        earlier = choices["Bij Sanne thuis (Kerkstraat 12, Breda)"]
        again = planned_uid(
            env.post(
                "/bijeenkomsten/nieuw",
                {"start": "2032-06-01T19:30", "minutes": "60", "place": earlier, "theme": "", "theme_text": "Werk"},
            )
        )
        second = by_uid(env, "Appointment", again)
        assert place_actor(second) == place_actor(appointment)
        assert len(env.resources("Location")) == locations_before + 1
        assert second["reasonCode"][0]["coding"][0]["code"] == "anders" and second["reasonCode"][0]["text"] == "Werk"
        assert datetime.fromisoformat(second["start"]).utcoffset() == datetime(2032, 6, 1, tzinfo=AMS).utcoffset()
        assert "Bijeenkomst gepland" in provenance_texts(env)
        unknown = env.post("/bijeenkomsten/nieuw", {"start": "2032-06-01T19:30", "minutes": "60", "place": "x"})
        assert unknown.status_code == 422


def test_times_are_shown_as_the_clock_in_amsterdam(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        uid = planned_uid(
            env.post("/bijeenkomsten/nieuw", {"start": "2032-03-02T19:30", "minutes": "90", "place": "later"})
        )
        summer = planned_uid(
            env.post("/bijeenkomsten/nieuw", {"start": "2032-07-06T09:15", "minutes": "60", "place": "later"})
        )
        assert "dinsdag 2 maart 2032, 19:30 – 21:00" in text(env.get(f"/bijeenkomsten/{uid}"))
        assert "dinsdag 6 juli 2032, 09:15 – 10:15" in text(env.get(f"/bijeenkomsten/{summer}"))
        listing = text(env.get("/bijeenkomsten"))
        assert "dinsdag 2 maart 2032, 19:30" in listing and "dinsdag 6 juli 2032, 09:15" in listing


def test_roles_invitation_calendar_responses_and_status(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        meetings = sanne_meetings(env)
        held, planned = meetings[0], meetings[-1]
        assert held["status"] == "fulfilled" and planned["status"] == "proposed"
        uid = uid_of(planned)
        page = text(env.get(f"/bijeenkomsten/{uid}"))
        members = dict(
            re.findall(
                r'<option value="([^"]+)">([^<]+)</option>', page.split('id="voorzitter"')[1].split("</select>")[0]
            )
        )
        ans = next(who for who, name in members.items() if name == "Ans Bakker")
        karim = next(who for who, name in members.items() if name == "Karim Haddou")

        done = env.post(
            f"/bijeenkomsten/{uid}/rollen",
            {"voorzitter": ans, "notulist": "Practitioner/anna-de-vries", "tijdbewaker": karim},
        )
        assert done.status_code == 303 and done.headers["Location"].endswith("#roles")
        stored = by_uid(env, "Appointment", uid)
        relatives = {who: f"RelatedPerson/{by_uid(env, 'RelatedPerson', who)['id']}" for who in (ans, karim)}
        assert role_holders(stored) == {
            "voorzitter": relatives[ans],
            "notulist": "Practitioner/anna-de-vries",
            "tijdbewaker": relatives[karim],
        }
        assert "Rollen voor de bijeenkomst afgesproken" in provenance_texts(env)
        outsider = env.post(f"/bijeenkomsten/{uid}/rollen", {"voorzitter": "Practitioner/lotte-smit-not-a-member"})
        assert outsider.status_code == 422

        # The invitation: the prefilled Dutch text names the day, time and place; it can be changed.
        page = text(env.get(f"/bijeenkomsten/{uid}"))
        assert "Graag nodigen we je uit" in page and "Wanneer:" in page
        assert f'<option selected value="{ans}">Ans Bakker</option>' in page
        assert ">Nog niet afgesproken</option>" not in page.split('id="voorzitter"')[1].split("</select>")[0]
        done = env.post(f"/bijeenkomsten/{uid}/uitnodiging", {"message": "Kom je ook? Tot dan!"})
        assert done.status_code == 303
        invitations = [
            c
            for c in env.resources("Communication")
            if c["category"][0]["coding"][0]
            == {"system": CS_ARTIFACT, "code": "uitnodiging", "display": c["category"][0]["coding"][0].get("display")}
            and c.get("partOf", [{}])[0].get("reference") == f"Appointment/{planned['id']}"
        ]
        assert len(invitations) == 1
        invitation = invitations[0]
        assert invitation["status"] == "completed"
        assert invitation["payload"][0]["contentString"] == "Kom je ook? Tot dan!"
        recipients = {r["reference"] for r in invitation["recipient"]}
        assert SANNE in recipients and "Practitioner/anna-de-vries" in recipients and len(recipients) == 5
        attachment = invitation["payload"][1]["contentAttachment"]
        assert attachment["contentType"] == "text/calendar" and attachment["title"] == "bijeenkomst.ics"
        sent_calendar = Calendar.from_ical(base64.b64decode(attachment["data"]))
        event = next(iter(sent_calendar.walk("VEVENT")))
        assert event.decoded("DTSTART") == datetime.fromisoformat(planned["start"])
        assert str(event["UID"]).startswith(uid) and str(event["STATUS"]) == "CONFIRMED"
        assert str(event["DESCRIPTION"]) == "Kom je ook? Tot dan!"
        assert by_uid(env, "Appointment", uid)["status"] == "booked"
        assert "Uitnodiging voor de bijeenkomst verstuurd" in provenance_texts(env)
        assert "Kom je ook? Tot dan!" in text(env.get(f"/bijeenkomsten/{uid}"))

        # The download of the held meeting, with its place.
        download = env.get(f"/bijeenkomsten/{uid_of(held)}/bijeenkomst.ics")
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "text/calendar; charset=utf-8"
        start = datetime.fromisoformat(held["start"]).astimezone(AMS)
        assert download.headers["Content-Disposition"] == f'attachment; filename="bijeenkomst-{start:%Y-%m-%d}.ics"'
        event = next(iter(Calendar.from_ical(download.get_data()).walk("VEVENT")))
        assert event.decoded("DTSTART") == start and event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
        assert event.decoded("DTEND") == datetime.fromisoformat(held["end"])
        assert str(event["LOCATION"]) == "Buurthuis De Linde, Lindelaan 4, Breda"
        assert "Voorzitter: Ans Bakker" in str(event["DESCRIPTION"])

        # Responses: one select per member.
        page = text(env.get(f"/bijeenkomsten/{uid}"))
        keys = dict(re.findall(r'<label for="(r_[0-9a-f]+)">([^<]+)</label>', page))
        answers = dict.fromkeys(keys, "needs-action")
        by_name = {name: key for key, name in keys.items()}
        answers[by_name["Ans Bakker"]] = "accepted"
        answers[by_name["Karim Haddou"]] = "declined"
        answers[by_name["Sanne Bakker"]] = "tentative"
        assert env.post(f"/bijeenkomsten/{uid}/reacties", answers).status_code == 303
        statuses = {p["actor"]["reference"]: p["status"] for p in by_uid(env, "Appointment", uid)["participant"]}
        assert statuses[SANNE] == "tentative" and statuses[relatives[karim]] == "declined"
        assert statuses[relatives[ans]] == "accepted" and statuses["Practitioner/anna-de-vries"] == "needs-action"
        unknown_answer = {**answers, by_name["Ans Bakker"]: "maybe"}
        assert env.post(f"/bijeenkomsten/{uid}/reacties", unknown_answer).status_code == 422

        # Status: a held meeting cannot be cancelled; a booked one whose day has come can be a no-show (the booked
        # meeting is moved to yesterday first: before its day it can only be cancelled). Nothing more can be sent then.
        refused = env.post(f"/bijeenkomsten/{uid_of(held)}/status", {"status": "cancelled"})
        assert refused.status_code == 422 and ILLEGAL in text(refused)
        assert by_uid(env, "Appointment", uid_of(held))["status"] == "fulfilled"
        yesterday = (datetime.now(AMS) - timedelta(days=1)).strftime("%Y-%m-%dT10:00")
        moved = {
            "start": yesterday,
            "start-past": "y",
            "minutes": "60",
            "place": "later",
            "theme": "",
            "theme_text": "",
        }
        assert env.post(f"/bijeenkomsten/{uid}/verplaatsen", moved).status_code == 303
        assert env.post(f"/bijeenkomsten/{uid}/status", {"status": "noshow"}).status_code == 303
        assert by_uid(env, "Appointment", uid)["status"] == "noshow"
        assert "Bijeenkomst niet doorgegaan" in provenance_texts(env)
        again = env.post(f"/bijeenkomsten/{uid}/status", {"status": "fulfilled"})
        assert again.status_code == 422 and ILLEGAL in text(again)
        late = env.post(f"/bijeenkomsten/{uid}/uitnodiging", {"message": "Toch nog?"})
        assert late.status_code == 422 and "Toch nog?" in text(late)
        assert f'<option selected value="{ans}">Ans Bakker</option>' in text(late)  # the other forms stay as saved

        # A new meeting that is only proposed cannot be a no-show; it can be marked held (from its day on).
        fresh = planned_uid(
            env.post("/bijeenkomsten/nieuw", {"start": yesterday, "start-past": "y", "minutes": "60", "place": "later"})
        )
        assert env.post(f"/bijeenkomsten/{fresh}/status", {"status": "noshow"}).status_code == 422
        assert env.post(f"/bijeenkomsten/{fresh}/status", {"status": "fulfilled"}).status_code == 303
        assert by_uid(env, "Appointment", fresh)["status"] == "fulfilled"
        assert "Bijeenkomst gehouden" in provenance_texts(env)


def test_read_only_launch_hides_forms_and_refuses_writes(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        uid = uid_of(sanne_meetings(env)[-1])
        for path in ("/bijeenkomsten", f"/bijeenkomsten/{uid}", "/bijeenkomsten/nieuw"):
            page = env.get(path)
            assert page.status_code == 200, path
            html = text(page)
            assert "Alleen bekijken" in html and '<form method="post" action="/c/' not in html.split("readonly")[1]
            assert "Bijeenkomst plannen</a>" not in html
        assert "Ans Bakker" in text(env.get(f"/bijeenkomsten/{uid}"))
        count = len(env.resources("Appointment"))
        # The CSRF token of the read-only pages comes from the layout's own form; take it from the lifecycle page.
        for path, data in (
            ("/bijeenkomsten/nieuw", {"start": "2032-03-02T19:30", "minutes": "60", "place": "later"}),
            (f"/bijeenkomsten/{uid}/rollen", {"voorzitter": SANNE}),
            (f"/bijeenkomsten/{uid}/uitnodiging", {"message": "Hallo"}),
            (f"/bijeenkomsten/{uid}/reacties", {}),
            (f"/bijeenkomsten/{uid}/status", {"status": "cancelled"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 403, path
            assert "alleen te bekijken" in text(refused), path
        assert len(env.resources("Appointment")) == count
        assert by_uid(env, "Appointment", uid)["status"] == "proposed"


def test_hostile_text_is_stored_as_typed_and_shown_escaped(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        long_text = "x" * 10_000
        for field in ("new_place_name", "new_place_address", "theme_text"):
            data = {
                "start": "2032-03-02T19:30",
                "minutes": "60",
                "place": "new",
                "new_place_name": "Plek",
                field: long_text,
            }
            response = env.post("/bijeenkomsten/nieuw", data)
            assert response.status_code == 422, field
            assert f"maximaal {MAX_NAME} tekens" in text(response), field
        uid = planned_uid(
            env.post(
                "/bijeenkomsten/nieuw",
                {
                    "start": "2032-03-02T19:30",
                    "minutes": "60",
                    "place": "new",
                    "new_place_name": HOSTILE,
                    "new_place_address": HOSTILE + " 'adres'",
                    "theme": "anders",
                    "theme_text": HOSTILE,
                },
            )
        )
        appointment = by_uid(env, "Appointment", uid)
        location = env.store.read("Location", place_actor(appointment).split("/")[1])
        assert location["name"] == HOSTILE and location["address"]["text"] == HOSTILE + " 'adres'"
        assert appointment["reasonCode"][0]["text"] == HOSTILE

        too_long = env.post(f"/bijeenkomsten/{uid}/uitnodiging", {"message": "y" * 10_000})
        assert too_long.status_code == 422 and f"maximaal {MAX_TEXT} tekens" in text(too_long)
        assert env.post(f"/bijeenkomsten/{uid}/uitnodiging", {"message": HOSTILE + "\r\nATTENDEE:x"}).status_code == 303

        for path in ("/bijeenkomsten", f"/bijeenkomsten/{uid}", "/bijeenkomsten/nieuw"):
            html = text(env.get(path))
            assert "<script>alert(1)</script>" not in html, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
            assert "&#34;dubbel&#34;" in html or "&quot;dubbel&quot;" in html, path
            assert "שלום עולם" in html and "😀" in html, path

        download = env.get(f"/bijeenkomsten/{uid}/bijeenkomst.ics")
        assert download.headers["Content-Disposition"] == 'attachment; filename="bijeenkomst-2032-03-02.ics"'
        body = download.get_data(as_text=True)
        assert not any(line.startswith("ATTENDEE") for line in body.split("\r\n"))
        event = next(iter(Calendar.from_ical(body).walk("VEVENT")))
        assert str(event["LOCATION"]) == f"{HOSTILE}, {HOSTILE} 'adres'"
        invitation = next(
            c
            for c in env.resources("Communication")
            if c.get("partOf", [{}])[0].get("reference") == f"Appointment/{appointment['id']}"
        )
        assert invitation["payload"][0]["contentString"] == HOSTILE + "\r\nATTENDEE:x"
        sent = base64.b64decode(invitation["payload"][1]["contentAttachment"]["data"]).decode("utf-8")
        assert not any(line.startswith("ATTENDEE") for line in sent.split("\r\n"))
        assert str(next(iter(Calendar.from_ical(sent).walk("VEVENT")))["DESCRIPTION"]) == HOSTILE + "\nATTENDEE:x"


def test_an_ended_group_shows_its_meetings_but_plans_none(tmp_path: Path) -> None:
    with launched(tmp_path, patient="eva-visser") as env:
        html = text(env.get("/bijeenkomsten"))
        assert html.count("gehouden</span>") == 4 and "vroege signalen" in html.lower()
        assert "Bijeenkomst plannen</a>" not in html
        assert "De groep is beëindigd" in text(env.get("/bijeenkomsten/nieuw"))
        refused = env.post("/bijeenkomsten/nieuw", {"start": "2032-03-02T19:30", "minutes": "60", "place": "later"})
        assert refused.status_code == 422 and "Heropen de groep" in text(refused)


# ---------------------------------------------------------------------- who is acting


def snapshot(env: LaunchedApp) -> dict[str, list[tuple[str, str]]]:
    """Every resource in the store with its version, to check that a refused POST wrote nothing."""
    types = ("CareTeam", "CarePlan", "Goal", "Task", "Appointment", "Communication", "Location", "Provenance")
    return {t: sorted((r["id"], r["meta"]["versionId"]) for r in env.resources(t)) for t in types}


def participant_status(appointment: dict[str, Any], who: str) -> str:
    return str(next(p["status"] for p in appointment["participant"] if p.get("actor", {}).get("reference") == who))


LOTTE = "Practitioner/lotte-smit"
PROFESSIONAL_FORMS = ("/rollen", "/uitnodiging", "/reacties", "/status", "Bijeenkomst plannen")


def test_a_member_sees_the_meeting_and_answers_only_their_own_invitation(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=LOTTE) as env:
        held, planned = sanne_meetings(env)[0], sanne_meetings(env)[-1]
        uid = uid_of(planned)
        listing = env.get("/bijeenkomsten")
        assert listing.status_code == 200, text(listing)
        assert "Buurthuis De Linde" in text(listing) and "Bijeenkomst plannen" not in text(listing)
        page = text(env.get(f"/bijeenkomsten/{uid}"))
        assert ">Wie komt er</h2>" in page and "Ans Bakker" in page
        for form in PROFESSIONAL_FORMS:
            assert f'action="/c/{env.context_id}/bijeenkomsten/{uid}{form}"' not in page, form
        assert f'action="/c/{env.context_id}/bijeenkomsten/{uid}/mijn-reactie"' in page
        assert re.search(r'name="answer" value="accepted"[^>]*>Ik kom</button>', page)
        assert re.search(r'name="answer" value="declined"[^>]*>Ik kan niet</button>', page)
        # A held meeting: nothing to answer any more.
        assert "/mijn-reactie" not in text(env.get(f"/bijeenkomsten/{uid_of(held)}"))
        assert env.get(f"/bijeenkomsten/{uid}/bijeenkomst.ics").status_code == 200
        assert env.get("/bijeenkomsten/nieuw").status_code == 403

        answered = env.post(f"/bijeenkomsten/{uid}/mijn-reactie", {"answer": "accepted"})
        assert answered.status_code == 303, text(answered)
        stored = by_uid(env, "Appointment", uid)
        assert participant_status(stored, LOTTE) == "accepted"
        assert participant_status(stored, SANNE) == "needs-action"  # nobody else's answer changed
        assert "Gereageerd op de uitnodiging" in provenance_texts(env)
        assert "Je antwoord nu: <strong>komt</strong>" in text(env.get(f"/bijeenkomsten/{uid}"))

        before = snapshot(env)
        for path, data in (
            (f"/bijeenkomsten/{uid}/status", {"status": "cancelled"}),
            (f"/bijeenkomsten/{uid}/rollen", {"voorzitter": LOTTE}),
            (f"/bijeenkomsten/{uid}/uitnodiging", {"message": "Van Lotte"}),
            (f"/bijeenkomsten/{uid}/reacties", {}),
            ("/bijeenkomsten/nieuw", {"start": "2032-03-02T19:30", "minutes": "60", "place": "later"}),
            (f"/bijeenkomsten/{uid}/verslag", {"samenvatting": "Lotte schrijft het verslag"}),
            (f"/bijeenkomsten/{uid}/agenda", {"ready": "y"}),
            (f"/bijeenkomsten/{uid}/agenda/punt", {"text": "Van Lotte"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 403, path
            assert "Dit mag alleen" in text(refused), path
        assert snapshot(env) == before
        assert by_uid(env, "Appointment", uid)["status"] == "proposed"


def test_the_patient_answers_their_own_invitation_but_not_for_others(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=SANNE) as env:
        uid = uid_of(sanne_meetings(env)[-1])
        page = text(env.get(f"/bijeenkomsten/{uid}"))
        assert "/mijn-reactie" in page and f"{uid}/reacties" not in page and f"{uid}/status" not in page
        assert env.post(f"/bijeenkomsten/{uid}/mijn-reactie", {"answer": "tentative"}).status_code == 303
        assert participant_status(by_uid(env, "Appointment", uid), SANNE) == "tentative"
        before = snapshot(env)
        everyone = env.post(f"/bijeenkomsten/{uid}/reacties", {})
        assert everyone.status_code == 403 and "Dit mag alleen" in text(everyone)
        unknown = env.post(f"/bijeenkomsten/{uid}/mijn-reactie", {"answer": "needs-action"})
        assert unknown.status_code == 422
        assert snapshot(env) == before
