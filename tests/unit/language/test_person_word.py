"""The clinic chooses "patiënt" or "cliënt" (configuration `person_word`, issue 15): a care professional's page says
the chosen word everywhere, in the catalogs' texts as well as in the domain's messages; the patient's own pages say
neither about the patient."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from flask_babel import force_locale, gettext

from plugin.app import create_app
from plugin.config import AppConfig, config_from_mapping
from plugin.web.person_word import clinic_words, init_person_word, with_person_word
from smart_launch import ConfigurationError
from tests.support.ui import LaunchedApp, launched
from tests.unit.language.crawl import as_portal_user, words_of

WORD = re.compile(r"\b(?:[Pp]atiënt|[Cc]liënt)\w*")


def person_words(env: LaunchedApp, path: str) -> set[str]:
    """The forms of "patiënt"/"cliënt" on a page (lower case)."""
    page = env.get(path)
    assert page.status_code == 200
    return {w.lower() for w in WORD.findall(" ".join(words_of(page.get_data(as_text=True))))}


def choose(env: LaunchedApp, word: str) -> None:
    """The clinic's word, set as create_app sets it from the configuration."""
    env.app.config["RESOURCEGROEP"] = dataclasses.replace(env.app.config["RESOURCEGROEP"], person_word=word)
    init_person_word(env.app, word)


def test_a_professional_page_names_the_person_with_the_clinics_word(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        for word, other in (("cliënt", "patiënt"), ("patiënt", "cliënt")):
            choose(env, word)
            for path in ("/leden", "/bijeenkomsten/nieuw"):
                found = person_words(env, path)
                assert any(word in w for w in found), (path, found)  # the pages name the person the group is for
                assert not any(other in w for w in found), (path, found)
        # The patient's own pages name them with neither word: they are spoken to.
        choose(env, "cliënt")
        as_portal_user(env, "Patient/sanne-bakker")
        for path in ("/", "/leden"):
            page = " ".join(words_of(env.get(path).get_data(as_text=True)))
            assert not re.search(r"\b(?:de|deze) (?:patiënt|cliënt)", page), path


def test_the_word_is_configured_and_checked(tmp_path: Path) -> None:
    base = {"public_base_url": "https://app.test", "secret_key": "x" * 40}
    assert config_from_mapping({"app": base}, env={}, base_dir=tmp_path).person_word == "patiënt"
    chosen = config_from_mapping({"app": {**base, "person_word": "cliënt"}}, env={}, base_dir=tmp_path)
    assert chosen.person_word == "cliënt"
    by_env = config_from_mapping({"app": base}, env={"RESOURCEGROEP_PERSON_WORD": "cliënt"}, base_dir=tmp_path)
    assert by_env.person_word == "cliënt"
    with pytest.raises(ConfigurationError, match="person_word"):
        config_from_mapping({"app": {**base, "person_word": "klant"}}, env={}, base_dir=tmp_path)
    app = create_app(
        AppConfig(
            public_base_url="http://app.test",
            secret_key="x" * 40,
            outbox_db=str(tmp_path / "outbox.sqlite3"),
            person_word="cliënt",
        )
    )
    with app.test_request_context("/"), force_locale("nl"):
        assert gettext("The patient is the director of the group and always stays a member.").startswith(
            "De cliënt is de regisseur"
        )
        assert clinic_words("Deze patiënt heeft al een resourcegroep.") == "Deze cliënt heeft al een resourcegroep."
    with app.test_request_context("/"), force_locale("en"):
        assert gettext("Patient") == "Patient"


def test_every_form_of_the_word_is_replaced() -> None:
    assert with_person_word("Patiënt: Sanne. De patiënten en het patiëntendossier.", "cliënt") == (
        "Cliënt: Sanne. De cliënten en het cliëntendossier."
    )
    assert with_person_word("de patiënt", "patiënt") == "de patiënt"
