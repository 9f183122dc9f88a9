"""One word per thing (issue 15): a list of (the word we use, the words we do not use for the same thing), checked
across every Dutch catalog text, the CodeSystem displays, the templates and the services' activity texts (the
Dutch "what was done" of each save, kept in its Provenance and shown in the record).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fhir_mappings.codes import all_codesystems
from tests.unit.language.catalogs import template_files, translations

# (the word, what it stands for, a pattern of the synonyms that must not appear)
WORDS: tuple[tuple[str, str, str], ...] = (
    ("afgezegd / afzeggen", "a meeting or interview that does not take place", r"\bvervall|\bvervalt\b|annule"),
    (
        "wijzigen",
        "the action of changing something",
        r"\bveranderen\b|\bveranderd\b|\baanpass|\baangepast|\bbijwerken\b|\bbijgewerkt\b",
    ),
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


SERVICES = Path(__file__).resolve().parents[3] / "plugin" / "services"


def activity_texts(path: Path) -> list[str]:
    """The activity texts of one service module, read from its source: the `activity` argument of every
    `act(...)` call and the text (and reason) of every `Activity(...)`, following names, subscripts, conditional
    expressions, dicts and tuples back to their string constants."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        assigned.setdefault(name.id, []).append(node.value)
    found: list[str] = []
    seen: set[int] = set()

    def collect(node: ast.expr) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.Name):
            for value in assigned.get(node.id, []):
                collect(value)
        elif isinstance(node, ast.Subscript):
            collect(node.value)
        elif isinstance(node, ast.IfExp):
            collect(node.body)
            collect(node.orelse)
        elif isinstance(node, ast.Dict):
            for value in node.values:
                collect(value)
        elif isinstance(node, ast.Tuple | ast.List):
            for value in node.elts:
                collect(value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Activity":
            for arg in node.args[:1]:
                collect(arg)
            for keyword in node.keywords:
                if keyword.arg == "reason":
                    collect(keyword.value)

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name == "act" and len(node.args) >= 4:
            collect(node.args[3])
        elif name == "Activity":
            collect(node)
    return found


def service_texts() -> list[tuple[str, str]]:
    return [(f"{path.name}: activity", text) for path in sorted(SERVICES.glob("*.py")) for text in activity_texts(path)]


def texts() -> list[tuple[str, str]]:
    """(where, Dutch text) for every catalog text, CodeSystem display, template's literal text and service
    activity text."""
    found = [(f"msgid {msgid!r}", PLACEHOLDER.sub("", text)) for msgid, text in translations().items() if text]
    for system in all_codesystems():
        found += [(f"{system['id']} {c['code']}", c["display"]) for c in system.get("concept", [])]
    for path in template_files():
        literal = TEMPLATE_CODE.sub(" ", path.read_text(encoding="utf-8"))
        found += [(path.name, line.strip()) for line in literal.splitlines() if line.strip()]
    return found + service_texts()


@pytest.mark.parametrize(("word", "thing", "avoid"), WORDS, ids=[w for w, _, _ in WORDS])
def test_one_word_per_thing(word: str, thing: str, avoid: str) -> None:
    pattern = re.compile(avoid, re.IGNORECASE)
    wrong = [f"{where}: {text}" for where, text in texts() if pattern.search(text)]
    assert wrong == [], f"say '{word}' for {thing}:\n" + "\n".join(wrong)


def test_the_activity_texts_are_read_from_the_services() -> None:
    found = [text for _, text in service_texts()]
    # One of each way a service names its activity: a literal, a name, a conditional, a dict, a tuple, Activity().
    for text in (
        "Doel gewijzigd",
        "Bijeenkomst gepland met een nieuwe plek",
        "Verslag van de bijeenkomst geschreven",
        "Groep heropend",
        "Genomineerde is lid geworden van de resourcegroep",
        "Resourcegroep gestart",
        "Regieondersteuning overgenomen",
    ):
        assert text in found
    assert len(found) >= 40


def test_the_list_catches_a_synonym() -> None:
    pattern = re.compile(WORDS[0][2], re.IGNORECASE)
    assert pattern.search("De bijeenkomst is vervallen.") and not pattern.search("De bijeenkomst is afgezegd.")
    assert re.search(WORDS[2][2], "Laatste score: 5", re.IGNORECASE)
