"""The Dutch texts of the app: every catalog's translations (support for the language tests)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = ROOT / "plugin"


def catalog_files() -> list[Path]:
    return sorted(PLUGIN.glob("translations/nl/LC_MESSAGES/messages.po")) + sorted(
        PLUGIN.glob("*/translations/nl/LC_MESSAGES/messages.po")
    )


@cache
def translations() -> dict[str, str]:
    """English msgid (the singular for plurals) -> its Dutch text (plural forms joined by ' | ')."""
    found: dict[str, str] = {}
    for path in catalog_files():
        with path.open("rb") as fh:
            catalog = read_po(fh)
        for message in catalog:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            text = message.string if isinstance(message.string, str) else " | ".join(message.string or ())
            found.setdefault(key, text)
    return found


def dutch_texts() -> list[str]:
    return [t for t in translations().values() if t]


def template_files() -> list[Path]:
    return sorted(PLUGIN.glob("templates/**/*.html")) + sorted(PLUGIN.glob("*/templates/**/*.html"))
