"""Keep the Dutch catalogs in step with the code: extract, update and compile (developer tool).

    .venv/bin/python tools/translations.py update      # every catalog: new msgids appear in the .po files
    .venv/bin/python tools/translations.py compile     # .po -> .mo (commit both)
    .venv/bin/python tools/translations.py update members   # one area only

Catalogs: the app's own (plugin/translations: launch, group, web, errors) and one per area package
(plugin/<area>/translations), merged at run time by Flask-Babel. Msgids are English; the .po files
hold the Dutch texts. tests/unit/plugin/test_translations.py fails on any untranslated text.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugin"
MAIN_SOURCES = (
    "[python: plugin/*.py]",
    "[python: plugin/launch/**.py]",
    "[python: plugin/group/**.py]",
    "[python: plugin/web/**.py]",
    "[python: plugin/sync/**.py]",
    "[jinja2: plugin/templates/**.html]",
)


def catalogs() -> dict[str, tuple[Path, tuple[str, ...]]]:
    """name -> (translations folder, babel mapping lines)."""
    found: dict[str, tuple[Path, tuple[str, ...]]] = {"main": (PLUGIN / "translations", MAIN_SOURCES)}
    for folder in sorted(PLUGIN.iterdir()):
        if (folder / "translations").is_dir() and folder.name != "translations":
            found[folder.name] = (
                folder / "translations",
                (f"[python: plugin/{folder.name}/**.py]", f"[jinja2: plugin/{folder.name}/templates/**.html]"),
            )
    return found


def pybabel(*args: str) -> None:
    exe = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(exe), *args], cwd=ROOT, check=True)  # noqa: S603 - our own venv's pybabel, fixed args


def update(name: str, folder: Path, mapping: tuple[str, ...]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as cfg:
        cfg.write("\n".join(mapping) + "\n")
    pot = folder / "messages.pot"
    keywords = ["-k", "_l", "-k", "lazy_gettext", "-k", "template_text"]
    flags = ["--no-location", "--sort-output", "--omit-header", *keywords]
    pybabel("extract", "-F", cfg.name, *flags, "-o", str(pot), ".")
    po = folder / "nl" / "LC_MESSAGES" / "messages.po"
    if po.exists():
        pybabel("update", "-i", str(pot), "-d", str(folder), "-l", "nl", "--no-fuzzy-matching", "--ignore-obsolete")
    else:
        pybabel("init", "-i", str(pot), "-d", str(folder), "-l", "nl")
    print(f"{name}: {po.relative_to(ROOT)}")


def compile_catalog(folder: Path) -> None:
    pybabel("compile", "-d", str(folder), "-l", "nl", "--statistics")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("update", "compile"):
        print(__doc__)
        return 2
    chosen = catalogs()
    if len(argv) > 1:
        chosen = {k: v for k, v in chosen.items() if k in argv[1:]}
    for name, (folder, mapping) in chosen.items():
        if argv[0] == "update":
            update(name, folder, mapping)
        else:
            compile_catalog(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
