"""Write the conformance package and the claimed-profile rule sets as JSON (developer tool; CI checks the result).

    .venv/bin/python tools/conformance_build.py           # (re)write fhir_mappings/conformance/{package,claimed}/
    .venv/bin/python tools/conformance_build.py --check   # exit 1 when the committed files differ from the build

The source is `fhir_mappings/conformance/definitions.py` (plain Python, no SUSHI: see docs/conformance.md);
tests/unit/conformance/test_package.py runs the same comparison as `--check`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "fhir_mappings" / "conformance"
INIT = '"""Data files (JSON) written by tools/conformance_build.py; do not edit by hand."""\n'


def render(resource: object) -> str:
    """The one JSON text form of a built file."""
    return json.dumps(resource, ensure_ascii=False, indent=2) + "\n"


def built() -> dict[Path, str]:
    """Every file the build writes: path -> text."""
    if os.environ.get("RESOURCEGROEP_CANONICAL_BASE"):
        raise SystemExit("build with the default canonical base (unset RESOURCEGROEP_CANONICAL_BASE)")
    from fhir_mappings.conformance.definitions import claimed, package

    out: dict[Path, str] = {}
    for folder, files in (("package", package()), ("claimed", claimed())):
        out[OUT / folder / "__init__.py"] = INIT
        for name, resource in files.items():
            out[OUT / folder / name] = render(resource)
    return out


def stale() -> list[str]:
    """Files that differ from the build, are missing, or are left over from an earlier build."""
    want = built()
    problems = [str(p.relative_to(ROOT)) for p, text in want.items() if not p.exists() or p.read_text("utf-8") != text]
    for folder in ("package", "claimed"):
        for path in sorted((OUT / folder).glob("*.json")):
            if path not in want:
                problems.append(f"{path.relative_to(ROOT)} (not built any more)")
    return problems


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = stale()
        for p in problems:
            print(f"stale: {p}")
        return 1 if problems else 0
    want = built()
    for folder in ("package", "claimed"):
        (OUT / folder).mkdir(exist_ok=True)
        for path in (OUT / folder).glob("*.json"):
            if path not in want:
                path.unlink()
    for path, text in want.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(want)} files under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
