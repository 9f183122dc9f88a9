"""The group page with a resource in the record that the app cannot read: the notice, saves around it, the cancel.

Real app, real sandbox FHIR store: Sanne's planned meeting and one of her goals are stored with codes the app does
not know (as another system might write them). The group still opens; care professionals see what cannot be read;
other saves go through without touching it; "Bijeenkomst afzeggen" sets only its status.
"""

from __future__ import annotations

import html as html_lib
from pathlib import Path
from typing import Any

from fhir_mappings.codes import CS_GOAL_TERM, CS_MEETING_ROLE, Artifact
from fhir_mappings.from_fhir import is_artifact
from plugin.services.record import CANCEL_TEXT
from tests.support.ui import LaunchedApp, launched

SANNE = "Patient/sanne-bakker"
NOTICE = "Dit staat in het dossier, maar de app kan het niet lezen:"


def text(response: Any) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def sannes(env: LaunchedApp, rtype: str) -> list[dict[str, Any]]:
    plan = next(p for p in env.resources("CarePlan") if p["subject"]["reference"] == SANNE)
    if rtype == "CarePlan":
        return [plan]
    key = {"Appointment": "supportingInformation", "Goal": None}[rtype]
    if key is None:
        listed = {g["reference"] for g in plan.get("goal") or []}
        return [g for g in env.resources("Goal") if f"Goal/{g['id']}" in listed]
    return [
        r
        for r in env.resources(rtype)
        if any(ref.get("reference") == f"CarePlan/{plan['id']}" for ref in r.get(key) or [])
    ]


def break_record(env: LaunchedApp) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sanne's next planned meeting and one of her goals get codes the app does not know."""
    meeting = next(
        r
        for r in sannes(env, "Appointment")
        if is_artifact(r, Artifact.MEETING, "serviceType") and r["status"] in ("proposed", "booked")
    )
    patient = next(p for p in meeting["participant"] if p["actor"]["reference"] == SANNE)
    patient.setdefault("type", []).append({"coding": [{"system": CS_MEETING_ROLE, "code": "gastvrouw"}]})
    env.store.update("Appointment", meeting["id"], meeting)
    goal = sannes(env, "Goal")[0]
    goal["category"] = [{"coding": [{"system": CS_GOAL_TERM, "code": "middellang"}]}]
    env.store.update("Goal", goal["id"], goal)
    return meeting, goal


def current(env: LaunchedApp, rtype: str, rid: str) -> dict[str, Any]:
    return next(r for r in env.resources(rtype) if r["id"] == rid)


def test_care_professionals_see_what_cannot_be_read_and_can_cancel_the_meeting(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        meeting, goal = break_record(env)
        page = env.get("/")
        assert page.status_code == 200, text(page)
        html = text(page)
        assert NOTICE in html and "Het blijft zoals het is." in html
        assert f"Appointment/{meeting['id']}" in html and f"Goal/{goal['id']}" in html
        assert "Het EPD gaf een onbekende code terug." in html
        assert html.count("Bijeenkomst afzeggen") == 1  # for the meeting, not for the goal

        provenances = len(env.resources("Provenance"))
        done = env.post("/onleesbaar/afzeggen", {"resource": f"Appointment/{meeting['id']}"})
        assert done.status_code == 303
        after = current(env, "Appointment", meeting["id"])
        assert after["status"] == "cancelled"
        assert after["participant"] == meeting["participant"]  # the broken part as it was
        assert (after["start"], after["end"]) == (meeting["start"], meeting["end"])
        assert len(env.resources("Provenance")) == provenances + 1
        prov = [p for p in env.resources("Provenance") if p["activity"].get("text") == CANCEL_TEXT]
        assert prov and {"reference": f"Appointment/{meeting['id']}"} in [
            {"reference": t["reference"].split("/_history")[0]} for t in prov[0]["target"]
        ]
        html = text(env.get("/"))
        assert "Afgezegd en vastgelegd in het dossier." in html
        assert "Bijeenkomst afzeggen" not in html  # nothing left to cancel; the goal is still listed
        assert f"Goal/{goal['id']}" in html


def test_other_saves_go_through_and_keep_what_cannot_be_read(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        meeting, goal = break_record(env)
        renamed = env.post("/naam", {"name": "Sannes steungroep"})
        assert renamed.status_code == 303, text(renamed)
        plan = sannes(env, "CarePlan")[0]
        assert plan["title"] == "Sannes steungroep"
        assert {"reference": f"Goal/{goal['id']}"} in plan["goal"]  # the unreadable goal is still in the plan
        assert current(env, "Goal", goal["id"]) == goal | {"meta": current(env, "Goal", goal["id"])["meta"]}
        still = current(env, "Appointment", meeting["id"])
        assert still["meta"]["versionId"] == str(int(meeting["meta"]["versionId"]) + 1)  # only our break changed it
        assert (still["start"], still["status"]) == (meeting["start"], meeting["status"])


def test_the_patient_sees_no_notice_and_may_not_cancel(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker", user=SANNE) as env:
        meeting, _ = break_record(env)
        page = env.get("/")
        assert page.status_code == 200
        assert NOTICE not in text(page)
        refused = env.post("/onleesbaar/afzeggen", {"resource": f"Appointment/{meeting['id']}"})
        assert refused.status_code == 403
        assert current(env, "Appointment", meeting["id"])["status"] == meeting["status"]


def test_a_resource_that_is_not_listed_cannot_be_cancelled(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        _, goal = break_record(env)
        versions = {r["id"]: r["meta"]["versionId"] for r in env.resources("Appointment")}
        refused = env.post("/onleesbaar/afzeggen", {"resource": f"Goal/{goal['id']}"}, follow_redirects=True)
        assert "Dit onderdeel kan de app niet afzeggen." in text(refused)
        assert {r["id"]: r["meta"]["versionId"] for r in env.resources("Appointment")} == versions


def test_the_dst_meeting_of_the_issue_no_longer_locks_the_group(tmp_path: Path) -> None:
    """Stored by the old version: 02:30+01:00 to 03:30+02:00 (the spring gap), length 0. Saves that do not touch
    it go through and leave it exactly as it is (the app would write its end as 03:30+01:00)."""
    with launched(tmp_path, patient="sanne-bakker") as env:
        meeting = next(
            r
            for r in sannes(env, "Appointment")
            if is_artifact(r, Artifact.MEETING, "serviceType") and r["status"] in ("proposed", "booked")
        )
        meeting.update(start="2027-03-28T02:30:00+01:00", end="2027-03-28T03:30:00+02:00", minutesDuration=60)
        env.store.update("Appointment", meeting["id"], meeting)
        stored = current(env, "Appointment", meeting["id"])
        assert env.get("/").status_code == 200
        for name in ("Sannes steungroep", "Team Sanne"):
            renamed = env.post("/naam", {"name": name})
            assert renamed.status_code == 303, text(renamed)
        assert sannes(env, "CarePlan")[0]["title"] == "Team Sanne"
        assert current(env, "Appointment", meeting["id"]) == stored  # not rewritten: same version, same times
        assert NOTICE not in text(env.get("/"))  # it can be read (as one hour): nothing to report
