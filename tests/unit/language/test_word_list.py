"""One word per thing (issue 15): a list of (the word we use, the words we do not use for the same thing), checked
across every Dutch catalog text, the CodeSystem displays and the templates.
"""

from __future__ import annotations

import re

import pytest

from fhir_mappings.codes import all_codesystems
from tests.unit.language.catalogs import template_files, translations

# (the word, what it stands for, a pattern of the synonyms that must not appear)
WORDS: tuple[tuple[str, str, str], ...] = (
    ("afgezegd / afzeggen", "a meeting or interview that does not take place", r"\bvervall|\bvervalt\b|annule"),
    ("wijzigen", "the action of changing something", r"\bveranderen\b|\bveranderd\b|\baanpass|\baangepast"),
    ("cijfer", "the 0-10 mark for a goal's progress", r"\bscores?\b|\bscoren\b|gescoord"),
    ("bijeenkomst", "a meeting of the group", r"\bvergader|\bmeetings?\b|\bsessies? van de groep"),
    ("kennismakingsgesprek", "the talk with a nominee", r"\bintake|\bsollicitatie"),
    ("nomineren", "suggesting someone for the group", r"\bvoordra|\bvoorgedragen|\bvoordracht|\bkandida"),
    ("regieondersteuner", "the care professional who supports the group", r"regie-ondersteun|\bregiebegeleider"),
    ("behandelaar", "a care professional of the clinic", r"\bzorgverlener|\bzorgprofessional"),
    (
        "kernlid / flexibel lid",
        "the fixed core of the group and the others",
        r"\bvast lid\b|\bvaste leden\b|\bvaste kernlid",
    ),
    (
        "afspraak",
        "what someone agreed to do (a meeting is a 'bijeenkomst')",
        r"\bafspraak (?:plannen|verzetten|afzeggen)",
    ),
    ("patiënt", "the person the group is for (the clinic may choose 'cliënt': configuration)", r"cliënt"),
)


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")
# What a template shows as it is: everything but Jinja ({{ }}, {% %}, {# #}) and HTML tags (the texts in
# _("...") are English msgids; their Dutch is in the catalogs).
TEMPLATE_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<[^>]*>", re.DOTALL)


def texts() -> list[tuple[str, str]]:
    """(where, Dutch text) for every catalog text, CodeSystem display and template's literal text."""
    found = [(f"msgid {msgid!r}", PLACEHOLDER.sub("", text)) for msgid, text in translations().items() if text]
    for system in all_codesystems():
        found += [(f"{system['id']} {c['code']}", c["display"]) for c in system.get("concept", [])]
    for path in template_files():
        literal = TEMPLATE_CODE.sub(" ", path.read_text(encoding="utf-8"))
        found += [(path.name, line.strip()) for line in literal.splitlines() if line.strip()]
    return found


@pytest.mark.parametrize(("word", "thing", "avoid"), WORDS, ids=[w for w, _, _ in WORDS])
def test_one_word_per_thing(word: str, thing: str, avoid: str) -> None:
    pattern = re.compile(avoid, re.IGNORECASE)
    wrong = [f"{where}: {text}" for where, text in texts() if pattern.search(text)]
    assert wrong == [], f"say '{word}' for {thing}:\n" + "\n".join(wrong)


def test_the_list_catches_a_synonym() -> None:
    pattern = re.compile(WORDS[0][2], re.IGNORECASE)
    assert pattern.search("De bijeenkomst is vervallen.") and not pattern.search("De bijeenkomst is afgezegd.")
    assert re.search(WORDS[2][2], "Laatste score: 5", re.IGNORECASE)
