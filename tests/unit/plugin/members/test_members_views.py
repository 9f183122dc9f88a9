"""The members area with the real app and a real FHIR store: nominating, interviews, joining, leaving, history."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import escape

from fhir_mappings.codes import CS_SECTION, CS_V3_CONFIDENTIALITY, CS_V3_ROLE_CODE, EXT_NOMINATION_STATE, EXT_SECTION
from tests.support.ui import READ_SCOPES, LaunchedApp, launched, without_logout

AMS = ZoneInfo("Europe/Amsterdam")
SNOMED = "http://snomed.info/sct"
MOHAMMED = {"patient": "mohammed-el-amrani", "user": "Practitioner/bram-jansen"}
SCRIPT = "<script>alert(1)</script>"
HOSTILE = f"{SCRIPT} \"dubbel\" 'enkel' & مرحبا بالعالم 😀🎉"


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def team(env: LaunchedApp, patient: str) -> dict[str, Any]:
    teams = [t for t in env.resources("CareTeam") if t["subject"]["reference"] == f"Patient/{patient}"]
    assert len(teams) == 1
    return teams[0]


def participants(env: LaunchedApp, patient: str, display: str) -> list[dict[str, Any]]:
    """Every participation of the person shown as `display` (oldest first, as written)."""
    return [p for p in team(env, patient)["participant"] if p["member"].get("display") == display]


def participant(env: LaunchedApp, patient: str, display: str) -> dict[str, Any]:
    found = participants(env, patient, display)
    assert found, f"{display} is not in the team"
    return found[-1]


def state(part: dict[str, Any]) -> str | None:
    ext = [e for e in part.get("extension", []) if e["url"] == EXT_NOMINATION_STATE]
    return ext[0]["valueCoding"]["code"] if ext else None


def roles(part: dict[str, Any]) -> set[str]:
    return {c["code"] for r in part.get("role", []) for c in r.get("coding", [])}


def provenance_texts(env: LaunchedApp) -> list[str]:
    return [p.get("activity", {}).get("text", "") for p in env.resources("Provenance")]


def local(moment: datetime) -> str:
    """What a datetime-local input sends."""
    return moment.astimezone(AMS).strftime("%Y-%m-%dT%H:%M")


def confidentiality(resource: dict[str, Any]) -> list[str]:
    """The v3-Confidentiality codes in a resource's meta.security."""
    return [s["code"] for s in resource.get("meta", {}).get("security", []) if s.get("system") == CS_V3_CONFIDENTIALITY]


def interview_records(env: LaunchedApp, reference: str) -> list[dict[str, Any]]:
    """The interview records (Communications) about the person with this reference."""
    return [
        c for c in env.resources("Communication") if any(a.get("reference") == reference for a in c.get("about", []))
    ]


def assert_escaped(page: str, raw: str) -> None:
    assert SCRIPT not in page
    assert str(escape(raw)) in page


def test_pages_render_in_dutch_and_english(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        brother = participant(env, "mohammed-el-amrani", "Youssef El Amrani")["id"]
        neighbour = participant(env, "mohammed-el-amrani", "Henk de Boer")["id"]
        bram = participant(env, "mohammed-el-amrani", "Bram Jansen")["id"]

        index = env.get("/leden")
        assert index.status_code == 200, text(index)
        page = text(index)
        for words in (
            "<h1>Leden</h1>",
            "Leden nu",
            "Genomineerd",
            "Eerder in de groep",
            "Youssef El Amrani",
            "gesprek gevoerd",
            "gesprek gepland",
            "Beslis samen",
            "broer",
            "Iemand nomineren",
            'aria-current="page"',
            '<th scope="col">Kernlid</th>',
        ):
            assert words in page, words
        assert page.count("<h1") == 1

        held = text(env.get(f"/leden/{brother}"))
        assert "Wil Mohammed steunen zonder alles over te nemen." in held
        assert '<p class="keep-lines">Helpt met post en afspraken.</p>' in held
        assert "Verwachtingen" in held and "wordt lid van de groep" in held

        planned = text(env.get(f"/leden/{neighbour}"))
        assert "Het gesprek verzetten" in planned and "Het gesprek opschrijven" in planned
        assert 'value="lid"' not in planned and "wil toch niet meedoen" in planned

        assert "De groep overdragen" in text(env.get(f"/leden/{bram}"))
        found = text(env.get("/leden/nomineren?zoek=Anna"))  # Anna has one role in the EHR: she is added by it
        assert "Anna de Vries nomineren als GGZ Demo · Psychologie · GZ-psycholoog" in found
        assert 'name="practitioner" value="PractitionerRole/anna-de-vries-ggz"' in found
        assert "staat al in de groep" in text(env.get("/leden/nomineren?zoek=Smit"))
        assert "Typ minstens 2 letters" in text(env.get("/leden/nomineren?zoek=A"))
        hand_over = text(env.get(f"/leden/{bram}/overdragen?zoek=Anna"))
        assert "Kies Anna de Vries" in hand_over
        confirm = env.get(f"/leden/{bram}/overdragen?kies=Practitioner/anna-de-vries")
        assert confirm.status_code == 200 and "Overdragen aan Anna de Vries" in text(confirm)

        missing = env.get("/leden/no-such-member")
        assert missing.status_code == 404
        assert f'<a href="/c/{env.context_id}/">Terug naar de groep</a>' in text(missing)  # a way back
        assert env.get(f"/leden/{bram}/overdragen?kies=Practitioner/nobody").status_code == 404
        assert env.get(f"/leden/{brother}/overdragen").status_code == 404  # not the direction supporter

        english = {
            "/leden?lang=en": (
                "Members now",
                "Nominated",
                "Earlier in the group",
                "interview held",
                "Nominate someone",
            ),
            f"/leden/{brother}": ("Introductory interview", "becomes a member of the group", "brother"),
            "/leden/nomineren?zoek=Anna": (
                "Someone the patient knows",
                "Nominate Anna de Vries",
                "A professional from outside the clinic",
            ),
            f"/leden/{bram}/overdragen": ("Hand over the group",),
        }
        for path, words in english.items():
            response = env.get(path)
            assert response.status_code == 200, path
            for word in words:
                assert word in text(response), (path, word)
        assert "Leden nu" in text(env.get("/leden?lang=nl"))


def test_nominate_in_three_ways(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        # (a) someone from the patient's circle: a new RelatedPerson
        wrong = env.post(
            "/leden/nomineren/naaste",
            {"name": " ", "relationship": "O", "relationship_text": "", "phone": "abc", "email": "x@"},
        )
        assert wrong.status_code == 422
        page = text(wrong)
        for message in (
            "Vul dit veld in.",
            "Zeg in een paar woorden wie dit is",
            "Vul een telefoonnummer in",
            "Vul een e-mailadres in",
        ):
            assert message in page, message
        assert 'value="abc"' in page and 'value="x@"' in page and '<option selected value="O">' in page

        done = env.post(
            "/leden/nomineren/naaste",
            {
                "name": "Fatima El Amrani",
                "relationship": "MTH",
                "relationship_text": "",
                "phone": "06-11112222",
                "email": "fatima@example.nl",
            },
        )
        assert done.status_code == 303
        mother = [r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == "Fatima El Amrani"]
        assert len(mother) == 1
        assert mother[0]["patient"]["reference"] == "Patient/mohammed-el-amrani"
        assert mother[0]["relationship"][0]["coding"][0] == {"system": CS_V3_ROLE_CODE, "code": "MTH"}
        assert mother[0]["relationship"][0]["text"] == "moeder"
        assert {(t["system"], t["value"]) for t in mother[0]["telecom"]} == {
            ("phone", "06-11112222"),
            ("email", "fatima@example.nl"),
        }
        part = participant(env, "mohammed-el-amrani", "Fatima El Amrani")
        assert part["member"]["reference"] == f"RelatedPerson/{mother[0]['id']}"
        assert state(part) == "genomineerd" and roles(part) == {"lid"}
        assert "Naaste genomineerd voor de resourcegroep" in provenance_texts(env)
        after = text(env.get("/leden"))
        assert "Opgeslagen in het EPD" in after and "Fatima El Amrani" in after
        assert "Plan het kennismakingsgesprek" in after

        # (b) a practitioner of the clinic, found by searching the server
        assert (
            env.post(
                "/leden/nomineren/behandelaar", {"practitioner": "Practitioner/anna-de-vries", "search": "Anna"}
            ).status_code
            == 303
        )
        anna = participant(env, "mohammed-el-amrani", "Anna de Vries")
        assert anna["member"]["reference"] == "Practitioner/anna-de-vries" and state(anna) == "genomineerd"
        again = env.post(
            "/leden/nomineren/behandelaar", {"practitioner": "Practitioner/anna-de-vries", "search": "Anna"}
        )
        assert again.status_code == 422 and "Deze persoon staat al in de groep." in text(again)
        assert "staat al in de groep" in text(again)  # the search results are shown again
        unknown = env.post("/leden/nomineren/behandelaar", {"practitioner": "Practitioner/nobody"})
        assert unknown.status_code == 422 and "Deze behandelaar staat niet in het EPD." in text(unknown)
        not_a_practitioner = env.post("/leden/nomineren/behandelaar", {"practitioner": "Patient/mohammed-el-amrani"})
        assert not_a_practitioner.status_code == 422 and "Zoek de behandelaar" in text(not_a_practitioner)
        assert len(participants(env, "mohammed-el-amrani", "Mohammed El Amrani")) == 1

        # (c) a professional from outside the clinic: a RelatedPerson whose relationship is a SNOMED CT occupation
        no_text = env.post("/leden/nomineren/hulpverlener", {"pro_name": "Jet Smits", "profession": "223366009"})
        assert no_text.status_code == 422 and "Zeg in een paar woorden wat deze persoon doet." in text(no_text)
        assert 'value="Jet Smits"' in text(no_text)
        assert (
            env.post(
                "/leden/nomineren/hulpverlener",
                {
                    "pro_name": "Dr. P. de Wit",
                    "profession": "62247001",
                    "profession_text": "huisarts, Praktijk Centrum",
                    "pro_phone": "+31 76 123 45 67",
                    "pro_email": "",
                },
            ).status_code
            == 303
        )
        gp = [r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == "Dr. P. de Wit"]
        assert len(gp) == 1 and gp[0]["patient"]["reference"] == "Patient/mohammed-el-amrani"
        assert gp[0]["relationship"][0]["coding"][0] == {"system": SNOMED, "code": "62247001"}
        assert gp[0]["relationship"][0]["text"] == "huisarts, Praktijk Centrum"
        assert state(participant(env, "mohammed-el-amrani", "Dr. P. de Wit")) == "genomineerd"
        gp_page = text(env.get(f"/leden/{participant(env, 'mohammed-el-amrani', 'Dr. P. de Wit')['id']}"))
        assert "Beroep" in gp_page and "huisarts, Praktijk Centrum" in gp_page


def test_interviews_and_the_decision(tmp_path: Path) -> None:
    patient = "mohammed-el-amrani"
    with launched(tmp_path, **MOHAMMED) as env:
        assert env.post("/leden/nomineren/naaste", {"name": "Samira", "relationship": "SIS"}).status_code == 303
        sister = participant(env, patient, "Samira")["id"]

        # plan: an Appointment of type nominatiegesprek pointing at the plan, the nominee among the participants
        when = (datetime.now(AMS) + timedelta(days=7)).replace(hour=14, minute=30, second=0, microsecond=0)
        bad_date = env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": "volgende week"})
        assert bad_date.status_code == 422 and 'value="volgende week"' in text(bad_date)
        assert env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": local(when)}).status_code == 303
        assert state(participant(env, patient, "Samira")) == "gesprek-gepland"
        samira_ref = participant(env, patient, "Samira")["member"]["reference"]
        appointments = [
            a
            for a in env.resources("Appointment")
            if any(p.get("actor", {}).get("reference") == samira_ref for p in a.get("participant", []))
        ]
        assert len(appointments) == 1
        assert appointments[0]["serviceType"][0]["coding"][0]["code"] == "nominatiegesprek"
        assert datetime.fromisoformat(appointments[0]["start"]) == when
        assert appointments[0]["status"] == "booked"
        planned_at = datetime.fromisoformat(appointments[0]["created"])  # when it was planned: just now
        assert timedelta(0) <= datetime.now(AMS) - planned_at < timedelta(minutes=5), planned_at
        assert "Kennismakingsgesprek gepland" in provenance_texts(env)
        planned_page = text(env.get(f"/leden/{sister}"))
        assert ", 14:30</dd>" in planned_page and f'value="{local(when)}"' in planned_page  # Amsterdam time

        # the decision before the interview: the domain refuses, what was chosen stays chosen
        early = env.post(f"/leden/{sister}/besluit", {"outcome": "lid"})
        assert early.status_code == 422
        assert "Samira kan pas lid worden na het kennismakingsgesprek." in text(early)
        assert re.search(r'<input checked[^>]*value="lid"|value="lid"[^>]*checked', text(early))
        nothing = env.post(f"/leden/{sister}/besluit", {})
        assert nothing.status_code == 422 and "Kies wat er gebeurt." in text(nothing)

        # record: at least one topic; not in the future; then a Communication with the four sections
        held = datetime.now(AMS).replace(second=0, microsecond=0) - timedelta(minutes=1)  # not before nominated
        empty = env.post(f"/leden/{sister}/gesprek-vastleggen", {"held_at": local(held)})
        assert empty.status_code == 422 and "Schrijf minstens één van de vier onderwerpen op." in text(empty)
        assert f'value="{local(held)}"' in text(empty)
        # who may read the record is always chosen: no silent default
        assert "Wie mag dit verslag lezen?" in text(empty) and "Kies wie dit verslag mag lezen." in text(empty)
        unchosen = env.post(f"/leden/{sister}/gesprek-vastleggen", {"held_at": local(held), "inzet": "Elke week"})
        assert unchosen.status_code == 422 and "Kies wie dit verslag mag lezen." in text(unchosen)
        crafted = env.post(
            f"/leden/{sister}/gesprek-vastleggen", {"held_at": local(held), "inzet": "Elke week", "visibility": "all"}
        )
        assert crafted.status_code == 422 and "Kies wie dit verslag mag lezen." in text(crafted)
        assert "Kennismakingsgesprek vastgelegd" not in provenance_texts(env)
        assert state(participant(env, patient, "Samira")) == "gesprek-gepland"
        future = env.post(
            f"/leden/{sister}/gesprek-vastleggen",
            {"held_at": local(when), "inzet": "Elke week", "visibility": "professionals"},
        )
        assert future.status_code == 422 and "Deze tijd moet nog komen" in text(future)
        assert "Elke week</textarea>" in text(future)
        assert re.search(r'<input checked[^>]*value="professionals"|value="professionals"[^>]*checked', text(future))
        sections = {
            "verwachtingen": "Wil helpen.\nMaar niet alles overnemen.",
            "inzet": "Eens per maand",
            "relatie": "Jongere zus",
            "bijdrage": "Samen boodschappen doen",
        }
        assert (
            env.post(
                f"/leden/{sister}/gesprek-vastleggen", {"held_at": local(held), **sections, "visibility": "shared"}
            ).status_code
            == 303
        )
        assert state(participant(env, patient, "Samira")) == "gesprek-gevoerd"
        records = interview_records(env, samira_ref)
        assert len(records) == 1 and records[0]["status"] == "completed"
        assert confidentiality(records[0]) == ["N"]
        assert records[0]["category"][0]["coding"][0]["code"] == "nominatiegesprek"
        assert datetime.fromisoformat(records[0]["sent"]) == held
        written = {p["extension"][0]["valueCoding"]["code"]: p["contentString"] for p in records[0]["payload"]}
        assert written == sections
        assert all(
            p["extension"][0]["url"] == EXT_SECTION and p["extension"][0]["valueCoding"]["system"] == CS_SECTION
            for p in records[0]["payload"]
        )
        appointment_id = records[0]["partOf"][0]["reference"].split("/")[1]
        assert [a["status"] for a in env.resources("Appointment") if a["id"] == appointment_id] == ["fulfilled"]
        shown = text(env.get(f"/leden/{sister}"))
        assert '<p class="keep-lines">Wil helpen.\nMaar niet alles overnemen.</p>' in shown
        assert "Wie mag het verslag lezen" in shown and "de patiënt en de behandelaars" in shown

        # decide: member, declined, withdrawn
        assert env.post(f"/leden/{sister}/besluit", {"outcome": "lid"}).status_code == 303
        assert state(participant(env, patient, "Samira")) == "lid"
        assert (
            env.post(f"/leden/{participant(env, patient, 'Rachid')['id']}/besluit", {"outcome": "afgezien"}).status_code
            == 303
        )
        assert (
            env.post(
                f"/leden/{participant(env, patient, 'Lotte Smit')['id']}/besluit", {"outcome": "teruggetrokken"}
            ).status_code
            == 303
        )
        rachid, lotte = participant(env, patient, "Rachid"), participant(env, patient, "Lotte Smit")
        assert state(rachid) == "afgezien" and rachid["period"].get("end")
        assert state(lotte) == "teruggetrokken" and lotte["period"].get("end")
        texts = provenance_texts(env)
        for activity in (
            "Kennismakingsgesprek vastgelegd",
            "Genomineerde is lid geworden van de resourcegroep",
            "Genomineerde heeft afgezien van de resourcegroep",
            "Nominatie voor de resourcegroep teruggetrokken",
        ):
            assert activity in texts, activity
        history = text(env.get("/leden"))
        earlier = history[history.index("Eerder in de groep") :]
        assert "Rachid" in earlier and "afgezien" in earlier and "Lotte Smit" in earlier and "teruggetrokken" in earlier

        # a member's interview record can be corrected later (a typo is never stuck); the member stays a member
        # (and relabelled: now only for care professionals)
        again = env.post(
            f"/leden/{sister}/gesprek-vastleggen",
            {"held_at": local(held), "inzet": "Nieuwe tekst", "visibility": "professionals"},
        )
        assert again.status_code == 303
        corrected = text(env.get(f"/leden/{sister}"))
        assert "Nieuwe tekst" in corrected and "alleen de behandelaars, niet de patiënt" in corrected
        assert confidentiality(interview_records(env, samira_ref)[0]) == ["R"]
        assert state(participant(env, patient, "Samira")) == "lid"
        assert "Kennismakingsgesprek vastgelegd" in provenance_texts(env)


def test_core_leave_and_hand_over(tmp_path: Path) -> None:
    patient = "sanne-bakker"
    with launched(tmp_path, patient=patient) as env:
        karim = participant(env, patient, "Karim Haddou")["id"]
        sanne = participant(env, patient, "Sanne Bakker")["id"]
        anna = participant(env, patient, "Anna de Vries")["id"]
        members_now = text(env.get("/leden"))
        members_now = members_now[members_now.index("Leden nu") : members_now.index("Genomineerd")]
        assert "Ans Bakker" in members_now and "gevoerd op" in members_now and "niet nodig" in members_now

        assert env.post(f"/leden/{karim}/kernlid", {"core": "on"}).status_code == 303
        assert "kernlid" in roles(participant(env, patient, "Karim Haddou"))
        assert "Geen kernlid meer" in text(env.get(f"/leden/{karim}"))
        assert env.post(f"/leden/{karim}/kernlid", {"core": "off"}).status_code == 303
        assert "kernlid" not in roles(participant(env, patient, "Karim Haddou"))
        assert env.post(f"/leden/{karim}/kernlid", {"core": "maybe"}).status_code == 422

        unconfirmed = env.post(f"/leden/{karim}/verlaten", {})
        assert unconfirmed.status_code == 422 and "Vink het vakje aan als deze persoon echt uit de groep gaat." in text(
            unconfirmed
        )
        assert env.post(f"/leden/{karim}/verlaten", {"confirm_leave": "y"}).status_code == 303
        left = participant(env, patient, "Karim Haddou")
        assert left["period"].get("end") and "Lid heeft de resourcegroep verlaten" in provenance_texts(env)
        earlier = text(env.get("/leden"))
        assert "uit de groep gegaan" in earlier[earlier.index("Eerder in de groep") :]
        refused_core = env.post(f"/leden/{karim}/kernlid", {"core": "on"})
        assert refused_core.status_code == 422 and "Karim Haddou is geen lid meer." in text(refused_core)

        # nominated again: a new participation of the same RelatedPerson; the old one stays
        assert "Opnieuw nomineren" in text(env.get(f"/leden/{karim}"))
        assert env.post(f"/leden/{karim}/opnieuw-nomineren", {}).status_code == 303
        both = participants(env, patient, "Karim Haddou")
        assert len(both) == 2 and both[0]["member"] == both[1]["member"] and state(both[1]) == "genomineerd"

        # the patient never leaves; the last direction supporter first hands over
        patient_leaves = env.post(f"/leden/{sanne}/verlaten", {"confirm_leave": "y"})
        assert patient_leaves.status_code == 422
        assert "De patiënt is de regisseur en blijft altijd lid." in text(patient_leaves)
        anna_leaves = env.post(f"/leden/{anna}/verlaten", {"confirm_leave": "y"})
        assert anna_leaves.status_code == 422 and "Kies eerst een nieuwe regieondersteuner" in text(anna_leaves)
        assert re.search(r'<input checked[^>]*name="confirm_leave"|name="confirm_leave"[^>]*checked', text(anna_leaves))

        unconfirmed = env.post(f"/leden/{anna}/overdragen", {"practitioner": "Practitioner/bram-jansen"})
        assert unconfirmed.status_code == 422 and "Vink het vakje aan om de overdracht te bevestigen." in text(
            unconfirmed
        )
        assert "Overdragen aan Bram Jansen" in text(unconfirmed)
        itself = env.post(
            f"/leden/{anna}/overdragen", {"practitioner": "Practitioner/anna-de-vries", "confirm_hand_over": "y"}
        )
        assert itself.status_code == 422 and "Deze behandelaar is al de regieondersteuner." in text(itself)
        assert (
            env.post(
                f"/leden/{anna}/overdragen", {"practitioner": "Practitioner/bram-jansen", "confirm_hand_over": "y"}
            ).status_code
            == 303
        )
        bram = participant(env, patient, "Bram Jansen")
        assert bram["member"]["reference"] == "Practitioner/bram-jansen" and "regieondersteuner" in roles(bram)
        assert participant(env, patient, "Anna de Vries")["period"].get("end")
        assert "Regieondersteuner overgedragen" in provenance_texts(env)
        history = text(env.get("/leden"))
        assert "Anna de Vries" in history[history.index("Eerder in de groep") :]


def test_read_only_launch_shows_no_forms_and_refuses_writes(tmp_path: Path) -> None:
    patient = "sanne-bakker"
    with launched(tmp_path, patient=patient, scopes=READ_SCOPES) as env:
        karim = participant(env, patient, "Karim Haddou")["id"]
        anna = participant(env, patient, "Anna de Vries")["id"]
        index = text(env.get("/leden"))
        assert "Alleen bekijken" in index and "Iemand nomineren</a>" not in index
        member = without_logout(text(env.get(f"/leden/{karim}")))
        assert 'method="post"' not in member and "Karim Haddou" in member
        nominate = without_logout(text(env.get("/leden/nomineren?zoek=Bram")))
        assert "Deze groep is hier alleen te bekijken" in nominate and 'method="post"' not in nominate
        before = len(env.resources("Provenance"))
        for path, data in (
            ("/leden/nomineren/naaste", {"name": "Iemand", "relationship": "FRND"}),
            ("/leden/nomineren/behandelaar", {"practitioner": "Practitioner/bram-jansen"}),
            ("/leden/nomineren/hulpverlener", {"pro_name": "Iemand", "profession": "106328005"}),
            (f"/leden/{karim}/kernlid", {"core": "on"}),
            (f"/leden/{karim}/verlaten", {"confirm_leave": "y"}),
            (f"/leden/{anna}/overdragen", {"practitioner": "Practitioner/bram-jansen", "confirm_hand_over": "y"}),
        ):
            response = env.post(path, data)
            assert response.status_code == 403, path
            assert "Deze groep is hier alleen te bekijken, niet te wijzigen." in text(response)
        assert len(env.resources("Provenance")) == before


def test_hostile_text_is_stored_as_typed_and_shown_escaped(tmp_path: Path) -> None:
    patient = "mohammed-el-amrani"
    with launched(tmp_path, **MOHAMMED) as env:
        assert (
            env.post(
                "/leden/nomineren/naaste", {"name": HOSTILE, "relationship": "O", "relationship_text": HOSTILE}
            ).status_code
            == 303
        )
        assert (
            env.post(
                "/leden/nomineren/hulpverlener",
                {"pro_name": HOSTILE + " 2", "profession": "223366009", "profession_text": HOSTILE},
            ).status_code
            == 303
        )
        stored = {r["name"][0]["text"]: r for r in env.resources("RelatedPerson")}
        assert stored[HOSTILE]["relationship"][0]["text"] == HOSTILE
        assert stored[HOSTILE + " 2"]["relationship"][0]["text"] == HOSTILE
        index = text(env.get("/leden"))
        assert_escaped(index, HOSTILE)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index

        nominee = participant(env, patient, HOSTILE)["id"]
        sections = {name: f"{HOSTILE}\n{name}" for name in ("verwachtingen", "inzet", "relatie", "bijdrage")}
        held = local(datetime.now(AMS) - timedelta(minutes=1))  # nominated today: not before that
        assert (
            env.post(
                f"/leden/{nominee}/gesprek-vastleggen", {"held_at": held, **sections, "visibility": "shared"}
            ).status_code
            == 303
        )
        record = [
            c for c in env.resources("Communication") if any(a.get("display") == HOSTILE for a in c.get("about", []))
        ]
        assert {p["contentString"] for p in record[0]["payload"]} == set(sections.values())
        page = text(env.get(f"/leden/{nominee}"))
        assert_escaped(page, sections["bijdrage"])
        assert page.count("&lt;script&gt;") >= 6  # heading, name, relationship, four sections

        # 10,000 characters: the bounded-length message, the input kept (escaped) in the form
        long_text = "<b>" + "x" * 9_997
        too_long = env.post(
            "/leden/nomineren/naaste",
            {
                "name": long_text,
                "relationship": "FRND",
                "relationship_text": long_text,
                "phone": long_text,
                "email": long_text,
            },
        )
        body = text(too_long)
        assert too_long.status_code == 422
        for limit in (200, 30, 254):
            assert f"Dit is te lang: maximaal {limit} tekens." in body, limit
        assert "Vul een telefoonnummer in" not in body and "&lt;b&gt;xxx" in body and "<b>xxx" not in body
        too_long = env.post(
            "/leden/nomineren/hulpverlener",
            {
                "pro_name": long_text,
                "profession": "62247001",
                "profession_text": long_text,
                "pro_phone": long_text,
                "pro_email": long_text,
            },
        )
        assert too_long.status_code == 422 and "Dit is te lang: maximaal 200 tekens." in text(too_long)
        neighbour = participant(env, patient, "Henk de Boer")["id"]
        long_section = env.post(
            f"/leden/{neighbour}/gesprek-vastleggen", {"held_at": held, "inzet": long_text, "visibility": "shared"}
        )
        assert long_section.status_code == 422 and "Dit is te lang: maximaal 4000 tekens." in text(long_section)

        # contact details that are not a phone number or e-mail address are refused and shown back escaped
        refused = env.post(
            "/leden/nomineren/naaste",
            {"name": "Iemand", "relationship": "FRND", "phone": SCRIPT, "email": f'"{SCRIPT}"@x.nl'},
        )
        assert refused.status_code == 422 and SCRIPT not in text(refused)
        assert "Vul een telefoonnummer in" in text(refused) and "Vul een e-mailadres in" in text(refused)

        # the search text comes back in the search box, escaped; a long one gets the bounded message
        search = text(env.get("/leden/nomineren", query_string={"zoek": HOSTILE}))
        assert SCRIPT not in search and "&lt;script&gt;" in search
        long_search = text(env.get("/leden/nomineren", query_string={"zoek": "a" * 10_000}))
        assert "Dit is te lang: maximaal 100 tekens." in long_search


# ---------------------------------------------------------------------- who is acting


def related_person(env: LaunchedApp, name: str) -> str:
    found = [r["id"] for r in env.resources("RelatedPerson") if r["name"][0].get("text") == name]
    assert len(found) == 1, name
    return f"RelatedPerson/{found[0]}"


def test_a_plain_member_cannot_hand_over_the_group(tmp_path: Path) -> None:
    """Lotte Smit, a plain member, tries to become regieondersteuner with crafted requests: 403, nothing changes."""
    patient = "sanne-bakker"
    with launched(tmp_path, patient=patient, user="Practitioner/lotte-smit") as env:
        anna = participant(env, patient, "Anna de Vries")["id"]
        before = team(env, patient)
        provenances = len(env.resources("Provenance"))
        page = env.get(f"/leden/{anna}/overdragen?kies=Practitioner/lotte-smit")
        assert page.status_code == 403 and "Dit mag alleen de regieondersteuner." in text(page)
        for to in ("Practitioner/lotte-smit", "Practitioner/bram-jansen"):
            refused = env.post(f"/leden/{anna}/overdragen", {"practitioner": to, "confirm_hand_over": "y"})
            assert refused.status_code == 403, to
            assert "Dit mag alleen de regieondersteuner." in text(refused)
        assert team(env, patient) == before
        assert len(env.resources("Provenance")) == provenances

        # a colleague of the clinic (not in the team) may not hand it over either
        env.act_as("Practitioner/bram-jansen")
        refused = env.post(
            f"/leden/{anna}/overdragen", {"practitioner": "Practitioner/bram-jansen", "confirm_hand_over": "y"}
        )
        assert refused.status_code == 403 and team(env, patient) == before


def test_a_member_sees_who_is_in_the_group_without_contact_details(tmp_path: Path) -> None:
    patient = "sanne-bakker"
    phones_and_mail = ("06-12345678", "06-87654321", "ans.bakker@example.nl")
    with launched(tmp_path, patient=patient, user="Practitioner/lotte-smit") as env:
        karim = participant(env, patient, "Karim Haddou")["id"]
        for user in ("Practitioner/lotte-smit", related_person(env, "Karim Haddou")):
            env.act_as(user)
            index = env.get("/leden")
            assert index.status_code == 200, user
            page = text(index)
            assert "Ans Bakker" in page and "Karim Haddou" in page and "Anna de Vries" in page
            for detail in phones_and_mail:
                assert detail not in page, (user, detail)
            # no interview state, no nominees, no history, no links to the member pages, no forms
            assert "Kennismakingsgesprek" not in page and "gevoerd op" not in page
            assert "Eerder in de groep" not in page and "Iemand nomineren" not in page
            assert f"/leden/{karim}" not in page
            assert env.get(f"/leden/{karim}").status_code == 403
            assert env.get("/leden/nomineren").status_code == 403
            assert env.post("/leden/nomineren/naaste", {"name": "Iemand", "relationship": "FRND"}).status_code == 403
        assert "Naaste genomineerd voor de resourcegroep" not in provenance_texts(env)


def test_the_patient_nominates_and_withdraws_and_reads_only_shared_interview_records(tmp_path: Path) -> None:
    patient = "sanne-bakker"
    with launched(tmp_path, patient=patient, user=f"Patient/{patient}") as env:
        mother = participant(env, patient, "Ans Bakker")["id"]
        karim = participant(env, patient, "Karim Haddou")["id"]
        anna = participant(env, patient, "Anna de Vries")["id"]

        # the mother's record is for care professionals only; Karim's is shared with the patient
        confidential = text(env.get(f"/leden/{mother}"))
        for secret in ("zware tijd", "Kan helpen met geldzaken", "Elke bijeenkomst, ook"):
            assert secret not in confidential, secret
        assert "Alleen de behandelaars mogen het verslag van dit gesprek lezen." in confidential
        assert "alleen de behandelaars, niet jij" in confidential
        assert "06-12345678" in confidential  # the patient may see her supporters' contact details
        shared = text(env.get(f"/leden/{karim}"))
        assert "Samen sporten." in shared and "jij en de behandelaars" in shared
        # no forms of the care professionals on the patient's pages
        for page in (confidential, shared):
            for action in ("/kernlid", "/verlaten", "/overdragen", "/gesprek-"):
                assert action not in page, action
        assert "/overdragen" not in text(env.get(f"/leden/{anna}"))
        assert env.get(f"/leden/{anna}/overdragen").status_code == 403

        # the patient nominates someone from her circle ... (a form left empty speaks to her, not of her)
        empty = env.post("/leden/nomineren/naaste", {"name": "Tom Jansen", "relationship": ""})
        assert empty.status_code == 422 and "Kies wie dit is voor jou." in text(empty)
        assert "voor de patiënt" not in text(empty)
        assert "Iemand nomineren" in text(env.get("/leden"))
        assert env.post("/leden/nomineren/naaste", {"name": "Tom Jansen", "relationship": "FRND"}).status_code == 303
        tom = participant(env, patient, "Tom Jansen")["id"]
        nominee = text(env.get(f"/leden/{tom}"))
        assert "Nominatie intrekken" in nominee and f"/leden/{tom}/terugtrekken" in nominee
        for action in ("/gesprek-plannen", "/gesprek-vastleggen", "/besluit"):
            assert action not in nominee, action
        # ... may not plan or record the interview herself, nor decide (crafted POSTs) ...
        provenances = len(env.resources("Provenance"))
        when = local(datetime.now(AMS) + timedelta(days=3))
        for path, data in (
            (f"/leden/{tom}/gesprek-plannen", {"planned_start": when}),
            (f"/leden/{tom}/gesprek-vastleggen", {"held_at": when, "inzet": "x", "visibility": "shared"}),
            (f"/leden/{tom}/besluit", {"outcome": "afgezien"}),
            (f"/leden/{karim}/kernlid", {"core": "on"}),
            (f"/leden/{karim}/verlaten", {"confirm_leave": "y"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 403, path
            assert "Dit mag alleen de regieondersteuner of een andere behandelaar" in text(refused)
        assert len(env.resources("Provenance")) == provenances
        assert state(participant(env, patient, "Tom Jansen")) == "genomineerd"

        # ... and withdraws the nomination; it stays in the history
        assert env.post(f"/leden/{tom}/terugtrekken", {}).status_code == 303
        withdrawn = participant(env, patient, "Tom Jansen")
        assert state(withdrawn) == "teruggetrokken" and withdrawn["period"].get("end")
        assert "Nominatie voor de resourcegroep teruggetrokken" in provenance_texts(env)
        history = text(env.get("/leden"))
        assert "Tom Jansen" in history[history.index("Eerder in de groep") :]


def test_a_double_submit_nominates_once(tmp_path: Path) -> None:
    patient = "mohammed-el-amrani"
    with launched(tmp_path, **MOHAMMED) as env:
        form = {"name": "Twee Keer", "relationship": "FRND", "submission_key": "one-click"}
        first, again = env.post("/leden/nomineren/naaste", form), env.post("/leden/nomineren/naaste", form)
        assert first.status_code == 303 and again.status_code == 303
        assert len([r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == "Twee Keer"]) == 1
        assert len(participants(env, patient, "Twee Keer")) == 1
        assert "Dit was al opgeslagen" in text(env.get("/leden"))


def test_a_members_page_says_when_they_were_nominated_and_when_they_joined_and_a_nominee_has_no_role(
    tmp_path: Path,
) -> None:
    """Ans was nominated on the group's first day and joined eight days later: the list says when she joined, her
    page says both. Henk (Mohammed's group) is nominated only: his page shows where it stands, not a role."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        page = re.sub(r"<[^>]+>", " ", text(env.get(f"/leden/{participant(env, 'sanne-bakker', 'Ans Bakker')['id']}")))
        page = re.sub(r"\s+", " ", page)
        nominated = re.search(r"Genomineerd op (\d{1,2} [a-z]+ \d{4})", page)
        joined = re.search(r"In de groep sinds (\d{1,2} [a-z]+ \d{4})", page)
        assert nominated and joined and nominated.group(1) != joined.group(1), page
        listed = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(env.get("/leden"))))
        row = listed[listed.index("Ans Bakker") : listed.index("Karim Haddou")]
        assert row.endswith(f" {joined.group(1)} ") and f" {nominated.group(1)}" not in row, row
    with launched(tmp_path / "m", **MOHAMMED) as env:
        page = text(env.get(f"/leden/{participant(env, 'mohammed-el-amrani', 'Henk de Boer')['id']}"))
        assert "<dt>Rol</dt>" not in page and "Stand van zaken" in page and "Genomineerd op" in page
        assert "In de groep sinds" not in page
