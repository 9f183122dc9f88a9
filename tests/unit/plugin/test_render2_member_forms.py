"""The member page makes only the forms it shows (issue 16: making a form cost more than the page's rendering);
a refused form is shown again as it was sent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugin.members import views as member_views
from tests.support.ui import READ_SCOPES, launched

FORMS = (
    "PlanInterviewForm",
    "RecordInterviewForm",
    "DecisionForm",
    "WithdrawForm",
    "CoreForm",
    "LeaveForm",
    "NominateAgainForm",
)


def _counting(real: type, made: list[str], name: str) -> object:
    def init(self: object, *args: object, **kwargs: object) -> None:
        made.append(name)
        real.__init__(self, *args, **kwargs)  # type: ignore[misc]

    return init


def _member_paths(env: object) -> list[str]:
    members = env.get("/leden").get_data(as_text=True)  # type: ignore[attr-defined]
    return sorted(set(re.findall(r'href="(/c/[^"]+/leden/(?!nomineren)[^"/]+)"', members)))


def test_a_member_page_makes_only_the_forms_it_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    for name in FORMS:
        real = getattr(member_views, name)
        monkeypatch.setattr(member_views, name, type(name, (real,), {"__init__": _counting(real, made, name)}))
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        for path in _member_paths(env):
            assert env.get(path).status_code == 200
        assert made == []  # view only: no form shown, none made
    with launched(tmp_path / "write", patient="sanne-bakker") as env:
        paths = _member_paths(env)
        assert len(paths) >= 3
        for path in paths:
            made.clear()
            page = env.get(path).get_data(as_text=True)
            assert len(made) == len(set(made))  # each at most once
            shown = page.count('method="post"') - 1  # every page's footer has the log-out form
            assert len(made) <= shown < len(FORMS)
