"""The clinic's word for the person the group is for: "patiënt" or "cliënt" (configuration `person_word`).

Dutch mental-health care uses both. The Dutch catalogs say "patiënt"; with `person_word = "cliënt"` every Dutch
text the app shows (templates and Python alike) says "cliënt" instead, in every form ("de cliënt", "cliënten",
"Cliënt:"). Both words are "de"-words with the same plural, so the sentence around them stays right. The patient
is never called either on their own pages (they are spoken to as "je"), so this changes what the members and the
care professionals read. English texts keep "patient".
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app

from plugin.config import DEFAULT_PERSON_WORD, PERSON_WORDS

_WORD = re.compile(r"([Pp])atiënt")


def with_person_word(text: str, word: str) -> str:
    """`text` with "patiënt" (any case of its first letter, also inside "patiënten") replaced by `word`."""
    if word == DEFAULT_PERSON_WORD:
        return text
    return _WORD.sub(lambda m: (word[0].upper() if m.group(1) == "P" else word[0]) + word[1:], text)


class _PersonWordCache(dict[Any, Any]):
    """Flask-Babel's cache of loaded translations, rewriting the Dutch ones once as they are loaded."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    def __setitem__(self, key: Any, translations: Any) -> None:
        locale = str(key[0]) if isinstance(key, tuple) else str(key)
        catalog = getattr(translations, "_catalog", None)
        if locale.startswith("nl") and isinstance(catalog, dict):
            for msgid, text in catalog.items():
                if isinstance(text, str) and msgid:
                    catalog[msgid] = with_person_word(text, self.word)
        super().__setitem__(key, translations)


def clinic_words(text: str) -> str:
    """A Dutch text made outside the catalogs (e.g. a refusal from the domain) in the clinic's word."""
    config = current_app.config.get("RESOURCEGROEP")
    return with_person_word(text, getattr(config, "person_word", DEFAULT_PERSON_WORD))


def init_person_word(app: Flask, word: str) -> None:
    """Make every Dutch text of `app` use the clinic's word (the default keeps the catalogs as they are)."""
    if word not in PERSON_WORDS:
        raise ValueError(f"person_word must be one of {PERSON_WORDS}, not {word!r}")
    with app.app_context():  # Flask-Babel makes its domain (and its translation cache) inside an app
        domain = app.extensions["babel"].instance.domain_instance
    domain.cache = {} if word == DEFAULT_PERSON_WORD else _PersonWordCache(word)
