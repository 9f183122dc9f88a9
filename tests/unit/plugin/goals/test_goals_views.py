"""The goals area with the real app and a real FHIR store: goal tree, add/edit, notes, progress scores, chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fhir_mappings.codes import CS_ARTIFACT, CS_GOAL_TERM, CS_LIFE_AREA, EXT_GOAL_RELATIONSHIP, EXT_MEETING, Artifact
from plugin.web.forms import example_date
from tests.support.ui import READ_SCOPES, LaunchedApp, launched, without_logout

HOSTILE = "<script>alert(1)</script> \"dubbel\" 'enkel' & \u202eשלום עולם\u202c 😀🏠"
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def uid_of(resource: dict[str, Any]) -> str:
    return str(resource["identifier"][0]["value"])


def goal_named(env: LaunchedApp, description: str) -> dict[str, Any]:
    found = [g for g in env.resources("Goal") if g.get("description", {}).get("text") == description]
    assert len(found) == 1, f"{len(found)} goals with text {description[:40]!r}"
    return found[0]


def held_meeting_uid(env: LaunchedApp) -> str:
    held = [
        a
        for a in env.resources("Appointment")
        if a["status"] == "fulfilled" and a["serviceType"][0]["coding"][0]["code"] == Artifact.MEETING.value
    ]
    return uid_of(sorted(held, key=lambda a: a["start"])[-1])


def provenance_texts(env: LaunchedApp) -> list[str]:
    return [p["activity"].get("text", "") for p in env.resources("Provenance")]


def problem_box(html: str) -> str:
    found = re.search(r'<div class="problem-box".*?</div>', html, re.S)
    assert found is not None, "no problem box on the page"
    return found.group(0)


def test_goal_pages_render_in_dutch_and_english(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        page = env.get("/doelen")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert "<h1>Doelen</h1>" in html and "Doelen voor de lange termijn" in html
        assert "Losse doelen voor de korte termijn" in html and "Twee keer per week sporten" in html
        # The step sits inside its long-term goal's card, after the long-term goal itself.
        house_at, step_at, work_at = (
            html.index(t) for t in ("Zelfstandig wonen", "Huurtoeslag aanvragen", "Werk vinden dat bij me past")
        )
        assert house_at < step_at < work_at
        assert "1 stap naar dit doel" in html and "Laatste cijfer" in html and "5 van de 10" in html
        assert "Kijkt naar woningen in Breda-Noord." in html and "Anna de Vries" in html  # note and its author
        assert 'aria-current="page"' in html and "Doel toevoegen" in html

        house = uid_of(goal_named(env, "Zelfstandig wonen"))
        detail = env.get(f"/doelen/{house}")
        assert detail.status_code == 200, text(detail)
        html = text(detail)
        assert 'role="img"' in html and "Voortgang van het doel: Zelfstandig wonen" in html
        assert html.count('class="chart-point"') == 2 and "<caption>Cijfers voor de voortgang</caption>" in html
        assert "Inschrijving woningnet loopt" in html and "Cijfer voor de voortgang geven" in html
        assert "Doel wijzigen" in html and html.count("<h1") == 1
        assert env.get("/doelen/nieuw?stap_van=" + house).status_code == 200
        assert f'<option selected value="{house}">' in text(env.get("/doelen/nieuw?stap_van=" + house))
        assert env.get("/doelen/geen-doel").status_code == 404
        # A goal another system wrote has the uid "Goal/<id>": its pages and actions still route.
        routes = env.app.url_map.bind("app.test")
        assert routes.match("/c/x/doelen/Goal/12/voortgang", method="POST") == (
            "goals.score",
            {"context_id": "x", "goal_uid": "Goal/12"},
        )
        assert routes.match("/c/x/doelen/Goal/12", method="GET")[1]["goal_uid"] == "Goal/12"
        assert routes.match("/c/x/doelen/nieuw", method="GET")[0] == "goals.new"

        english = text(env.get("/doelen?lang=en"))
        assert "Long-term goals" in english and "Latest score" in english and 'lang="en"' in english
        english_detail = text(env.get(f"/doelen/{house}"))
        assert "Progress on the goal: Zelfstandig wonen" in english_detail
        assert "Record a progress score" in english_detail
        assert "Add a goal" in text(env.get("/doelen/nieuw"))
        assert "Doelen" in text(env.get("/doelen?lang=nl"))


def test_add_linked_goals_edit_note_and_score(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        done = env.post(
            "/doelen/nieuw", {"text": "Een eigen plek", "term": "lang", "life_area": "wonen", "due": "01-06-2032"}
        )
        assert done.status_code == 303, text(done)
        long_goal = goal_named(env, "Een eigen plek")
        categories = {c["coding"][0]["system"]: c["coding"][0]["code"] for c in long_goal["category"]}
        assert categories == {CS_GOAL_TERM: "lang", CS_LIFE_AREA: "wonen"}
        assert long_goal["target"][0]["dueDate"] == "2032-06-01" and long_goal["lifecycleStatus"] == "active"
        long_uid = uid_of(long_goal)

        step = env.post(
            "/doelen/nieuw",
            {"text": "Bezichtiging plannen", "term": "kort", "parent_uid": long_uid, "life_area": "", "due": ""},
        )
        assert step.status_code == 303, text(step)
        short_goal = goal_named(env, "Bezichtiging plannen")
        assert "extension" not in short_goal  # the short-term goal carries no reference up
        long_goal = goal_named(env, "Een eigen plek")
        relation = next(e for e in long_goal["extension"] if e["url"] == EXT_GOAL_RELATIONSHIP)
        parts = {p["url"]: p for p in relation["extension"]}
        assert parts["type"]["valueCodeableConcept"]["coding"][0]["code"] == "milestone"
        assert parts["target"]["valueReference"]["reference"] == f"Goal/{short_goal['id']}"
        plan = next(p for p in env.resources("CarePlan") if p["subject"]["reference"] == "Patient/sanne-bakker")
        assert {f"Goal/{long_goal['id']}", f"Goal/{short_goal['id']}"} <= {g["reference"] for g in plan["goal"]}
        index = text(env.get("/doelen"))
        assert index.index("Een eigen plek") < index.index("Bezichtiging plannen")
        assert "Opgeslagen in het EPD" in index

        short_uid = uid_of(short_goal)
        edited = env.post(
            f"/doelen/{short_uid}",
            {
                "text": "Bezichtiging plannen met Ans",
                "term": "kort",
                "parent_uid": long_uid,
                "life_area": "geld",
                "due": "",
                "status": "completed",
            },
        )
        assert edited.status_code == 303, text(edited)
        short_goal = goal_named(env, "Bezichtiging plannen met Ans")
        assert short_goal["lifecycleStatus"] == "completed"
        assert short_goal["achievementStatus"]["coding"][0]["code"] == "achieved"
        assert "bereikt" in text(env.get(f"/doelen/{short_uid}"))
        again = env.post(
            f"/doelen/{short_uid}",
            {
                "text": "Bezichtiging plannen met Ans",
                "term": "kort",
                "parent_uid": long_uid,
                "life_area": "geld",
                "status": "active",
            },
        )
        assert again.status_code == 303
        short_goal = goal_named(env, "Bezichtiging plannen met Ans")
        assert short_goal["lifecycleStatus"] == "active"
        assert short_goal["achievementStatus"]["coding"][0]["code"] == "in-progress"

        noted = env.post(f"/doelen/{long_uid}/notitie", {"note": "Eerste gesprek met de woningcorporatie"})
        assert noted.status_code == 303, text(noted)
        note = goal_named(env, "Een eigen plek")["note"][0]
        assert note["text"] == "Eerste gesprek met de woningcorporatie"
        assert note["authorReference"]["reference"] == "Practitioner/anna-de-vries"

        meeting = held_meeting_uid(env)
        scored = env.post(
            f"/doelen/{long_uid}/voortgang", {"score": "7", "meeting_uid": meeting, "score_note": "Goed bezig"}
        )
        assert scored.status_code == 303, text(scored)
        assert env.post(f"/doelen/{long_uid}/voortgang", {"score": "0"}).status_code == 303
        scores = [o for o in env.resources("Observation") if o["focus"][0]["reference"] == f"Goal/{long_goal['id']}"]
        assert sorted(o["valueInteger"] for o in scores) == [0, 7]
        at_meeting = next(o for o in scores if o["valueInteger"] == 7)
        assert at_meeting["code"]["coding"][0] == {
            "system": CS_ARTIFACT,
            "code": "doelvoortgang",
            "display": at_meeting["code"]["coding"][0].get("display"),
        }
        assert (
            at_meeting["note"][0]["text"] == "Goed bezig"
            and at_meeting["basedOn"][0]["reference"] == f"CarePlan/{plan['id']}"
        )
        meeting_ext = next(e for e in at_meeting["extension"] if e["url"] == EXT_MEETING)
        assert meeting_ext["valueReference"]["reference"].startswith("Appointment/")

        html = text(env.get(f"/doelen/{long_uid}"))
        svg = html[html.index("<svg") : html.index("</svg>")]
        assert re.findall(r'data-score="(\d+)"', svg) == ["7", "0"]  # the meeting was earlier than today
        assert "polyline" in svg and "Eerste gesprek met de woningcorporatie" in html
        assert re.search(r'<td class="score"[^>]*>7</td>', html) and "Goed bezig" in html
        for activity in (
            "Doel toegevoegd",
            "Doel gewijzigd",
            "Notitie bij doel toegevoegd",
            "Voortgangscijfer voor doel vastgelegd",
        ):
            assert activity in provenance_texts(env), activity


def test_form_errors_and_domain_refusals_keep_the_input(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        before = len(env.resources("Goal"))
        house = uid_of(goal_named(env, "Zelfstandig wonen"))
        sport = uid_of(goal_named(env, "Twee keer per week sporten"))

        empty = env.post("/doelen/nieuw", {"text": "  ", "term": "kort", "due": "morgen"})
        assert empty.status_code == 422
        html = text(empty)
        assert "Vul dit veld in." in html and f"Vul een datum in, bijvoorbeeld {example_date()}." in html
        assert 'value="morgen"' in html and re.search(r'<input checked[^>]*value="kort"', html)

        long_with_parent = env.post("/doelen/nieuw", {"text": "Mijn eigen doel", "term": "lang", "parent_uid": house})
        assert long_with_parent.status_code == 422
        html = text(long_with_parent)
        assert 'id="parent_uid-error">Een doel voor de lange termijn is geen stap.' in html  # next to the field
        assert "Mijn eigen doel</textarea>" in html

        under_short = env.post("/doelen/nieuw", {"text": "Sportschoenen kopen", "term": "kort", "parent_uid": sport})
        assert under_short.status_code == 422
        html = text(under_short)
        assert "Een doel voor de korte termijn kan alleen bij een doel voor de lange termijn horen." in html
        assert "Sportschoenen kopen</textarea>" in html

        to_short = env.post(
            f"/doelen/{house}", {"text": "Zelfstandig wonen, in Breda", "term": "kort", "status": "active"}
        )
        assert to_short.status_code == 422
        html = text(to_short)
        assert "Aan dit doel hangen stappen voor de korte termijn" in html
        assert "Zelfstandig wonen, in Breda</textarea>" in html

        no_score = env.post(f"/doelen/{house}/voortgang", {"score_note": "Bijna"})
        assert no_score.status_code == 422
        html = text(no_score)
        assert "Kies een cijfer van 0 tot en met 10." in html and "Bijna</textarea>" in html
        assert env.post(f"/doelen/{house}/voortgang", {"score": "11"}).status_code == 422
        assert env.post(f"/doelen/{house}/notitie", {"note": ""}).status_code == 422
        assert env.post("/doelen/geen-doel/notitie", {"note": "x"}).status_code == 404

        assert len(env.resources("Goal")) == before
        assert goal_named(env, "Zelfstandig wonen")["category"][0]["coding"][0]["code"] == "lang"


def test_read_only_launch_and_ended_group_offer_no_changes(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        house = uid_of(goal_named(env, "Zelfstandig wonen"))
        html = text(env.get("/doelen"))
        assert "Alleen bekijken" in html and "Doel toevoegen" not in html and "Stap toevoegen" not in html
        detail = without_logout(text(env.get(f"/doelen/{house}")))
        assert "<svg" in detail and "<form" not in detail and "Cijfer opslaan" not in detail
        before = (len(env.resources("Goal")), len(env.resources("Observation")))
        assert env.post("/doelen/nieuw", {"text": "Iets", "term": "lang"}).status_code == 403
        assert env.post(f"/doelen/{house}/notitie", {"note": "Iets"}).status_code == 403
        assert env.post(f"/doelen/{house}/voortgang", {"score": "5"}).status_code == 403
        edit = env.post(f"/doelen/{house}", {"text": "Anders", "term": "lang", "status": "active"})
        assert edit.status_code == 403 and "alleen te bekijken" in text(edit)
        assert (len(env.resources("Goal")), len(env.resources("Observation"))) == before

    with launched(tmp_path, patient="eva-visser") as env:
        html = text(env.get("/doelen"))
        assert "Doel toevoegen" not in html
        refused = env.post("/doelen/nieuw", {"text": "Weer beginnen", "term": "lang"})
        assert refused.status_code == 422 and "De groep is beëindigd" in text(refused)


def test_hostile_text_is_stored_as_typed_and_shown_escaped(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        assert env.post("/doelen/nieuw", {"text": HOSTILE, "term": "lang"}).status_code == 303
        goal = goal_named(env, HOSTILE)
        uid = uid_of(goal)
        assert env.post(f"/doelen/{uid}/notitie", {"note": "Notitie " + HOSTILE}).status_code == 303
        scored = env.post(f"/doelen/{uid}/voortgang", {"score": "4", "score_note": "Cijfer " + HOSTILE})
        assert scored.status_code == 303
        assert goal_named(env, HOSTILE)["note"][0]["text"] == "Notitie " + HOSTILE
        assert (
            next(o for o in env.resources("Observation") if o["focus"][0]["reference"] == f"Goal/{goal['id']}")["note"][
                0
            ]["text"]
            == "Cijfer " + HOSTILE
        )

        for page in (env.get("/doelen"), env.get(f"/doelen/{uid}"), env.get("/doelen/nieuw")):
            html = text(page)
            assert page.status_code == 200
            assert "<script>alert" not in html and HOSTILE_ESCAPED in html
            assert "שלום עולם" in html and "😀🏠" in html and "&#34;dubbel&#34;" in html and "&#39;enkel&#39;" in html
        detail = text(env.get(f"/doelen/{uid}"))
        svg = detail[detail.index("<svg") : detail.index("</svg>")]
        assert HOSTILE_ESCAPED in svg and "<script>" not in svg and 'data-score="4"' in svg
        assert "Notitie " + HOSTILE_ESCAPED in detail and "Cijfer " + HOSTILE_ESCAPED in detail

        long_text = "x" * 10_000
        for path, data in (
            ("/doelen/nieuw", {"text": long_text, "term": "lang"}),
            (f"/doelen/{uid}/notitie", {"note": long_text}),
            (f"/doelen/{uid}/voortgang", {"score": "5", "score_note": long_text}),
            (f"/doelen/{uid}", {"text": long_text, "term": "lang", "status": "active"}),
        ):
            refused = env.post(path, data)
            assert refused.status_code == 422, path
            html = text(refused)
            box = problem_box(html)
            assert "Dit is te lang: maximaal 4000 tekens." in box and len(box) < 2000, path
            assert long_text + "</textarea>" in html, path  # what was typed is kept, in the field only


def test_the_patient_adds_goals_notes_and_scores_herself(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Patient/sanne-bakker") as env:
        index = env.get("/doelen")
        assert index.status_code == 200 and "Doel toevoegen" in text(index)
        form = text(env.get("/doelen/nieuw"))
        assert "Jij kiest je eigen doelen." in form and "Schrijf het doel op in je eigen woorden." in form
        added = env.post("/doelen/nieuw", {"text": "Elke week zwemmen", "term": "lang", "life_area": "sport-bewegen"})
        assert added.status_code == 303, text(added)
        swim = goal_named(env, "Elke week zwemmen")
        assert swim["lifecycleStatus"] == "proposed"  # her proposal, until a care professional takes it up
        uid = uid_of(swim)

        detail = text(env.get(f"/doelen/{uid}"))
        assert (
            "Doel wijzigen" in detail and "Cijfer voor de voortgang geven" in detail and "Notitie toevoegen" in detail
        )
        noted = env.post(f"/doelen/{uid}/notitie", {"note": "Zwembad De Wedde gevonden"})
        assert noted.status_code == 303, text(noted)
        assert goal_named(env, "Elke week zwemmen")["note"][0]["authorReference"]["reference"] == "Patient/sanne-bakker"
        assert env.post(f"/doelen/{uid}/voortgang", {"score": "3"}).status_code == 303
        assert [
            o["valueInteger"] for o in env.resources("Observation") if o["focus"][0]["reference"].endswith(swim["id"])
        ] == [3]
        score = next(o for o in env.resources("Observation") if o["focus"][0]["reference"].endswith(swim["id"]))
        assert score["performer"] == [{"reference": "Patient/sanne-bakker"}]
        edited = env.post(f"/doelen/{uid}", {"text": "Elke week zwemmen", "term": "lang", "status": "completed"})
        assert edited.status_code == 303, text(edited)
        assert goal_named(env, "Elke week zwemmen")["achievementStatus"]["coding"][0]["code"] == "achieved"


def test_a_member_has_no_goal_pages_and_cannot_add_a_goal(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user="Practitioner/lotte-smit") as env:
        house = uid_of(goal_named(env, "Zelfstandig wonen"))
        before = {rtype: len(env.resources(rtype)) for rtype in ("Goal", "Observation", "Provenance")}
        notes_before = goal_named(env, "Zelfstandig wonen").get("note")
        for path in ("/doelen", "/doelen/nieuw", f"/doelen/{house}"):
            refused = env.get(path)
            assert refused.status_code == 403, path
            html = text(refused)
            assert "Dit mag alleen de patiënt (regisseur)" in html and "Zelfstandig wonen" not in html, path
        for path, data in (
            ("/doelen/nieuw", {"text": "Doel van Lotte", "term": "lang"}),
            (f"/doelen/{house}", {"text": "Anders wonen", "term": "lang", "status": "active"}),
            (f"/doelen/{house}/notitie", {"note": "Notitie van Lotte"}),
            (f"/doelen/{house}/voortgang", {"score": "9"}),
        ):
            assert env.post(path, data).status_code == 403, path
        assert {rtype: len(env.resources(rtype)) for rtype in before} == before
        assert goal_named(env, "Zelfstandig wonen").get("note") == notes_before
        assert not [g for g in env.resources("Goal") if g["description"]["text"] == "Doel van Lotte"]
