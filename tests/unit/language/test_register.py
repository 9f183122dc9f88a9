"""One register per audience (issue 15): the patient and the members are spoken to with "je/jij", care
professionals with "u". Every page each role sees is walked (links followed, GET only) and its words (visible text,
aria-label, title, placeholder, alt) are checked against the forms forbidden for that audience.

The caseload ("Mijn resourcegroepen") is for care professionals, also when a practitioner member opens it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ui import LaunchedApp, launched
from tests.unit.language.catalogs import dutch_texts
from tests.unit.language.crawl import Page, as_portal_user, crawl, words_of

PATIENT, MEMBER, PROFESSIONAL = "patient", "member", "professional"

# "u"/"uw" as a word (also "U kunt"), and the informal forms.
FORMAL = re.compile(r"\b(?:[Uu]|[Uu]w)\b")
INFORMAL = re.compile(r"\b(?:[Jj]e|[Jj]ij|[Jj]ou|[Jj]ouw|[Jj]ezelf)\b")
# The patient reads about themselves as "de patiënt" / "de cliënt" (or "deze ...", "regisseur (de patiënt)").
ABOUT_THE_PATIENT = re.compile(r"\b(?:[Dd]e|[Dd]eze) (?:patiënt|cliënt)\b")

FORBIDDEN: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    PATIENT: (("formal 'u'", FORMAL), ("'de patiënt' about the patient", ABOUT_THE_PATIENT)),
    MEMBER: (("formal 'u'", FORMAL),),
    PROFESSIONAL: (("informal 'je/jij'", INFORMAL),),
}

# Pages a role may open from a form or a button rather than a link: their refusals are read too.
FORM_PAGES = (
    "/leden/nomineren",
    "/doelen/nieuw",
    "/afspraken/nieuw",
    "/bijeenkomsten/nieuw",
    "/status?action=pause",
    "/status?action=end",
    "/naam",
    "/overnemen",
    "/inzage",
    "/wachtrij",
    "/wens",
    "/pauze-of-stoppen",
)
USER_SCOPES = ("launch", "openid", "fhirUser", "user/CareTeam.rs", "user/CarePlan.rs", "user/Patient.rs")


def related_person(env: LaunchedApp, name: str) -> str:
    [found] = [r for r in env.resources("RelatedPerson") if r["name"][0].get("text") == name]
    return f"RelatedPerson/{found['id']}"


@dataclass(frozen=True)
class Role:
    name: str
    audience: str
    patient: str | None = "sanne-bakker"
    user: str = "Practitioner/anna-de-vries"
    become: Callable[[LaunchedApp], None] | None = None
    scopes: tuple[str, ...] | None = None
    start: tuple[str, ...] = ("/", *FORM_PAGES)


ROLES = (
    Role("patient-portal", PATIENT, become=lambda env: as_portal_user(env, "Patient/sanne-bakker")),
    Role("member-related-person", MEMBER, become=lambda env: as_portal_user(env, related_person(env, "Ans Bakker"))),
    Role("member-practitioner", MEMBER, user="Practitioner/lotte-smit"),
    Role("regieondersteuner", PROFESSIONAL),
    Role("colleague-standing-in", PROFESSIONAL, user="Practitioner/bram-jansen"),
    Role(
        "regieondersteuner-forming-group", PROFESSIONAL, patient="mohammed-el-amrani", user="Practitioner/bram-jansen"
    ),
    Role("team-lead-caseload", PROFESSIONAL, patient=None, scopes=USER_SCOPES, start=("/",)),
)


def audience_of(role: Role, page: Page) -> str:
    return PROFESSIONAL if page.path.startswith("/caseload") else role.audience


def violations(audience: str, words: list[str]) -> list[str]:
    """Every piece of text that uses a form the audience must not read, with what is wrong."""
    return [
        f"{why}: {text!r}" for text in words for why, pattern in FORBIDDEN[audience] if pattern.search(text) is not None
    ]


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_page_a_role_sees_uses_its_register(tmp_path: Path, role: Role) -> None:
    kw = {"scopes": role.scopes} if role.scopes else {}
    with launched(tmp_path, patient=role.patient, user=role.user, **kw) as env:  # type: ignore[arg-type]
        if role.become is not None:
            role.become(env)
        pages = list(crawl(env, role.start))
    assert len(pages) >= (1 if role.patient is None else 10), [p.path for p in pages]
    assert all(p.words for p in pages)
    found = [f"{p.path}: {v}" for p in pages for v in violations(audience_of(role, p), p.words)]
    assert found == [], "\n".join(found)


def test_the_check_sees_text_in_attributes_and_catches_a_planted_slip() -> None:
    page = (
        '<main><h1>Jouw doelen</h1><button aria-label="U kunt hier een doel toevoegen">+</button>'
        '<input placeholder="Uw naam"><p title="Over de patiënt">Sanne</p><textarea>Hoe gaat het met u?</textarea>'
        "<script>var u = 1;</script></main>"
    )
    words = words_of(page)
    assert "U kunt hier een doel toevoegen" in words and "Uw naam" in words
    assert "Hoe gaat het met u?" not in words and "var u = 1;" not in words  # what people write, and code
    assert len(violations(PATIENT, words)) == 3
    assert violations(PROFESSIONAL, words) == ["informal 'je/jij': 'Jouw doelen'"]
    assert violations(MEMBER, ["Hoe gaat het met je?", "uur", "Uitnodiging", "(u)"]) == ["formal 'u': '(u)'"]


def test_no_dutch_text_mixes_the_two_registers() -> None:
    mixed = [t for t in dutch_texts() if FORMAL.search(t) and INFORMAL.search(t)]
    assert mixed == []
