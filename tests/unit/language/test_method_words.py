"""The method's words (regisseur, regieondersteuner, nomineren, kernlid and flexibel lid) are explained on the
first page each reader opens (issue 15): in a <details> element, which the keyboard opens without any script."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.ui import launched
from tests.unit.language.crawl import as_portal_user, words_of

TERMS = ("Regisseur", "Regieondersteuner", "Nomineren", "Kernlid en flexibel lid")


def explanation(html: str) -> list[str]:
    found = re.search(r'<details class="method-words">(.*?)</details>', html, re.DOTALL)
    assert found is not None, "no explanation of the method's words"
    assert re.match(r"\s*<summary>[^<]+</summary>", found.group(1)), "a <summary> opens it from the keyboard"
    return words_of(found.group(1))


def test_the_first_page_of_each_reader_explains_the_methods_words(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        seen = {}
        for who in ("Practitioner/anna-de-vries", "Practitioner/lotte-smit", "Patient/sanne-bakker"):
            if who.startswith("Patient/"):
                as_portal_user(env, who)
            else:
                env.act_as(who)
            seen[who] = explanation(env.get("/").get_data(as_text=True))
    for who, words in seen.items():
        assert all(term in words for term in TERMS), (who, words)
    assert "Dat ben jij." in " ".join(seen["Patient/sanne-bakker"])  # the patient is spoken to
    assert "Sanne, van wie de groep is." in " ".join(seen["Practitioner/anna-de-vries"])


def test_a_care_professional_starting_a_group_reads_them_too(tmp_path: Path) -> None:
    with launched(tmp_path, patient="daan-mulder") as env:
        page = env.get("/").get_data(as_text=True)
    assert "Daan, van wie de groep is." in " ".join(explanation(page))
