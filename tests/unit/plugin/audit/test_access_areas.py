"""The access log names the part of the group each app action is about ("bekeken: doelen")."""

from __future__ import annotations

from fhir_mappings.audit import APP_ACTIONS_BEYOND_RIGHTS
from fhir_mappings.rights import Action
from plugin.group.access_log import area_of

AREAS = {
    "access": {"view_access_log"},
    "agenda": {"propose_agenda_item", "set_agenda", "view_agenda"},
    "agreements": {
        "add_agreement",
        "edit_agreement",
        "mark_own_agreement_done",
        "view_all_agreements",
        "view_own_agreements",
    },
    "goals": {"add_goal", "add_goal_note", "edit_goal", "view_goals", "score_progress"},
    "group": {"cancel_unreadable", "change_status", "rename_group", "start_group"},
    "meetings": {
        "assign_meeting_roles",
        "plan_meeting",
        "record_any_response",
        "reschedule_meeting",
        "respond_to_invitation",
        "send_invitation",
        "set_meeting_status",
        "view_meetings",
    },
    "members": {
        "decide_nomination",
        "end_membership",
        "hand_over",
        "nominate",
        "plan_interview",
        "record_interview",
        "set_core",
        "take_over",
        "view_confidential_interview",
        "view_member_details",
        "view_members",
        "view_shared_interview",
        "withdraw_nomination",
    },
    "overview": {"view_overview"},
    "report": {"view_report", "write_report"},
    "saves": {"discard_failed", "retry_failed", "retry_waiting", "replay_save"},
    "timeline": {"view_timeline"},
    "wishes": {"ask_pause_or_end", "give_meeting_wish", "take_up_input", "view_wishes"},
    "caseload": {"view_caseload"},
    "session": {"view_launch"},
    "launch_task": {"view_launch_task"},
    "reminders": {"send_reminders"},
}


def test_every_app_action_is_about_the_part_of_the_group_it_touches() -> None:
    every = {a.value for a in Action} | set(APP_ACTIONS_BEYOND_RIGHTS)
    assert set().union(*AREAS.values()) == every  # the table names each action once
    assert {action: area_of(action) for action in every} == {
        action: area for area, actions in AREAS.items() for action in actions
    }
