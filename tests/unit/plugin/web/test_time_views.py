"""Time and dates in the real app (issue 12): DST refusals in Dutch at the field with 422, the past-date question on
the interview, goal and agreement forms (kept form, saved once ticked), a held interview before its nomination,
and `?plan=<unknown>` as a 404 page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.ui import LaunchedApp, launched

AMS = ZoneInfo("Europe/Amsterdam")
MOHAMMED = {"patient": "mohammed-el-amrani", "user": "Practitioner/bram-jansen"}
QUESTION = "Deze datum is al voorbij. Toch vastleggen?"


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def writes(env: LaunchedApp) -> int:
    with env.store._lock:
        return int(env.store._conn.execute("SELECT COUNT(*) FROM history").fetchone()[0])


def nominee(env: LaunchedApp, name: str) -> str:
    assert env.post("/leden/nomineren/naaste", {"name": name, "relationship": "SIS"}).status_code == 303
    team = next(t for t in env.resources("CareTeam") if t["subject"]["reference"] == "Patient/mohammed-el-amrani")
    return str(next(p for p in team["participant"] if p["member"].get("display") == name)["id"])


def test_planning_an_interview_in_the_dst_gap_or_overlap(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        sister = nominee(env, "Samira")
        before = writes(env)
        gap = env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": "2032-03-28T02:30"})
        assert gap.status_code == 422
        assert (
            "Deze tijd bestaat niet: op 28 maart 2032 gaat de klok om 2:00 een uur vooruit. Kies een andere tijd."
            in text(gap)
        )
        assert 'value="2032-03-28T02:30"' in text(gap)
        overlap = env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": "2032-10-31T02:30"})
        assert overlap.status_code == 422
        page = text(overlap)
        assert "Deze tijd komt twee keer voor: op 31 oktober 2032 gaat de klok om 3:00 een uur terug." in page
        assert "de eerste keer (zomertijd)" in page and "de tweede keer (wintertijd)" in page
        far = env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": "9999-12-31T23:59"})
        assert far.status_code == 422 and "Vul een datum in tussen 1900 en 2100." in text(far)
        assert writes(env) == before  # nothing written on any refusal
        chosen = env.post(
            f"/leden/{sister}/gesprek-plannen", {"planned_start": "2032-10-31T02:30", "planned_start-fold": "1"}
        )
        assert chosen.status_code == 303, text(chosen)
        interview = [a for a in env.resources("Appointment") if a["start"].startswith("2032-10-31")]
        assert [a["start"] for a in interview] == ["2032-10-31T02:30:00+01:00"]  # the second time: winter time


def test_an_interview_in_the_past_asks_first_and_is_saved_when_confirmed(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        sister = nominee(env, "Samira")
        yesterday = (datetime.now(AMS) - timedelta(days=1)).strftime("%Y-%m-%dT10:00")
        before = writes(env)
        asked = env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": yesterday})
        assert asked.status_code == 422 and QUESTION in text(asked)
        assert 'name="planned_start-past"' in text(asked) and f'value="{yesterday}"' in text(asked)
        assert writes(env) == before
        done = env.post(f"/leden/{sister}/gesprek-plannen", {"planned_start": yesterday, "planned_start-past": "y"})
        assert done.status_code == 303


def test_a_held_interview_before_the_nomination_is_refused(tmp_path: Path) -> None:
    with launched(tmp_path, **MOHAMMED) as env:
        sister = nominee(env, "Samira")
        held = (datetime.now(AMS) - timedelta(days=3)).strftime("%Y-%m-%dT10:00")
        before = writes(env)
        refused = env.post(
            f"/leden/{sister}/gesprek-vastleggen", {"held_at": held, "inzet": "Elke week", "visibility": "shared"}
        )
        assert refused.status_code == 422
        assert "Het gesprek kan niet eerder zijn dan de nominatie op" in text(refused)
        assert "Elke week" in text(refused) and writes(env) == before


def test_a_goal_and_an_agreement_due_in_the_past_ask_first(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        before = writes(env)
        goal = {"text": "Eerder dan gedacht", "term": "lang", "life_area": "", "due": "01-03-2025"}
        asked = env.post("/doelen/nieuw", goal)
        assert asked.status_code == 422 and QUESTION in text(asked)
        assert "Eerder dan gedacht</textarea>" in text(asked) and 'value="2025-03-01"' in text(asked)
        old = env.post("/doelen/nieuw", goal | {"due": "01-01-1899"})
        assert old.status_code == 422 and "Vul een datum in tussen 1900 en 2100." in text(old)
        assert writes(env) == before
        assert env.post("/doelen/nieuw", goal | {"due-past": "y"}).status_code == 303
        saved = [g for g in env.resources("Goal") if g["description"]["text"] == "Eerder dan gedacht"]
        assert [g["target"][0]["dueDate"] for g in saved] == ["2025-03-01"]

        # Editing that goal and keeping its (past) date is not asked again; a new past date is.
        goal_uid = saved[0]["identifier"][0]["value"]
        edit = goal | {"status": "active", "parent_uid": ""}
        assert env.post(f"/doelen/{goal_uid}", edit | {"text": "Eerder dan gedacht!"}).status_code == 303
        moved = env.post(f"/doelen/{goal_uid}", edit | {"due": "02-03-2025"})
        assert moved.status_code == 422 and QUESTION in text(moved)

        before = writes(env)
        agreement = {"description": "Te laat begonnen", "owner": "", "due": "2025-03-01", "goal_uid": ""}
        asked = env.post("/afspraken/nieuw", agreement)
        assert asked.status_code == 422 and QUESTION in text(asked) and "Te laat begonnen" in text(asked)
        assert writes(env) == before
        assert env.post("/afspraken/nieuw", agreement | {"due-past": "y"}).status_code == 303


def test_an_unknown_plan_on_the_overview_is_a_404_page(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        plan_id = next(p["id"] for p in env.resources("CarePlan") if p["subject"]["reference"].endswith("sanne-bakker"))
        assert env.get(f"/?plan=CarePlan/{plan_id}").status_code == 200
        for unknown in ("bestaat-niet", "CarePlan/onbekend", "%00", "x" * 3000):
            for path in ("/", "/tijdlijn"):
                answer = env.get(f"{path}?plan={unknown}")
                assert answer.status_code == 404, (path, unknown, answer.status_code)
                assert re.search(r"<title>[^<]*</title>", text(answer))
