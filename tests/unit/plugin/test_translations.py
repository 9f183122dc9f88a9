"""Every text the pages can show has a Dutch translation, in every catalog (the app's and each area's).

The msgids are extracted from the code and templates here, the same way tools/translations.py does, so a
text added without a translation fails this test instead of showing up in English on a Dutch page.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("translations_tool", ROOT / "tools" / "translations.py")
assert _spec is not None and _spec.loader is not None
tool = importlib.util.module_from_spec(_spec)
sys.modules["translations_tool"] = tool
_spec.loader.exec_module(tool)

CATALOGS = tool.catalogs()
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}


def _method_map(mapping: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for line in mapping:
        method, pattern = line.strip("[]").split(": ", 1)
        out.append((pattern, method))
    return out


def used_msgids(mapping: tuple[str, ...]) -> set[str]:
    """Msgids the sources of one catalog use (plural forms: the singular)."""
    found: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT, _method_map(mapping), keywords=KEYWORDS, options_map={p: {} for p, _ in _method_map(mapping)}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize("name", sorted(CATALOGS))
def test_catalog_is_complete_and_compiled(name: str) -> None:
    folder, mapping = CATALOGS[name]
    with (folder / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh, locale="nl")
    with (folder / "nl" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    po_messages = {_key(m.id): _key(m.string) for m in po if m.id}
    mo_messages = {_key(m.id): _key(m.string) for m in mo if m.id}
    assert po_messages == mo_messages, f"{name}: run tools/translations.py compile"
    assert not [m.id for m in po if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    assert not [m.id for m in po if m.id and m.fuzzy]
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in po if m.id}
    missing = used_msgids(mapping) - ids
    assert not missing, f"{name}: texts without a Dutch translation: {sorted(missing)[:10]}"


def test_the_app_loads_every_catalog() -> None:
    from plugin.app import translation_directories

    loaded = translation_directories().split(";")
    for folder, _mapping in CATALOGS.values():
        assert str(folder) in loaded


def test_a_text_means_the_same_in_every_catalog() -> None:
    """Flask-Babel merges the catalogs, so a msgid translated two ways shows whichever catalog loads last: one
    word on one page, another word on the next. Every msgid gets one Dutch text across all catalogs."""
    seen: dict[tuple[object, object], dict[str, object]] = {}
    for name, (folder, _mapping) in CATALOGS.items():
        with (folder / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            for message in read_po(fh):
                if message.id:
                    seen.setdefault((_key(message.id), message.context), {})[name] = _key(message.string)
    clashes = {key: found for key, found in seen.items() if len(set(found.values())) > 1}
    assert clashes == {}
