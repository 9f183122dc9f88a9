"""The notes area with the real app and a real FHIR store: a meeting's agenda and report, and their print views."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from markupsafe import escape

from fhir_mappings.codes import CS_ARTIFACT, EXT_MEETING, EXT_SECTION, IDENTIFIER_SYSTEM
from fhir_mappings.model import dutch_date
from plugin.notes import views
from tests.support.ui import READ_SCOPES, LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
HOSTILE_SCRIPT = "<script>alert(1)</script>"
QUOTES = "Zeg \"ja\" en 'nee' & <b>vet</b>"
RTL = "مرحبا بالعالم שלום"
EMOJI = "Goed bezig 💪🏽👩‍👧"
_HIDDEN = re.compile(r'<input id="lines-(\d+)-(kind|ref)" name="lines-\d+-(?:kind|ref)" type="hidden" value="([^"]*)">')

# Demo data made 100 days ago: the "next" planned meeting has then taken place, so a report may be written.
PAST = date.today() - timedelta(days=100)
DUE = date.today() + timedelta(days=45)  # a new agreement's date: still to come whenever the test runs


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def meetings(env: LaunchedApp) -> list[dict[str, Any]]:
    """Sanne's meetings, oldest first: uid (the product identifier), id, status, the resource."""
    found = []
    for a in env.resources("Appointment"):
        codes = {c.get("code") for s in a.get("serviceType", []) for c in s.get("coding", [])}
        actors = {(p.get("actor") or {}).get("reference") for p in a.get("participant", [])}
        if "resourcegroepbijeenkomst" in codes and SANNE in actors:
            uid = next(i["value"] for i in a["identifier"] if i["system"] == IDENTIFIER_SYSTEM)
            found.append({"uid": uid, "id": a["id"], "status": a["status"], "start": a["start"], "resource": a})
    found.sort(key=lambda m: m["start"])
    assert [m["status"] for m in found] == ["fulfilled", "fulfilled", "proposed"], found
    return found


def product_uid(resource: dict[str, Any]) -> str:
    return str(next(i["value"] for i in resource.get("identifier", []) if i["system"] == IDENTIFIER_SYSTEM))


def by_text(env: LaunchedApp, rtype: str, words: str) -> dict[str, Any]:
    """The one Goal (description.text) or Task (description) of the store with these words."""
    for r in env.resources(rtype):
        value = r.get("description")
        value = value.get("text") if isinstance(value, dict) else value
        if value == words:
            return r
    raise AssertionError(f"no {rtype} with {words!r}")


def communications(env: LaunchedApp, category: str, appointment_id: str) -> list[dict[str, Any]]:
    return [
        c
        for c in env.resources("Communication")
        if any(cc.get("code") == category for cat in c.get("category", []) for cc in cat.get("coding", []))
        and any(p["reference"] == f"Appointment/{appointment_id}" for p in c.get("partOf", []))
    ]


def observations(env: LaunchedApp, appointment_id: str) -> list[dict[str, Any]]:
    return [
        o
        for o in env.resources("Observation")
        if any(
            e["url"] == EXT_MEETING and e["valueReference"]["reference"] == f"Appointment/{appointment_id}"
            for e in o.get("extension", [])
        )
    ]


def appointment(env: LaunchedApp, appointment_id: str) -> dict[str, Any]:
    return next(a for a in env.resources("Appointment") if a["id"] == appointment_id)


def provenance_texts(env: LaunchedApp) -> list[str]:
    return [p.get("activity", {}).get("text", "") for p in env.resources("Provenance")]


def agenda_rows(page: str) -> list[tuple[str, str]]:
    """(kind, ref) of every line of the agenda form, in order."""
    rows: dict[int, dict[str, str]] = {}
    for index, name, value in _HIDDEN.findall(page):
        rows.setdefault(int(index), {})[name] = html.unescape(value)
    return [(rows[i]["kind"], rows[i]["ref"]) for i in sorted(rows)]


def agenda_post(rows: list[tuple[str, str, bool, str]], **extra: Any) -> dict[str, Any]:
    """Form data for the agenda: (kind, ref, include, text) per line, in order."""
    data: dict[str, Any] = dict(extra)
    for i, (kind, ref, include, words) in enumerate(rows):
        data[f"lines-{i}-kind"], data[f"lines-{i}-ref"], data[f"lines-{i}-text"] = kind, ref, words
        if include:
            data[f"lines-{i}-include"] = "y"
    return data


def attendance(page: str) -> dict[str, str]:
    """name -> value of the attendance checkboxes."""
    values = dict(re.findall(r'id="(attended-\d+)" name="attended" type="checkbox" value="([^"]+)"', page))
    labels = dict(re.findall(r'<label for="(attended-\d+)">([^<]+)</label>', page))
    return {html.unescape(labels[k]): html.unescape(v) for k, v in values.items()}


def score_rows(page: str) -> dict[str, int]:
    """goal uid -> position of its line in the report form."""
    found = re.findall(r'id="scores-(\d+)-goal" name="scores-\d+-goal" type="hidden" value="([^"]+)"', page)
    return {uid: int(i) for i, uid in found}


def assert_escaped(page: str, *raw: str) -> None:
    """Each text shows up escaped (and never as live markup)."""
    assert HOSTILE_SCRIPT not in page
    for value in raw:
        assert str(escape(value)) in page, value[:60]


# ------------------------------------------------------------------------------------------------ tests


def test_pages_in_dutch_and_english_print_views_and_a_cancelled_meeting(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        first, second, planned = meetings(env)
        for m in (second, planned):
            for path, dutch, english in (
                ("agenda", "Agenda voor de bijeenkomst van", "Agenda for the meeting of"),
                ("verslag", "Verslag van de bijeenkomst van", "Report of the meeting of"),
                ("agenda/afdrukken", "Waar we over praten", "What we talk about"),
                ("verslag/afdrukken", "Verslag van de bijeenkomst", "Report of the meeting"),
            ):
                nl = env.get(f"/bijeenkomsten/{m['uid']}/{path}")
                assert nl.status_code == 200, (path, text(nl)[-2000:])
                assert dutch in text(nl) and 'lang="nl"' in text(nl), path
                en = env.get(f"/bijeenkomsten/{m['uid']}/{path}?lang=en")
                assert en.status_code == 200 and english in text(en) and 'lang="en"' in text(en), path
                env.get("/?lang=nl")
        assert env.get("/bijeenkomsten/no-such-meeting/agenda").status_code == 404
        assert env.get("/bijeenkomsten/no-such-meeting/verslag/afdrukken").status_code == 404

        # The demo's second meeting, printed: facts, who came, sections, scores, the new agreement.
        report = text(env.get(f"/bijeenkomsten/{second['uid']}/verslag/afdrukken"))
        for expected in (
            "Team Sanne",
            "resourcegroep van Sanne Bakker",
            "Buurthuis De Linde",
            "Voorzitter",
            "Sanne Bakker",
            "Ans Bakker",
            "Lotte Smit",
            "Anna de Vries",
            "Wat is besproken",
            "De huurtoeslag is rond",
            "Besluiten",
            "Lotte helpt met het cv.",
            "Overig",
            "Volgende keer bij Sanne thuis.",
            "Huurtoeslag aanvragen",
            "9 van de 10",
            "Toeslag toegekend",
            "Cv bijwerken",
            "Geschreven op",
        ):
            assert expected in report, expected
        assert "Karim Haddou" not in report.split("Wie waren er")[1].split("</ul>")[0]  # said yes, did not come
        assert "<form" not in report and 'class="button js-print" hidden' in report
        assert "/static/notes/print.js" in report and "/static/notes/notes.css" in report
        assert "<script>" not in report.replace('<script src="/static/notes/print.js" defer></script>', "")
        # The agenda of that meeting, printed, in its order.
        agenda = text(env.get(f"/bijeenkomsten/{second['uid']}/agenda/afdrukken"))
        assert agenda.index("Werk vinden dat bij me past") < agenda.index("Sportschool uitzoeken")
        assert "Deze agenda is nog niet definitief" not in agenda
        first_agenda = text(env.get(f"/bijeenkomsten/{first['uid']}/agenda/afdrukken"))
        assert (
            first_agenda.index("Welkom en kennismaken")
            < first_agenda.index("Zelfstandig wonen")
            < first_agenda.index("Samen de aanvraag invullen")
        )
        script = env.client.get("/static/notes/print.js")
        assert script.status_code == 200 and b"window.print()" in script.data

        # A cancelled meeting gets no report: no form, and a POST is refused by the domain with the input kept.
        resource = dict(planned["resource"], status="cancelled")
        assert requests.put(f"{env.fhir_base}/Appointment/{planned['id']}", json=resource, timeout=10).ok
        page = text(env.get(f"/bijeenkomsten/{planned['uid']}/verslag"))
        assert "afgezegd of niet doorgegaan" in page and 'class="report-form"' not in page
        refused = env.post(
            f"/bijeenkomsten/{planned['uid']}/verslag",
            {"samenvatting": "Mijn lange verslag dat niet weg mag", "attended": SANNE},
        )
        assert refused.status_code == 422
        body = text(refused)
        assert "Voor een afgezegde bijeenkomst schrijft u geen verslag." in body
        assert "Mijn lange verslag dat niet weg mag</textarea>" in body
        assert 'value="Patient/sanne-bakker">' in body and "checked" in body
        assert communications(env, "verslag", planned["id"]) == []
        assert appointment(env, planned["id"])["status"] == "cancelled"


def test_agenda_with_goals_agreements_and_own_items_in_order(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        planned = meetings(env)[2]
        url = f"/bijeenkomsten/{planned['uid']}/agenda"
        page = text(env.get(url))
        assert "nog niet begonnen" in page and "De agenda is nog leeg." in page
        work = product_uid(by_text(env, "Goal", "Werk vinden dat bij me past"))
        cv = product_uid(by_text(env, "Task", "Cv bijwerken"))
        rows = agenda_rows(page)
        assert ("goal", work) in rows and ("agreement", cv) in rows
        assert "Afspraak: Cv bijwerken (Lotte Smit)" in page
        free = [i for i, (kind, _) in enumerate(rows) if kind == "free"]
        assert len(free) == 3

        # Tick the goal and the agreement, type an own item on the first empty line: then move it up.
        lines = [
            (kind, ref, ref in (work, cv), "Welkom en even bijpraten" if i == free[0] else "")
            for i, (kind, ref) in enumerate(rows)
        ]
        moved = env.post(url, agenda_post(lines, action=f"up-{free[0]}"))
        assert moved.status_code == 200
        moved_page = text(moved)
        assert "Het punt is verplaatst" in moved_page
        assert (
            f'id="lines-{free[0] - 1}-text" maxlength="4000" name="lines-{free[0] - 1}-text" type="text" '
            f'value="Welkom en even bijpraten"' in moved_page
        )
        assert len(agenda_rows(moved_page)) == len(rows)
        moved_rows = agenda_rows(moved_page)
        for ref in (work, cv):  # the ticks are kept
            assert (
                f'checked id="lines-{moved_rows.index((rows[[r for _, r in rows].index(ref)][0], ref))}-include"'
                in moved_page
            )
        down = env.post(url, agenda_post(lines, action="down-0"))
        assert agenda_rows(text(down))[:2] == [rows[1], rows[0]]
        assert communications(env, "agenda", planned["id"]) == []  # moving saves nothing

        # Add another line: one more empty own-words line, everything typed kept.
        added = env.post(url, agenda_post(lines, action="add"))
        assert added.status_code == 200 and len(agenda_rows(text(added))) == len(rows) + 1
        assert 'value="Welkom en even bijpraten"' in text(added)

        # Too long: refused next to the field, the text kept.
        long = [*lines[:-1], ("free", "", False, "x" * 10_000)]
        refused = env.post(url, agenda_post(long))
        assert refused.status_code == 422
        assert "Dit is te lang: maximaal 4000 tekens." in text(refused) and "x" * 10_000 in text(refused)

        # Save in this order: own item, the agreement, the goal; ready.
        order = [
            ("free", "", True, "Welkom en even bijpraten"),
            ("agreement", cv, True, ""),
            ("goal", work, True, ""),
            *((kind, ref, False, "") for kind, ref in rows if ref not in (work, cv) and kind != "free"),
            ("free", "", False, "Rondvraag"),
        ]
        saved = env.post(url, agenda_post(order, ready="y"))
        assert saved.status_code == 303, text(saved)[-2000:]
        [written] = communications(env, "agenda", planned["id"])
        assert written["status"] == "completed"
        goal_id = by_text(env, "Goal", "Werk vinden dat bij me past")["id"]
        task_id = by_text(env, "Task", "Cv bijwerken")["id"]
        assert [p.get("contentString") or p["contentReference"]["reference"] for p in written["payload"]] == [
            "Welkom en even bijpraten",
            f"Task/{task_id}",
            f"Goal/{goal_id}",
            "Rondvraag",
        ]
        assert written["payload"][1]["contentReference"]["display"] == "Cv bijwerken"
        assert "Agenda van de bijeenkomst klaargezet" in provenance_texts(env)
        after = text(env.get(url))
        assert "Opgeslagen in het EPD" in after and '<span class="badge">klaar</span>' in after
        shown = after.split("De agenda nu")[1].split("</ol>")[0]
        assert (
            shown.index("Welkom en even bijpraten")
            < shown.index("Cv bijwerken")
            < shown.index("Werk vinden dat bij me past")
            < shown.index("Rondvraag")
        )

        # Back to draft, one item off: a new version of the same Communication.
        again = env.post(url, agenda_post([("goal", work, True, ""), ("agreement", cv, False, "")]))
        assert again.status_code == 303
        [rewritten] = communications(env, "agenda", planned["id"])
        assert rewritten["id"] == written["id"] and rewritten["status"] == "preparation"
        assert [p["contentReference"]["reference"] for p in rewritten["payload"]] == [f"Goal/{goal_id}"]
        assert "Agenda van de bijeenkomst gewijzigd" in provenance_texts(env)
        printed = text(env.get(f"{url}/afdrukken"))
        assert "Deze agenda is nog niet definitief." in printed and "Werk vinden dat bij me past" in printed


def test_report_with_scores_sections_attendance_and_a_new_agreement(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", today=PAST) as env:
        planned = meetings(env)[2]
        url = f"/bijeenkomsten/{planned['uid']}/verslag"
        page = text(env.get(url))
        assert "Er is nog geen verslag." in page
        people = attendance(page)
        assert {"Sanne Bakker", "Ans Bakker", "Karim Haddou", "Lotte Smit", "Anna de Vries"} <= set(people)
        work = product_uid(by_text(env, "Goal", "Werk vinden dat bij me past"))
        house = product_uid(by_text(env, "Goal", "Zelfstandig wonen"))
        rows = score_rows(page)
        data: dict[str, Any] = {f"scores-{i}-goal": uid for uid, i in rows.items()}
        data.update(
            {
                f"scores-{rows[work]}-score": "6",
                f"scores-{rows[work]}-note": "Cv is af",
                f"scores-{rows[house]}-score": "7",
                "samenvatting": "We spraken over werk.",
                "besluiten": "Sanne solliciteert.",
                "overig": "",
                "agreements-0-description": "Vacatures zoeken",
                "agreements-0-owner": people["Ans Bakker"],
                "agreements-0-due": DUE.strftime("%d-%m-%Y"),
                "agreements-0-goal": work,
                "agreements-1-description": "",
                "agreements-1-owner": "",
                "agreements-1-due": "",
                "agreements-1-goal": "",
            }
        )

        # Mistakes first: a note without a score, an agreement line without words. Everything stays typed.
        wrong = dict(data, attended=[people["Sanne Bakker"], people["Ans Bakker"]])
        wrong[f"scores-{rows[house]}-note"], wrong[f"scores-{rows[house]}-score"] = "Zonder cijfer", ""
        wrong["agreements-1-owner"] = people["Karim Haddou"]
        refused = env.post(url, wrong)
        assert refused.status_code == 422
        body = text(refused)
        assert "Geef een cijfer bij de toelichting, of maak de toelichting leeg." in body
        assert "Schrijf op wat is afgesproken, of maak deze regel leeg." in body
        assert 'href="#agreements-1-description">Nieuwe afspraak 2 — Wat is afgesproken' in body
        assert 'value="Zonder cijfer"' in body and "We spraken over werk.</textarea>" in body
        assert 'value="Vacatures zoeken"' in body and f'value="{DUE.isoformat()}"' in body
        assert 'selected value="6"' in body
        assert communications(env, "verslag", planned["id"]) == []

        # A new agreement with a date that has passed is asked about first; nothing is saved yet.
        asked = env.post(url, {**data, "attended": [people["Ans Bakker"]], "agreements-0-due": "01-01-2020"})
        assert asked.status_code == 422
        assert "Deze datum is al voorbij. Toch vastleggen?" in text(asked)
        assert 'name="agreements-0-due-past"' in text(asked) and 'value="2020-01-01"' in text(asked)
        assert communications(env, "verslag", planned["id"]) == []

        # "Add another agreement" keeps everything and adds a third line.
        more = env.post(url, dict(data, action="add", attended=[people["Ans Bakker"]]))
        assert more.status_code == 200 and 'id="agreements-2-description"' in text(more)
        assert 'value="Vacatures zoeken"' in text(more) and "We spraken over werk.</textarea>" in text(more)

        # One action, one transaction: 2 scores and 1 agreement make 7 entries (the Task also lists in the plan).
        sent: list[list[str]] = []
        transaction = env.store.transaction

        def spy(bundle: dict[str, Any], *args: Any, **kw: Any) -> Any:
            sent.append(
                [f"{e['request']['method']} {e['request']['url'].split('?')[0].split('/')[0]}" for e in bundle["entry"]]
            )
            return transaction(bundle, *args, **kw)

        env.store.transaction = spy  # type: ignore[method-assign]
        saved = env.post(url, dict(data, attended=[people["Sanne Bakker"], people["Ans Bakker"]]))
        env.store.transaction = transaction  # type: ignore[method-assign]
        assert len(sent) == 1 and sorted(sent[0]) == sorted(
            [
                "POST Task",
                "POST Communication",
                "POST Observation",
                "POST Observation",
                "PUT CarePlan",
                "PUT Appointment",
                "POST Provenance",
            ]
        ), sent
        assert saved.status_code == 303, text(saved).split("problem-box")[-1][:3000]
        [report] = communications(env, "verslag", planned["id"])
        sections = {
            p["extension"][0]["valueCoding"]["code"]: p["contentString"]
            for p in report["payload"]
            if p["extension"][0]["url"] == EXT_SECTION
        }
        assert sections == {"samenvatting": "We spraken over werk.", "besluiten": "Sanne solliciteert."}
        task = by_text(env, "Task", "Vacatures zoeken")
        goal_ids = {by_text(env, "Goal", t)["id"] for t in ("Werk vinden dat bij me past", "Zelfstandig wonen")}
        about = [a["reference"] for a in report["about"]]
        assert set(about[:2]) == {f"Goal/{i}" for i in goal_ids} and about[2:] == [f"Task/{task['id']}"]
        assert task["restriction"]["period"]["end"] == DUE.isoformat()
        assert task["focus"]["reference"].startswith("Goal/")
        scores = {
            o["focus"][0]["reference"]: (o["valueInteger"], [n["text"] for n in o.get("note", [])])
            for o in observations(env, planned["id"])
        }
        work_id = by_text(env, "Goal", "Werk vinden dat bij me past")["id"]
        house_id = by_text(env, "Goal", "Zelfstandig wonen")["id"]
        assert scores == {f"Goal/{work_id}": (6, ["Cv is af"]), f"Goal/{house_id}": (7, [])}
        meeting = appointment(env, planned["id"])
        assert meeting["status"] == "fulfilled"
        came = {
            p["actor"]["reference"]
            for p in meeting["participant"]
            if any(c.get("code") == "ATND" for t in p.get("type", []) for c in t.get("coding", []))
        }
        assert SANNE in came and len(came) == 2
        provenance = next(
            p
            for p in env.resources("Provenance")
            if p.get("activity", {}).get("text") == "Verslag van de bijeenkomst geschreven"
        )
        targets = {t["reference"].split("/_history")[0] for t in provenance["target"]}
        assert {f"Communication/{report['id']}", f"Task/{task['id']}", f"Appointment/{planned['id']}"} <= targets
        assert {f"Observation/{o['id']}" for o in observations(env, planned["id"])} <= targets

        # Editing: the form shows what was saved; a saved score can change but not be emptied.
        page = text(env.get(url))
        assert "Het verslag is geschreven op" in page and 'selected value="6"' in page
        assert "Vacatures zoeken" in page.split("Staan al in dit verslag:")[1]
        rows = score_rows(page)
        edit = {f"scores-{i}-goal": uid for uid, i in rows.items()}
        edit.update(
            {
                f"scores-{rows[work]}-score": "8",
                f"scores-{rows[work]}-note": "Eerste gesprek gehad",
                "samenvatting": "Aangepast verslag.",
                "attended": [people["Sanne Bakker"]],
            }
        )
        emptied = env.post(url, edit)
        assert emptied.status_code == 422 and "Een opgeslagen cijfer kan niet weg." in text(emptied)
        assert "Aangepast verslag.</textarea>" in text(emptied)
        edit[f"scores-{rows[house]}-score"] = "7"
        assert env.post(url, edit).status_code == 303
        [edited] = communications(env, "verslag", planned["id"])
        assert edited["id"] == report["id"]
        assert [p["contentString"] for p in edited["payload"]] == ["Aangepast verslag."]
        assert [a["reference"] for a in edited["about"]][-1] == f"Task/{task['id']}"  # the agreement stays in it
        after = sorted((o["focus"][0]["reference"], o["valueInteger"]) for o in observations(env, planned["id"]))
        assert after == sorted([(f"Goal/{work_id}", 8), (f"Goal/{house_id}", 7)])  # changed in place, not added
        assert "Verslag van de bijeenkomst gewijzigd" in provenance_texts(env)

        printed = text(env.get(f"{url}/afdrukken"))
        for expected in (
            "Aangepast verslag.",
            "8 van de 10",
            "Eerste gesprek gehad",
            "7 van de 10",
            "Vacatures zoeken",
            "Ans Bakker",
            dutch_date(DUE),
            "Sanne Bakker",
        ):
            assert expected in printed, expected


def test_read_only_launch_shows_without_forms_and_refuses_posts(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        _, second, planned = meetings(env)
        agenda = text(env.get(f"/bijeenkomsten/{planned['uid']}/agenda"))
        assert "Alleen bekijken" in agenda and "Agenda opslaan" not in agenda and 'name="action"' not in agenda
        report = text(env.get(f"/bijeenkomsten/{second['uid']}/verslag"))
        assert "Verslag opslaan" not in report and "De huurtoeslag is rond" in report and "9 van de 10" in report
        for path, data in (
            (f"/bijeenkomsten/{planned['uid']}/agenda", {"ready": "y"}),
            (f"/bijeenkomsten/{planned['uid']}/agenda", {"action": "add"}),
            (f"/bijeenkomsten/{planned['uid']}/verslag", {"samenvatting": "Poging"}),
            (f"/bijeenkomsten/{planned['uid']}/verslag", {"action": "add"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 403, path
            assert "Deze groep is hier alleen te bekijken, niet te wijzigen." in text(refused)
        assert communications(env, "verslag", planned["id"]) == []
        assert communications(env, "agenda", planned["id"]) == []


def test_hostile_text_is_stored_as_typed_and_shown_escaped_everywhere(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", today=PAST) as env:
        planned = meetings(env)[2]
        base = f"/bijeenkomsten/{planned['uid']}"
        hostile = [HOSTILE_SCRIPT, QUOTES, RTL, EMOJI]
        saved = env.post(f"{base}/agenda", agenda_post([("free", "", False, t) for t in hostile]))
        assert saved.status_code == 303, text(saved)[-2000:]
        [agenda] = communications(env, "agenda", planned["id"])
        assert [p["contentString"] for p in agenda["payload"]] == hostile

        page = text(env.get(f"{base}/verslag"))
        rows = score_rows(page)
        work = product_uid(by_text(env, "Goal", "Werk vinden dat bij me past"))
        owner = attendance(page)["Karim Haddou"]
        data: dict[str, Any] = {f"scores-{i}-goal": uid for uid, i in rows.items()}
        data.update(
            {
                f"scores-{rows[work]}-score": "3",
                f"scores-{rows[work]}-note": f"{RTL} {EMOJI}",
                "samenvatting": f"{HOSTILE_SCRIPT}\n{QUOTES}",
                "besluiten": RTL,
                "overig": EMOJI,
                "agreements-0-description": f"{HOSTILE_SCRIPT} {QUOTES}",
                "agreements-0-owner": owner,
                "attended": [owner],
            }
        )

        for field in ("samenvatting", f"scores-{rows[work]}-note", "agreements-0-description"):
            too_long = env.post(f"{base}/verslag", dict(data, **{field: "y" * 10_000}))
            assert too_long.status_code == 422, field
            assert "Dit is te lang: maximaal 4000 tekens." in text(too_long) and "y" * 10_000 in text(too_long)
        assert communications(env, "verslag", planned["id"]) == []

        saved = env.post(f"{base}/verslag", data)
        assert saved.status_code == 303, text(saved)[-2000:]
        [report] = communications(env, "verslag", planned["id"])
        assert [p["contentString"] for p in report["payload"]] == [f"{HOSTILE_SCRIPT}\n{QUOTES}", RTL, EMOJI]
        assert by_text(env, "Task", f"{HOSTILE_SCRIPT} {QUOTES}")["owner"]["display"] == "Karim Haddou"
        [score] = [o for o in observations(env, planned["id"]) if o["valueInteger"] == 3]
        assert score["note"][0]["text"] == f"{RTL} {EMOJI}"

        for path in ("agenda", "agenda/afdrukken", "verslag", "verslag/afdrukken"):
            shown = text(env.get(f"{base}/{path}"))
            assert_escaped(shown, HOSTILE_SCRIPT, QUOTES, RTL, EMOJI)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown, path
            assert "<b>vet</b>" not in shown, path
            # Right-to-left text gets its own direction, shown and in the form.
            assert ('dir="auto" id="besluiten"' if path == "verslag" else f'dir="auto">{escape(RTL)}<') in shown, path


# ------------------------------------------------------------------------------------------------ who is acting


def snapshot(env: LaunchedApp) -> dict[str, list[tuple[str, str]]]:
    """Every resource in the store with its version, to check that a refused POST wrote nothing."""
    types = ("CareTeam", "CarePlan", "Goal", "Task", "Appointment", "Communication", "Observation", "Provenance")
    return {t: sorted((r["id"], r["meta"]["versionId"]) for r in env.resources(t)) for t in types}


def test_the_patient_proposes_an_agenda_item_and_writes_no_report(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=SANNE, today=PAST) as env:
        _, second, planned = meetings(env)
        url = f"/bijeenkomsten/{planned['uid']}/agenda"
        page = text(env.get(url))
        assert "Een agendapunt toevoegen" in page and f'action="/c/{env.context_id}{url}/punt"' in page
        assert "Agenda opslaan" not in page and 'name="action"' not in page  # not the whole agenda form
        # A held meeting takes no more items: no form there.
        assert "/punt" not in text(env.get(f"/bijeenkomsten/{second['uid']}/agenda"))

        empty = env.post(f"{url}/punt", {"text": ""})
        assert empty.status_code == 422 and communications(env, "agenda", planned["id"]) == []
        added = env.post(f"{url}/punt", {"text": "Mijn vakantie in juli"})
        assert added.status_code == 303, text(added)[-2000:]
        again = env.post(f"{url}/punt", {"text": f"{RTL} {EMOJI}"})
        assert again.status_code == 303
        [agenda] = communications(env, "agenda", planned["id"])
        assert agenda["status"] == "preparation"
        assert [p["contentString"] for p in agenda["payload"]] == ["Mijn vakantie in juli", f"{RTL} {EMOJI}"]
        assert provenance_texts(env).count("Agendapunt voorgesteld") == 2
        shown = text(env.get(url))
        assert "Je punt staat op de agenda." in shown and "Mijn vakantie in juli" in shown.split("De agenda nu")[1]

        before = snapshot(env)
        for path, data in (
            (f"/bijeenkomsten/{planned['uid']}/verslag", {"samenvatting": "Mijn eigen verslag", "attended": SANNE}),
            (f"/bijeenkomsten/{planned['uid']}/verslag", {"action": "add"}),
            (url, {"ready": "y"}),
            (url, {"action": "add"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 403, path
            assert "Dit mag alleen de regieondersteuner" in text(refused), path
        assert snapshot(env) == before
        report = text(env.get(f"/bijeenkomsten/{second['uid']}/verslag"))
        assert (
            "De huurtoeslag is rond" in report
            and "Verslag opslaan" not in report
            and 'class="report-form"' not in report
        )


def test_the_patient_adds_nothing_to_a_ready_agenda(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=SANNE) as env:
        planned = meetings(env)[2]
        url = f"/bijeenkomsten/{planned['uid']}/agenda"
        # The regieondersteuner's agenda, ready: written straight into the store as the app writes it.
        work = by_text(env, "Goal", "Werk vinden dat bij me past")
        careplan = next(iter(env.resources("CarePlan")))
        agenda = {
            "resourceType": "Communication",
            "status": "completed",
            "category": [{"coding": [{"system": CS_ARTIFACT, "code": "agenda"}]}],
            "subject": {"reference": SANNE},
            "partOf": [{"reference": f"Appointment/{planned['id']}"}],
            "basedOn": [{"reference": f"CarePlan/{careplan['id']}"}],
            "identifier": [{"system": IDENTIFIER_SYSTEM, "value": "agenda-klaar"}],
            "payload": [{"contentReference": {"reference": f"Goal/{work['id']}"}}],
        }
        assert requests.post(f"{env.fhir_base}/Communication", json=agenda, timeout=10).ok
        page = text(env.get(url))
        assert "/punt" not in page and '<span class="badge">klaar</span>' in page
        before = snapshot(env)
        refused = env.post(f"{url}/punt", {"text": "Nog een punt"})
        assert refused.status_code == 422 and "De agenda is al klaar." in text(refused)
        assert "Nog een punt" in text(refused)
        assert snapshot(env) == before


def test_a_member_reads_the_agenda_and_the_report_without_forms(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/lotte-smit", today=PAST) as env:
        _, second, planned = meetings(env)
        for path in ("agenda", "verslag", "agenda/afdrukken", "verslag/afdrukken"):
            page = env.get(f"/bijeenkomsten/{second['uid']}/{path}")
            assert page.status_code == 200, path
            assert 'name="action"' not in text(page) and "/punt" not in text(page), path
        report = text(env.get(f"/bijeenkomsten/{second['uid']}/verslag"))
        assert "De huurtoeslag is rond" in report and "9 van de 10" in report and "Cv bijwerken" in report
        before = snapshot(env)
        for path, data in (
            (f"/bijeenkomsten/{planned['uid']}/verslag", {"samenvatting": "Lotte's verslag", "attended": SANNE}),
            (f"/bijeenkomsten/{planned['uid']}/agenda", {"lines-0-kind": "free", "lines-0-text": "Van Lotte"}),
            (f"/bijeenkomsten/{planned['uid']}/agenda/punt", {"text": "Van Lotte"}),
        ):
            assert env.post(path, data).status_code == 403, path
        assert snapshot(env) == before


def test_the_older_meetings_the_app_remembers_are_bounded_the_oldest_going_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views._OlderMeetings, "LIMIT", 3)
    older = views._OlderMeetings()
    for n in range(5):
        older.add(("https://ehr.test/fhir", f"m{n}"), date(2026, 1, 1 + n))
    assert [older.get(("https://ehr.test/fhir", f"m{n}")) for n in range(5)] == [
        None,
        None,
        date(2026, 1, 3),
        date(2026, 1, 4),
        date(2026, 1, 5),
    ]
    assert older.get(("https://other.test/fhir", "m4")) is None  # per EHR


def test_a_meetings_page_offers_to_print_its_report_only_when_there_is_one(tmp_path: Path) -> None:
    """A held meeting with a report links to its print; the planned one links to its report page (to write it from
    its day on) but to no print of a report that does not exist ("Er is nog geen verslag.")."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        _, held, planned = meetings(env)
        for meeting, printed in ((held, True), (planned, False)):
            page = text(env.get(f"/bijeenkomsten/{meeting['uid']}"))
            assert f'/bijeenkomsten/{meeting["uid"]}/verslag"' in page
            assert (f"/bijeenkomsten/{meeting['uid']}/verslag/afdrukken" in page) is printed, meeting["status"]


def test_the_agenda_heading_reads_as_a_heading_and_its_state(tmp_path: Path) -> None:
    """A screen reader reads the heading with its badge as one line: "De agenda nu: nog niet begonnen", not "De
    agenda nu nog niet begonnen"."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        _, _, planned = meetings(env)
        page = text(env.get(f"/bijeenkomsten/{planned['uid']}/agenda"))
        heading = re.search(r'<h2 id="current-h">(.*?)</h2>', page, re.S)
        assert heading is not None
        spoken = re.sub(r'<span class="visually-hidden">([^<]*)</span>', r"\1", heading.group(1))
        assert re.fullmatch(r"De agenda nu: <span class=\"badge[^\"]*\">[^<]+</span>", spoken.strip()), heading.group(1)
