"""A pyinstrument profile of the context view, of the patient's home (as the patient), of a save (one goal note) and
of that note posted to the app's form, for one group size.

    .venv/bin/pip install -e ".[test]"   # pyinstrument is in the test extras, not a dependency of the app
    .venv/bin/python bench/profile_views.py [--size large] [--views 5] [--saves 3] [--out bench/profiles/x.txt]

The same setup as bench/bench_views.py (the sandbox store in this process, the group written by the app's
mapping, no proxy). The text output goes with each change that claims a speed-up (bench/profiles/).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_views import USER, as_user, new_patient, point_launch
from pyinstrument import Profiler

from fhir_mappings.model import ResourceGroup
from plugin.sync.client import FhirClient
from plugin.sync.outbox import SqliteOutbox
from plugin.sync.repository import GroupRepository
from tests.support.ui import launched


def _note_on_first_goal(group: ResourceGroup) -> None:
    group.add_goal_note(group.goals[0].uid, "bench", datetime.now(UTC))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--read-timeout", type=float, default=None, help="the FHIR clients' read timeout (s)")
    args = parser.parse_args()
    if args.read_timeout is not None:
        defaults = dict(FhirClient.__init__.__kwdefaults__ or {})
        defaults["read_timeout"] = args.read_timeout
        FhirClient.__init__.__kwdefaults__ = defaults  # every client made from here on, the app's too
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, launched(Path(tmp), seed=False, patient="none") as env:
        pid, _ = new_patient(env.fhir_base, args.size)
        point_launch(env, iss=env.fhir_base, patient=pid)
        for _ in range(3):  # warm: capabilities known, templates compiled
            env.get("/")
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.views):
            env.get("/")
        profiler.stop()
        view = profiler.output_text(unicode=False, color=False)
        as_user(env, f"Patient/{pid}")  # the patient's home: a page from the patient's view of the group
        env.get("/")
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.views):
            if env.get("/").status_code != 200:
                raise RuntimeError("the patient's home did not answer 200")
        profiler.stop()
        home = profiler.output_text(unicode=False, color=False)
        as_user(env, USER)
        repo = GroupRepository(
            client=FhirClient(env.fhir_base),
            patient_id=pid,
            user=USER,
            outbox=SqliteOutbox(Path(tmp) / "o.sqlite"),
            capabilities=env.app.extensions["resourcegroep"]["capabilities"],
        )
        profiler = Profiler(interval=0.0005)
        for _ in range(args.saves):
            loaded = repo.load()
            profiler.start()
            repo.save(loaded, _note_on_first_goal, "notitie")
            profiler.stop()
        save = profiler.output_text(unicode=False, color=False)
        goal = repo.load().group.goals[0].uid  # type: ignore[union-attr]  # the bench's group has goals
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for n in range(args.saves):  # the same note through the app's form: the POST's load of the newest scores too
            if env.post(f"/doelen/{goal}/notitie", {"note": f"profile {n}"}).status_code != 303:
                raise RuntimeError("the note's POST was not saved")
        profiler.stop()
        posted = profiler.output_text(unicode=False, color=False)
    text = (
        f"# context view, {args.size} group, {args.views} views\n{view}\n"
        f"# the patient's home, as the patient, {args.size} group, {args.views} views\n{home}\n"
        f"# save of one goal note, {args.size} group, {args.saves} saves\n{save}\n"
        f"# the same note posted to the app's form, {args.size} group, {args.saves} POSTs\n{posted}"
    )
    if args.out is not None:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
