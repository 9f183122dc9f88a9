"""Cheaper pages (issue 16, session 9) without a different page: the overview's goal line and the forms' checkbox
and submit button made in Python write what their macros wrote; icons, sparklines and goal charts made once are the
ones made each time (in the request's language); forms made only to be shown carry no CSRF field of their own, and
every form of the page still carries the token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask, g, render_template_string
from markupsafe import Markup
from wtforms import BooleanField

from fhir_mappings.codes import GoalLifecycle, GoalTerm, LifeArea
from fhir_mappings.model import Goal, ProgressScore, ResourceGroup
from plugin.app import create_app
from plugin.config import AppConfig
from plugin.goals import chart
from plugin.goals.chart import ChartPoint, progress_chart, short_dutch_date, sparkline
from plugin.goals.views import chart_for
from plugin.group.views import overview_goal_line
from plugin.i18n import lazy_gettext
from plugin.web import context as page_context
from plugin.web.forms import SHOWN_ONLY, BaseForm
from tests.support.ui import launched

# The overview's goal_line macro (group/overview.html) before it was written in Python, word for word.
OLD_GOAL_LINE = """{% macro goal_line(goal) -%}
<div class="goal-row">
  <span class="goal-text">{{ area_icon(goal.life_area) }}<span>{% if has_endpoint('goals.goal') %}<a href="{{ url_for('goals.goal', goal_uid=goal.uid) }}">{{ goal.text }}</a>{% else %}{{ goal.text }}{% endif %}{% if goal.term.value == 'kort' and not goal.parent_uid %} <span class="muted">({{ label(goal.term) }})</span>{% endif %}</span></span>
  <span class="goal-meta">
    {% set spark = sparklines.get(goal.uid) %}
    {% if spark %}{% set last = last_scores[goal.uid] %}<span class="spark">{{ spark }}<span class="spark-score">{{ _("%(score)d out of 10", score=last.score) }}</span></span>{% endif %}
    {{ status_badge(goal.lifecycle.value, label(goal.lifecycle)) }}
  </span>
</div>
{%- endmacro %}"""  # noqa: E501 - word for word
OLD_CHECKBOX = """{% macro checkbox(f, hint=None) -%}
<div class="field field-check{% if f.errors %} field-error{% endif %}">
  {% set db = describedby(f, hint) %}
  {% if db %}{{ f(**{'aria-describedby': db}) }}{% else %}{{ f() }}{% endif %} {{ f.label() }}
  {% if hint or f.description %}<p class="hint" id="{{ f.id }}-hint">{{ hint or f.description }}</p>{% endif %}
  {% if f.errors %}<p class="error-message" id="{{ f.id }}-error">{% for e in f.errors %}{{ e }} {% endfor %}</p>{% endif %}
</div>
{%- endmacro %}"""  # noqa: E501 - word for word
CHECKBOXES = (
    "{{ checkbox(form.plain) }}|{{ checkbox(form.plain, 'A <hint> & more') }}|{{ checkbox(form.described) }}"
    "|{{ checkbox(form.described, hint='') }}|{{ checkbox(form.odd_id, _('required')) }}|{{ checkbox(form.ticked) }}"
)
OLD_SUBMIT = """{% macro submit(label, class_="button") -%}
<button type="submit" class="{{ class_ }}">{{ label }}</button>
{%- endmacro %}"""
LINES = "{% for goal in goals %}[{{ goal_line(goal) }}]{% endfor %}"
SUBMITS = (
    '{{ submit(_("Save")) }}{{ submit("A <b> & c", "button button-secondary") }}{{ submit(label, class_=\'x "y"\') }}'
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield create_app(AppConfig(public_base_url="http://app.test", secret_key="k" * 40, outbox_db=str(tmp_path / "o")))


def _score(goal_uid: str, score: int, day: int) -> ProgressScore:
    return ProgressScore(
        uid=f"s-{goal_uid}-{day}", goal_uid=goal_uid, when=datetime(2026, 4, day, 9, tzinfo=UTC), score=score
    )


GOALS = [
    Goal(uid="long-1", text="Living on my own", term=GoalTerm.LANG, life_area=LifeArea.WONEN),
    Goal(uid="step-1", text="Find a room", term=GoalTerm.KORT, parent_uid="long-1", lifecycle=GoalLifecycle.ON_HOLD),
    Goal(uid="loose-1", text="Say <b>no</b> & mean it", term=GoalTerm.KORT, lifecycle=GoalLifecycle.COMPLETED),
    Goal(uid="Goal/odd id", text="x", term=GoalTerm.LANG, lifecycle=GoalLifecycle.PROPOSED),
]
SPARKS = {"long-1": Markup('<svg id="a"></svg>'), "step-1": None, "loose-1": Markup("<svg>b</svg>")}
LAST = {"long-1": _score("long-1", 7, 2), "loose-1": _score("loose-1", 10, 3)}


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("links", [True, False])
def test_the_goal_line_writes_what_the_macro_wrote(app: Flask, lang: str, links: bool) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        g.launch = SimpleNamespace(context_id="ctx-1")
        has_endpoint = {} if links else {"has_endpoint": lambda endpoint: False}
        old = render_template_string(
            OLD_GOAL_LINE + LINES, goals=GOALS, sparklines=SPARKS, last_scores=LAST, **has_endpoint
        )
        line = partial(overview_goal_line, sparklines=SPARKS, last_scores=LAST, links=links)
        new = render_template_string(LINES, goals=GOALS, goal_line=line)
    assert new == old
    assert ("/c/ctx-1/doelen/long-1" in new) is links
    assert (
        "Say &lt;b&gt;no&lt;/b&gt; &amp; mean it" in new and ("7 van de 10" if lang == "nl" else "7 out of 10") in new
    )


class Boxes(BaseForm):
    plain = BooleanField("Yes, I am sure")
    described = BooleanField(lazy_gettext("Overview"), description="Only <when> you & they agree")
    odd_id = BooleanField('Odd "id"', id='a&b"<c>')
    ticked = BooleanField("Ticked", default=True)


def test_the_checkbox_writes_what_the_macro_wrote(app: Flask) -> None:
    with app.test_request_context("/?lang=nl"):
        form = Boxes(formdata=None, meta=SHOWN_ONLY)
        for with_errors in (False, True):
            if with_errors:
                for box in form:
                    box.errors = ["Tick <this>", "And & that"]
            old = render_template_string(
                '{% from "_forms.html" import describedby %}' + OLD_CHECKBOX + CHECKBOXES, form=form
            )
            new = render_template_string('{% from "_forms.html" import checkbox %}' + CHECKBOXES, form=form)
            assert new == old
    assert new.count("field-error") == 6 and "Tick &lt;this&gt; And &amp; that" in new and "Overzicht" in new


def test_the_submit_button_writes_what_the_macro_wrote(app: Flask) -> None:
    with app.test_request_context("/?lang=nl"):
        old = render_template_string(OLD_SUBMIT + SUBMITS, label=Markup("<i>Save</i>"))
        new = render_template_string('{% from "_forms.html" import submit %}' + SUBMITS, label=Markup("<i>Save</i>"))
    assert new == old
    assert '<button type="submit" class="x &#34;y&#34;"><i>Save</i></button>' in new


def test_an_icon_made_once_is_the_icon_made_each_time(app: Flask) -> None:
    with app.test_request_context("/"):
        for name, size in [("goal", 20), ("goal", 18), ("x&y <z>", "16"), ("goal", True), ("goal", 1), ("goal", 1.0)]:
            expected = page_context._icon_markup("/static/icons/", name, size)
            assert page_context.icon(name, size) == expected == page_context.icon(name, size)
        assert 'width="True"' in page_context.icon("goal", True) and 'width="1"' in page_context.icon("goal", 1)
        assert 'width="[1]"' in page_context.icon("goal", [1])  # not a key: made each time


def test_a_sparkline_made_once_is_the_line_made_each_time() -> None:
    made = chart._sparkline.__wrapped__
    for title in ("Score: 9 <&>", Markup("Score: 9 &amp; more"), "Score: 9 &amp; more"):
        for scores in ([2, 5, 9], (2, 5, 9), [4]):
            once = sparkline(scores, chart_id="Goal/1", title=title)
            assert once == made(tuple(scores), "Goal/1", title, 10) == sparkline(scores, chart_id="Goal/1", title=title)
    # The same words as text and as markup may escape differently (how depends on the markupsafe version): each is
    # kept as its own line, never the one made first for the other.
    chart._sparkline.cache_clear()
    as_text = sparkline([1], chart_id="t", title="a &amp; b")
    as_markup = sparkline([1], chart_id="t", title=Markup("a &amp; b"))
    assert chart._sparkline.cache_info().currsize == 2
    assert as_text == made((1,), "t", "a &amp; b", 10) and as_markup == made((1,), "t", Markup("a &amp; b"), 10)
    for wrong in ([], [11], [-1]):
        with pytest.raises(ValueError, match="score"):
            sparkline(wrong, chart_id="x", title="t")


def test_a_goal_chart_is_made_in_the_request_language(app: Flask) -> None:
    goal = Goal(uid="goal-1", text="Living on my own", term=GoalTerm.LANG)
    group = ResourceGroup(
        uid="team", plan_uid="plan", patient="Patient/p", name="Group", goals=[goal], progress=[_score("goal-1", 4, 7)]
    )
    points = [ChartPoint(date(2026, 4, 7), 4)]
    seen = {}
    for lang in ("nl", "en", "nl", "en"):
        with app.test_request_context(f"/?lang={lang}"):
            made = chart_for(goal, group.held_scores_for(goal.uid))
            assert made is not None and isinstance(made, Markup)
            seen.setdefault(lang, made)
            assert made == seen[lang]
    assert "07-04-2026" in seen["nl"] and "7 Apr 2026" in seen["en"]
    with app.test_request_context("/?lang=en"):
        assert chart_for(Goal(uid="none", text="t", term=GoalTerm.LANG), group.held_scores_for("none")) is None
        expected = progress_chart(
            points,
            chart_id="goal-1",
            title="Progress on the goal: Living on my own",
            description="1 score, on April 7, 2026. The score was 4 out of 10.",
            date_label=lambda day: day.strftime("%-d %b %Y"),
        )
    assert seen["en"] == expected
    assert short_dutch_date(date(2026, 4, 7)) in str(seen["nl"])


def test_forms_only_shown_have_no_token_field_and_every_form_of_a_page_sends_one(app: Flask, tmp_path: Path) -> None:
    from plugin.goals.forms import NoteForm

    with app.test_request_context("/"):
        assert "csrf_token" not in NoteForm(formdata=None, meta=SHOWN_ONLY)._fields
        assert "csrf_token" in NoteForm(formdata=None)._fields
    with launched(tmp_path, patient="sanne-bakker") as env:
        overview = env.get("/").get_data(as_text=True)
        path = re.search(r'href="(/c/[^"]+/doelen/[^"]+)"', overview)
        assert path is not None
        page = env.get(path.group(1)).get_data(as_text=True)
        forms = re.findall(r'<form method="post".*?</form>', page, re.S)
        assert len(forms) >= 3
        assert all('name="csrf_token" value="' in form for form in forms)
        for form in re.findall(r'<form method="post".*?</form>', overview, re.S):
            assert 'name="csrf_token" value="' in form
