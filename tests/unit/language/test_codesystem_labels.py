"""What a page calls a code is what its CodeSystem calls it (issue 15): the Dutch screen label of every product
code the UI shows equals the Dutch `display` in fhir_mappings/codesystems/*.json (the CodeSystems are in Dutch:
`"language": "nl"`), except for the first letter (labels stand inside sentences and lists).

One test per code system. Codes a page never shows as a label are listed with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

import pytest
from flask import Flask
from flask_babel import force_locale

from fhir_mappings.codes import (
    CODESYSTEM_FILES,
    KERNLID,
    AgreementStatus,
    GoalTerm,
    LifeArea,
    MeetingRole,
    MeetingTheme,
    MemberRole,
    NominationState,
    Section,
    WishKind,
    codesystem,
)
from plugin.app import create_app
from plugin.config import AppConfig
from plugin.group.access_log import _ROLES
from plugin.web.labels import label

SHOWN: dict[str, type[StrEnum]] = {
    "member-role": MemberRole,
    "nomination-state": NominationState,
    "meeting-role": MeetingRole,
    "life-area": LifeArea,
    "goal-term": GoalTerm,
    "meeting-theme": MeetingTheme,
    "section": Section,
    "wish-kind": WishKind,
}
# Codes whose pages use their own words instead of a label, and code systems no page shows.
NOT_SHOWN_AS_LABEL = {
    ("member-role", KERNLID),  # a yes/no column "Kernlid" and the words "kernlid" / "flexibel lid"
    ("section", Section.PLAATS.value),  # the patient's wishes: each part is a question on the wish form
    ("section", Section.VOORZITTER.value),
    ("section", Section.TOELICHTING.value),
}
NOT_SHOWN = {
    "artifact": "tells what a resource is; never on a page",
    "reminder-reason": "reminders go to the EHR, the app lists no reasons",
    "app-action": "the access log says what part of the group was looked at, not the action",
}


def test_every_code_system_is_either_checked_or_said_why_not() -> None:
    assert set(CODESYSTEM_FILES) == set(SHOWN) | set(NOT_SHOWN) | {"access-role"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("labels")
    yield create_app(
        AppConfig(public_base_url="http://app.test", secret_key="x" * 40, outbox_db=str(folder / "outbox.sqlite3"))
    )


def displays(name: str) -> dict[str, str]:
    return {c["code"]: c["display"] for c in codesystem(name)["concept"]}


def screen(text: str) -> str:
    """A label as it would open a sentence: the displays start with a capital."""
    return text[:1].upper() + text[1:]


def dutch_labels(app: Flask, name: str) -> dict[str, str]:
    with app.test_request_context("/"), force_locale("nl"):
        if name == "access-role":
            return {code: screen(str(text)) for code, text in _ROLES.items()}
        return {
            member.value: screen(label(member))
            for member in SHOWN[name]
            if (name, member.value) not in NOT_SHOWN_AS_LABEL
        }


@pytest.mark.parametrize("name", [*SHOWN, "access-role"])
def test_the_screen_label_of_each_code_is_its_codesystem_display(app: Flask, name: str) -> None:
    assert codesystem(name)["language"] == "nl"
    shown = dutch_labels(app, name)
    expected = {code: text for code, text in displays(name).items() if (name, code) not in NOT_SHOWN_AS_LABEL}
    assert set(shown) == set(expected), "a code without a label, or a label without a code"
    differ = {code: (shown[code], expected[code]) for code in expected if shown[code] != expected[code]}
    assert differ == {}, "screen label != CodeSystem display: " + repr(differ)


def test_the_english_labels_are_not_the_dutch_words(app: Flask) -> None:
    """The English pages translate the method's words (e.g. "recovery coordinator", not "direction supporter")."""
    with app.test_request_context("/"), force_locale("en"):
        assert label(MemberRole.REGIEONDERSTEUNER) == "recovery coordinator"
        assert label(MemberRole.REGISSEUR) == "director"
        english = {label(m) for m in MemberRole} | {label(m) for m in NominationState}
    assert not english & {"regieondersteuner", "regisseur", "lid", "genomineerd"}


def test_the_agreement_statuses_read_apart_in_dutch(app: Flask) -> None:
    """A status list of "afgesproken" next to "geaccepteerd" left readers guessing which was which."""
    with app.test_request_context("/"), force_locale("nl"):
        shown = [label(status) for status in AgreementStatus]
    assert shown == ["afgesproken", "op zich genomen", "bezig", "gedaan", "gaat niet door"]
