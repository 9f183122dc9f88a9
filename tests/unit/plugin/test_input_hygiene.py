"""Input hygiene through the real app (issue 13): control characters and invisible-only names are refused with a
Dutch message, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ui import launched


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("Team\x00Sanne", "stuurteken"),
        ("\x1b[2JTeam Sanne", "stuurteken"),
        ("\u200b\u200b\u200b", "Vul de naam van de groep in."),
    ],
    ids=["nul", "terminal-escape", "zero-width-only"],
)
def test_a_name_with_control_or_only_invisible_characters_is_refused(tmp_path: Path, typed: str, message: str) -> None:
    with launched(tmp_path) as env:
        teams_before = env.resources("CareTeam")
        response = env.post("/naam", {"name": typed})
        body = response.get_data(as_text=True)
        assert response.status_code == 422, body[-800:]
        assert message in body
        assert env.resources("CareTeam") == teams_before  # nothing written
