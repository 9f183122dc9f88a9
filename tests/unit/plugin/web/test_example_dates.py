"""The forms' example dates lie ahead (an example in the past reads like a mistake), on the form and in its errors."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from fhir_mappings.model import CLINIC_ZONE
from plugin.web.forms import example_date
from tests.support.ui import launched


def test_the_example_date_is_two_weeks_ahead() -> None:
    shown = datetime.strptime(example_date(), "%d-%m-%Y").date()
    assert (shown - datetime.now(CLINIC_ZONE).date()).days == 14


def test_the_goal_form_and_its_date_error_show_a_date_ahead(tmp_path: Path) -> None:
    with launched(tmp_path) as env:
        page = env.get("/doelen/nieuw").get_data(as_text=True)
        assert f"Bijvoorbeeld {example_date()}. Laat leeg als er geen datum is." in page
        refused = env.post("/doelen/nieuw", {"text": "Iets", "term": "kort", "due": "gisteren"}).get_data(as_text=True)
        assert f"Vul een datum in, bijvoorbeeld {example_date()}." in refused
        assert not re.search(r"bijvoorbeeld 22-11-2026", refused + page, re.I)
