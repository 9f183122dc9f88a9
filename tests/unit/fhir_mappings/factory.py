"""A complete resource group that uses every field: shared by the mapping tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fhir_mappings.codes import (
    AgreementStatus,
    GoalTerm,
    InterviewVisibility,
    LifeArea,
    MeetingRole,
    MeetingTheme,
    ParticipationStatus,
    Section,
    WishKind,
)
from fhir_mappings.model import AgendaItem, ResourceGroup, Supporter, new_uid

AMS = ZoneInfo("Europe/Amsterdam")
PATIENT = "Patient/p1"
CLINICIAN = "Practitioner/pr1"
TODAY = date(2026, 3, 2)


def full_group() -> ResourceGroup:
    """A group through its whole story: nominees, interviews, goals, a held meeting with report."""
    g = ResourceGroup.start_new(
        patient=PATIENT,
        patient_display="Sanne de Vries",
        regieondersteuner=CLINICIAN,
        regieondersteuner_display="Jeroen Bakker",
        name="Team Sanne",
        today=TODAY,
    )
    mother_uid = new_uid()
    mother = g.nominate(
        mother_uid,
        "Ans de Vries",
        TODAY,
        Supporter(
            mother_uid,
            "Ans de Vries",
            "MTH",
            "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
            phone="06-12345678",
            email="ans@example.nl",
            relationship_text="moeder",
        ),
    )
    friend_uid = new_uid()
    friend = g.nominate(
        friend_uid,
        "Karim",
        TODAY,
        Supporter(friend_uid, "Karim", "FRND", "http://terminology.hl7.org/CodeSystem/v3-RoleCode"),
    )
    coach = g.nominate("Practitioner/pr2", "Lotte (jobcoach)", TODAY)
    g.plan_interview(mother.uid, datetime(2026, 3, 9, 14, 0, tzinfo=AMS))
    g.record_interview(
        mother.uid,
        datetime(2026, 3, 9, 14, 5, tzinfo=AMS),
        {
            Section.VERWACHTINGEN: "Wil weten hoe het gaat.",
            Section.INZET: "Eens per drie maanden.",
            Section.RELATIE: "Moeder; zware tijd in 2019 samen doorgemaakt.",
            Section.BIJDRAGE: "Kan helpen met geldzaken.",
        },
        visibility=InterviewVisibility.SHARED,
    )
    g.admit(mother.uid, TODAY + timedelta(days=8))
    g.set_core(mother.uid, True)
    g.record_interview(
        friend.uid,
        datetime(2026, 3, 10, 11, 0, tzinfo=AMS),
        {Section.BIJDRAGE: "Samen sporten."},
        visibility=InterviewVisibility.SHARED,
    )
    g.admit(friend.uid, TODAY + timedelta(days=9))
    g.plan_interview(coach.uid, datetime(2026, 3, 12, 9, 30, tzinfo=AMS))
    long1 = g.add_goal("Zelfstandig wonen", GoalTerm.LANG, TODAY, LifeArea.WONEN, date(2027, 6, 1))
    g.add_goal("Werk vinden dat bij me past", GoalTerm.LANG, TODAY, LifeArea.DAGBESTEDING)
    short1 = g.add_goal("Huurtoeslag aanvragen", GoalTerm.KORT, TODAY, LifeArea.GELD, date(2026, 5, 1), long1.uid)
    g.add_goal("Twee keer per week sporten", GoalTerm.KORT, TODAY, LifeArea.SPORT)
    g.add_goal_note(long1.uid, "Kijkt naar woningen in Breda.", datetime(2026, 3, 20, 10, 0, tzinfo=AMS), CLINICIAN)
    agreement = g.add_agreement("Samen de aanvraag invullen", TODAY, mother.who, short1.uid, date(2026, 4, 1))
    place = g.add_place("Buurthuis De Linde", "Lindelaan 4, Breda")
    meeting = g.plan_meeting(
        datetime(2026, 4, 7, 15, 0, tzinfo=AMS),
        place_uid=place.uid,
        theme=MeetingTheme.STRESS,
        theme_text="Omgaan met drukte",
    )
    g.assign_role(meeting.uid, mother.who, MeetingRole.VOORZITTER)
    g.assign_role(meeting.uid, friend.who, MeetingRole.TIJDBEWAKER)
    g.assign_role(meeting.uid, CLINICIAN, MeetingRole.NOTULIST)
    g.add_invitation(
        meeting.uid,
        "Welkom bij de eerste bijeenkomst.",
        datetime(2026, 3, 25, 9, 0, tzinfo=AMS),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    )
    g.record_response(meeting.uid, mother.who, ParticipationStatus.ACCEPTED)
    g.record_response(meeting.uid, friend.who, ParticipationStatus.TENTATIVE)
    g.set_agenda(
        meeting.uid,
        [
            AgendaItem("Welkom en kennismaken"),
            AgendaItem("", goal_uid=long1.uid),
            AgendaItem("", agreement_uid=agreement.uid),
        ],
        ready=True,
    )
    new_agreement = g.add_agreement("Sportschool uitzoeken", TODAY, friend.who, None, date(2026, 5, 1))
    g.score_progress(long1.uid, 4, datetime(2026, 4, 7, 15, 30, tzinfo=AMS), meeting.uid, "Eerste stap gezet")
    g.score_progress(short1.uid, 6, datetime(2026, 4, 7, 15, 40, tzinfo=AMS), meeting.uid)
    g.write_report(
        meeting.uid,
        sections={Section.SAMENVATTING: "Goede start.", Section.BESLUITEN: "Volgende keer bij Sanne thuis."},
        attended=[PATIENT, mother.who, CLINICIAN],
        goals_discussed=[long1.uid, short1.uid],
        new_agreements=[new_agreement.uid],
        written=datetime(2026, 4, 7, 17, 0, tzinfo=AMS),
    )
    g.edit_agreement(
        agreement.uid,
        description=agreement.description,
        owner=agreement.owner,
        goal_uid=agreement.goal_uid,
        due=agreement.due,
        status=AgreementStatus.COMPLETED,
    )
    g.plan_meeting(*g.propose_next_meeting_time(datetime(2026, 4, 8, 9, 0, tzinfo=AMS)))
    g.continue_after_treatment(date(2026, 6, 1))
    return g


def group_with_patient_input() -> ResourceGroup:
    """`full_group` plus what the patient puts forward themselves: a nomination with a reason, a proposed goal,
    an agenda item, a score before the meeting, wishes for the meeting and a request to pause; and a member's
    note when marking their agreement done."""
    g = full_group()
    meeting_uid = g.meetings[-1].uid
    agreement_uid = g.agreements[-1].uid
    goal_uid = g.goals[0].uid
    later = datetime(2026, 4, 20, 19, 0, tzinfo=AMS)
    neighbour_uid = new_uid()
    g.nominate(
        neighbour_uid,
        "Fatima (buurvrouw)",
        TODAY,
        Supporter(neighbour_uid, "Fatima", "NBOR", "http://terminology.hl7.org/CodeSystem/v3-RoleCode"),
        proposed_by=PATIENT,
        reason="Ze helpt me als het druk is.",
    )
    g.add_goal("Weer gaan zwemmen", GoalTerm.KORT, TODAY, LifeArea.SPORT, proposed=True)
    g.propose_agenda_item(meeting_uid, "Hoe het gaat met slapen", by=PATIENT)
    g.score_progress(goal_uid, 5, later, meeting_uid, "Gaat wat beter", by=PATIENT)
    g.mark_agreement_done(agreement_uid, "Twee sportscholen bekeken.", later, g.agreements[-1].owner)
    chair = next(m.who for m in g.members if m.display == "Ans de Vries")
    g.give_meeting_wish(PATIENT, later, place="Bij mij thuis", chair=chair, theme=MeetingTheme.SIGNALERINGSPLAN)
    g.ask_pause_or_end(WishKind.PAUSE, PATIENT, later + timedelta(minutes=5), "Ik ga drie maanden op reis.")
    return g
