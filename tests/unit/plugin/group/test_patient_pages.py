"""The patient's own pages (issue 11): the home addressed to them, their wishes and requests, and how the care
professional sees that input in the context view ("Van Sanne", "Voorstel van Sanne") and takes it up in one step.

Real app, real sandbox FHIR store with the demo data; what is checked is what the store holds afterwards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fhir_mappings.codes import CS_ARTIFACT, Artifact
from tests.support.ui import LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
ANNA = "Practitioner/anna-de-vries"
LOTTE = "Practitioner/lotte-smit"


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def main_of(html: str) -> str:
    """The page's main content, tags removed, whitespace collapsed."""
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def wishes(env: LaunchedApp) -> list[dict[str, Any]]:
    def is_wish(c: dict[str, Any]) -> bool:
        codes = [cd for cat in c.get("category", []) for cd in cat.get("coding", [])]
        return any(cd.get("system") == CS_ARTIFACT and cd.get("code") == Artifact.WISH.value for cd in codes)

    return [c for c in env.resources("Communication") if is_wish(c)]


def action(env: LaunchedApp, html: str, ending: str, contains: str = "") -> str:
    """The path (after the context) of the one form in `html` posting to a URL ending in `ending`."""
    found = [a for a in re.findall(r'action="([^"]+)"', html) if a.endswith(ending) and contains in a]
    assert len(found) == 1, (ending, found)
    return found[0].removeprefix(f"/c/{env.context_id}")


def team(env: LaunchedApp) -> dict[str, Any]:
    [found] = [t for t in env.resources("CareTeam") if t["subject"]["reference"] == SANNE]
    return found


def saved(response: Any, what: str) -> None:
    assert response.status_code == 303, f"{what}: {response.status_code} {text(response)[-1200:]}"


def test_the_patient_gets_their_own_home_addressed_to_them(tmp_path: Path) -> None:
    with launched(tmp_path, user=SANNE) as env:
        page = env.get("/")
        assert page.status_code == 200, text(page)
        html = text(page)
        body = main_of(html)
        for words in ("Jouw resourcegroep", "Jij bent de regisseur", "Wat op je wacht", "Je volgende bijeenkomst"):
            assert words in body, words
        assert "Nomineren betekent" in body  # the word is explained where it is offered
        assert "Geef een cijfer voor je doel: Zelfstandig wonen" in body  # no score since the last meeting
        # A small progress line per goal with scores: an image with a name, and the last score as text.
        assert re.search(r'<svg[^>]*class="sparkline"[^>]*role="img"', html)
        assert "Voortgang bij Zelfstandig wonen: 2 cijfers, de laatste 5 van de 10." in html
        assert "Laatste cijfer: 5 van de 10" in body
        assert "Aandacht nodig" not in body and "de patiënt" not in body.lower()
        for path in ("/wens", "/pauze-of-stoppen", "/naam", "/doelen/nieuw", "/leden/nomineren"):
            assert f'href="/c/{env.context_id}{path}"' in html, path
    with launched(tmp_path, user=ANNA) as env:
        body = main_of(text(env.get("/")))
        assert "Jouw resourcegroep" not in body and "Aandacht nodig" in body


def test_a_meeting_wish_is_kept_when_refused_and_taken_up_in_one_step(tmp_path: Path) -> None:
    with launched(tmp_path, user=SANNE) as env:
        refused = env.post("/wens", {"place": "Bij mij thuis", "theme": "anders"})
        assert refused.status_code == 422
        assert "welk thema je wilt" in text(refused) and 'value="Bij mij thuis"' in text(refused)
        assert wishes(env) == []
        lotte = next(m for m in team(env)["participant"] if "Lotte" in m["member"].get("display", ""))
        assert lotte
        saved(env.post("/wens", {"place": "Bij mij thuis", "theme": "stress", "text": "Graag om 19 uur."}), "wish")
        [wish] = wishes(env)
        assert wish["status"] == "in-progress" and wish["sender"]["reference"] == SANNE
        home = main_of(text(env.get("/")))
        assert "Bij mij thuis" in home and "nog niet overgenomen" in home
        assert "Zeg wat je wilt voor de bijeenkomst" not in home  # given: no longer waiting

        env.act_as(ANNA)
        html = text(env.get("/"))
        overview = main_of(html)
        assert "Van Sanne" in overview and "Wens voor de volgende bijeenkomst" in overview
        assert "Bij mij thuis" in overview and "Graag om 19 uur." in overview
        saved(env.post(action(env, html, "/overnemen"), {}), "take up")
        [wish] = wishes(env)
        assert wish["status"] == "completed"
        meeting = next(
            a for a in env.resources("Appointment") if a["id"] == wish["partOf"][0]["reference"].split("/")[1]
        )
        locations = [
            p["actor"].get("display", "")
            for p in meeting["participant"]
            if "Location" in p["actor"].get("reference", "")
        ]
        assert "Bij mij thuis" in locations
        assert "Van Sanne" not in main_of(text(env.get("/")))  # nothing open any more


def test_a_request_to_pause_pauses_the_group_when_taken_up_and_members_never_see_it(tmp_path: Path) -> None:
    reason = "Ik ga drie maanden op reis."
    with launched(tmp_path, user=SANNE) as env:
        empty = env.post("/pauze-of-stoppen", {"kind": "pauze", "reason": ""})
        assert empty.status_code == 422
        saved(env.post("/pauze-of-stoppen", {"kind": "pauze", "reason": reason}), "ask")
        again = env.post("/pauze-of-stoppen", {"kind": "pauze", "reason": "Nog een keer."})
        assert again.status_code == 422 and "Je hebt dit al gevraagd" in text(again)
        assert "Pauze van de groep gevraagd door Sanne Bakker" in main_of(text(env.get("/tijdlijn")))
        env.act_as(LOTTE)
        assert reason not in text(env.get("/"))
        env.act_as(ANNA)
        overview = text(env.get("/"))
        assert reason in overview and "Groep pauzeren" in overview
        saved(env.post(action(env, overview, "/overnemen"), {}), "take up")
        assert team(env)["status"] == "suspended"
        assert wishes(env)[0]["status"] == "completed"
        # Paused now: the patient can still ask to stop, and is no longer offered a pause.
        env.act_as(SANNE)
        form = text(env.get("/pauze-of-stoppen"))
        assert re.findall(r'name="kind"[^>]*value="([^"]+)"', form) == ["einde"]
        refused = env.post("/pauze-of-stoppen", {"kind": "pauze", "reason": "Nog langer pauze."})
        assert refused.status_code == 422


def test_set_aside_changes_nothing_but_the_wish(tmp_path: Path) -> None:
    with launched(tmp_path, user=SANNE) as env:
        saved(env.post("/pauze-of-stoppen", {"kind": "einde", "reason": "Ik wil stoppen."}), "ask")
        env.act_as(ANNA)
        html = text(env.get("/"))
        take_up = action(env, html, "/overnemen")
        saved(env.post(action(env, html, "/gelezen"), {}), "set aside")
        assert wishes(env)[0]["status"] == "not-done"
        assert team(env)["status"] == "active"
        # Taking it up afterwards is refused with a message on the page, and nothing changes.
        page = env.client.post(
            env.url(take_up),
            data={"csrf_token": env.csrf_token(), "submission_key": "k1"},
            follow_redirects=True,
        )
        assert page.status_code == 200 and "flash-error" in text(page)
        assert team(env)["status"] == "active"


def test_the_patients_goal_nomination_and_score_are_marked_as_theirs(tmp_path: Path) -> None:
    goal_text = "Elke week een keer koken voor vrienden"
    reason = "Hij kent me al twintig jaar."
    with launched(tmp_path, user=SANNE) as env:
        saved(env.post("/doelen/nieuw", {"text": goal_text, "term": "kort"}), "goal")
        saved(
            env.post("/leden/nomineren/naaste", {"name": "Peter de Groot", "relationship": "FRND", "reason": reason}),
            "nominate",
        )
        goal = next(g for g in env.resources("Goal") if g["description"]["text"] == goal_text)
        assert goal["lifecycleStatus"] == "proposed"
        [link] = re.findall(r'href="/c/[^/]+(/doelen/[^"]+)">' + goal_text, text(env.get("/")))
        saved(env.post(f"{link}/voortgang", {"score": "6", "meeting_uid": ""}), "score")
        assert "jouw voorstel, nog niet besproken" in main_of(text(env.get("/")))

        env.act_as(ANNA)
        overview = main_of(text(env.get("/")))
        assert "Voorstel van Sanne : een doel" in overview
        assert goal_text in overview and "Peter de Groot genomineerd" in overview and reason in overview
        assert "Cijfers van Sanne" in overview and "6 van de 10" in overview
        html = text(env.get("/"))
        assert "Kennismakingsgesprek plannen" in html
        saved(env.post(action(env, html, "/overnemen", "doelvoorstel"), {}), "take up goal")
        goal = next(g for g in env.resources("Goal") if g["id"] == goal["id"])
        assert goal["lifecycleStatus"] == "active"
        peter = next(m for m in team(env)["participant"] if m["member"].get("display") == "Peter de Groot")
        member_page = main_of(text(env.get(f"/leden/{peter['id']}")))
        assert "Genomineerd door de patiënt" in member_page and reason in member_page


# Words that talk about the patient, or address the reader formally: never on a page that speaks to the patient.
ABOUT_THE_PATIENT = re.compile(r"\bde patiënt\b|\bu\b|\buw\b", re.IGNORECASE)


def test_every_page_the_patient_reaches_speaks_to_them(tmp_path: Path) -> None:
    seen: set[str] = set()
    todo = ["/"]
    wrong: list[str] = []
    with launched(tmp_path, user=SANNE) as env:
        while todo:
            path = todo.pop(0)
            if path in seen or path.endswith(".ics"):
                continue
            seen.add(path)
            page = env.get(path)
            assert page.status_code == 200, (path, page.status_code)
            html = text(page)
            body = main_of(html).replace("Over deze sessie: patiënt, gebruiker en rechten", "")
            wrong += [
                f"{path}: …{body[max(0, m.start() - 40) : m.end() + 30]}…" for m in ABOUT_THE_PATIENT.finditer(body)
            ]
            todo += [h for h in re.findall(r'href="/c/[^/]+(/[^"#?]*)', html) if h not in seen]
    assert len(seen) > 25  # home, members, goals, agreements, meetings, agendas, reports, forms
    assert wrong == []


def test_a_member_gets_a_home_with_the_meeting_their_answer_and_their_own_agreements(tmp_path: Path) -> None:
    with launched(tmp_path, user=LOTTE) as env:
        html = text(env.get("/"))
        body = main_of(html)
        assert "De resourcegroep van Sanne" in body and "Welkom, Lotte" in body
        assert "Cv bijwerken" in body and "Sportschool uitzoeken" not in body  # only her own agreements
        assert "#done-h" in html and "Kom je naar deze bijeenkomst?" in body
        assert "Wat op je wacht" not in body and "Van Sanne" not in body

        def answers() -> dict[str, str]:
            return {
                a["id"]: p["status"]
                for a in env.resources("Appointment")
                for p in a["participant"]
                if p["actor"].get("reference") == LOTTE
            }

        before = answers()
        saved(env.post(action(env, html, "/mijn-reactie"), {"answer": "accepted"}), "answer")
        changed = {k: v for k, v in answers().items() if before.get(k) != v}
        assert list(changed.values()) == ["accepted"]  # her answer on the next meeting's Appointment
        assert "ik kom" in main_of(text(env.get("/"))).lower()


def test_the_patients_nomination_form_says_optional_one_way(tmp_path: Path) -> None:
    with launched(tmp_path, user=SANNE) as env:
        body = main_of(text(env.get("/leden/nomineren")))
        for optional in ("In je eigen woorden", "Geboortedatum", "Waarom wil je deze persoon in je groep?"):
            assert f"{optional} (niet verplicht)" in body, optional
        assert "leeg laten" not in body


def test_a_save_tells_the_patient_saved_and_the_staff_saved_in_the_ehr(tmp_path: Path) -> None:
    with launched(tmp_path, user=SANNE) as env:
        made = env.post("/doelen/nieuw", {"text": "Elke dag een stuk wandelen", "term": "kort"})
        saved(made, "goal")
        flash = re.findall(r'<p class="flash flash-saved"[^>]*>([^<]*)</p>', text(env.get(made.headers["Location"])))
        assert flash == ["Opgeslagen."]  # "the EPD" is a word of the clinic's staff
        env.act_as(ANNA)
        made = env.post("/doelen/nieuw", {"text": "Elke dag een stuk fietsen", "term": "kort"})
        saved(made, "goal")
        flash = re.findall(r'<p class="flash flash-saved"[^>]*>([^<]*)</p>', text(env.get(made.headers["Location"])))
        assert flash == ["Opgeslagen in het EPD."]
