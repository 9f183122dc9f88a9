"""Cheaper page rendering (issue 16) without a different page: the icons made in Python write what the macros
wrote, the overview sorts its goals and members once, and `url_for` asks the URL map once per endpoint whether it
takes the launch's context id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask, g, url_for
from flask_babel import Babel

from fhir_mappings.codes import GoalLifecycle, GoalTerm, GroupStatus, LifeArea, MemberRole
from fhir_mappings.model import Goal
from plugin.goals import views as goal_views
from plugin.group.views import goal_tree
from plugin.web.context import init_page_context
from tests.support.ui import READ_SCOPES, launched

# The macros of templates/_icons.html before they were made in Python (plugin.web.context), word for word.
OLD_ICON_MACROS = """
{% macro icon(name, size=20) -%}
<img class="icon" src="{{ icon_src(name) }}" alt="" aria-hidden="true" width="{{ size }}" height="{{ size }}">
{%- endmacro %}
{% macro area_icon(area) -%}{{ icon('area-' ~ (area.value if area else 'anders')) }}{%- endmacro %}
{% macro role_icon(roles) -%}
{%- set values = roles|map(attribute='value')|list -%}
{{ icon('role-regisseur' if 'regisseur' in values
        else 'role-regieondersteuner' if 'regieondersteuner' in values else 'role-lid') }}
{%- endmacro %}
{% macro status_icon(value) -%}
{%- set names = {'active': 'status-ok', 'completed': 'status-ok', 'forming': 'status-forming',
                 'proposed': 'status-forming',
                 'planned': 'status-planned', 'accepted': 'status-planned', 'on-hold': 'status-paused',
                 'ended': 'status-ended', 'cancelled': 'status-ended', 'rejected': 'status-ended',
                 'entered-in-error': 'status-ended'} -%}
{{ icon(names.get(value, 'status-planned'), 16) }}
{%- endmacro %}
{% macro status_badge(value, text) -%}
<span class="badge status-{{ value }}">{{ status_icon(value) }}{{ text }}</span>
{%- endmacro %}
"""
CALLS = (
    "{{ icon('members') }}{{ icon('goal', 18) }}{{ icon('x&y <z>', '16') }}"
    "{% for a in areas %}{{ area_icon(a) }}{% endfor %}"
    "{% for r in roles %}{{ role_icon(r) }}{% endfor %}"
    "{% for s in statuses %}{{ status_icon(s) }}{{ status_badge(s, 'word <b>') }}{% endfor %}"
)


@pytest.fixture
def app() -> Flask:
    flask_app = Flask("plugin.app", root_path=str(Path(__file__).resolve().parents[3] / "plugin"))
    Babel(flask_app)
    init_page_context(flask_app)
    return flask_app


def test_the_icons_write_what_the_macros_wrote(app: Flask) -> None:
    values = {
        "areas": [None, LifeArea.WONEN, LifeArea.ANDERS],
        "roles": [[MemberRole.LID], [MemberRole.LID, MemberRole.REGIEONDERSTEUNER], [MemberRole.REGISSEUR], []],
        "statuses": [*(s.value for s in GroupStatus), *(s.value for s in GoalLifecycle), "unknown"],
    }
    with app.test_request_context("/"):
        old = app.jinja_env.from_string(OLD_ICON_MACROS + CALLS).render(**values)
        new = app.jinja_env.from_string(
            '{% from "_icons.html" import icon, area_icon, role_icon, status_icon, status_badge %}' + CALLS
        ).render(**values)
    assert new == old.lstrip()  # the macro definitions leave blank lines before the calls
    assert 'src="/static/icons/x%26y%20%3Cz%3E.svg"' in new and "word &lt;b&gt;" in new


def goal(uid: str, term: GoalTerm, parent: str | None = None) -> Goal:
    return Goal(uid=uid, text=uid, term=term, parent_uid=parent)


def test_the_overview_lists_each_long_goal_with_its_steps_then_the_loose_goals() -> None:
    goals = [
        goal("loose-1", GoalTerm.KORT),
        goal("long-1", GoalTerm.LANG),
        goal("step-1b", GoalTerm.KORT, "long-2"),
        goal("long-2", GoalTerm.LANG),
        goal("step-1a", GoalTerm.KORT, "long-1"),
        goal("step-2", GoalTerm.KORT, "long-2"),
        goal("loose-2", GoalTerm.KORT),
    ]
    tree = goal_tree(goals)
    assert [g.uid for g in tree.long_goals] == ["long-1", "long-2"]
    assert {k: [g.uid for g in v] for k, v in tree.steps.items()} == {
        "long-1": ["step-1a"],
        "long-2": ["step-1b", "step-2"],
    }
    assert [g.uid for g in tree.loose] == ["loose-1", "loose-2"]


def test_the_overview_shows_steps_under_their_goal_and_the_nominees(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        nominated = env.post("/leden/nomineren/naaste", {"name": "Peter de Groot", "relationship": "FRND"})
        assert nominated.status_code == 303
        page = env.get("/").get_data(as_text=True)
        goals = re.search(r'<ul class="goal-list">(.*?)</section>', page, re.S)
        assert goals is not None
        assert '<ul class="goal-steps">' in goals.group(1)  # the demo group has steps under a long-term goal
        members = re.search(r'<h2 id="members-h">(.*?)</section>', page, re.S)
        assert members is not None
        current, nominees = members.group(1).split('<h3 class="subhead">Genomineerd, nog geen lid</h3>')
        assert "Peter de Groot" in nominees and "Peter de Groot" not in current
        assert current.count("<li>") >= 3 and nominees.count("<li>") == 1


def test_url_for_asks_the_url_map_once_per_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        asked: list[str] = []
        real = env.app.url_map.is_endpoint_expecting

        def counted(endpoint: str, *arguments: str) -> bool:
            asked.append(endpoint)
            return real(endpoint, *arguments)

        monkeypatch.setattr(env.app.url_map, "is_endpoint_expecting", counted)
        for _ in range(3):
            assert env.get("/").status_code == 200
        assert asked and len(asked) == len(set(asked))  # each endpoint once, however many links and pages
        with env.app.test_request_context("/"):
            g.launch = type("Launch", (), {"context_id": "ctx-1"})()
            assert url_for("goals.index") == "/c/ctx-1/doelen"
            assert url_for("goals.index", context_id="other") == "/c/other/doelen"
            assert url_for("static", filename="app.css") == "/static/app.css"


def test_a_goal_page_makes_only_the_forms_it_offers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    for name in ("EditGoalForm", "NoteForm", "ScoreForm"):
        real = getattr(goal_views, name)
        monkeypatch.setattr(goal_views, name, type(name, (real,), {"__init__": _counting(real, made, name)}))
    with launched(tmp_path, patient="sanne-bakker", scopes=READ_SCOPES) as env:
        overview = env.get("/").get_data(as_text=True)
        path = re.search(r'href="(/c/[^"]+/doelen/[^"]+)"', overview)
        assert path is not None
        page = env.get(path.group(1))
        assert page.status_code == 200
        assert made == [] and "<textarea" not in page.get_data(as_text=True)  # view only: no form offered
    with launched(tmp_path / "write", patient="sanne-bakker") as env:
        path = re.search(r'href="(/c/[^"]+/doelen/[^"]+)"', env.get("/").get_data(as_text=True))
        assert path is not None
        assert env.get(path.group(1)).status_code == 200
        assert sorted(made) == ["EditGoalForm", "NoteForm", "ScoreForm"]


def _counting(real: type, made: list[str], name: str) -> object:
    def init(self: object, *args: object, **kwargs: object) -> None:
        made.append(name)
        real.__init__(self, *args, **kwargs)  # type: ignore[misc]

    return init
