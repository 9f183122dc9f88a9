"""The `field`, `radios` and `describedby` of `_forms.html` are written in Python (`plugin.web.fields`, issue 16):
the same markup as the macros they replace wrote, for every state of a field (hint, description, errors, required,
a class, text that needs escaping), but for the blank space between elements."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional

from plugin.i18n import init_i18n
from plugin.web.context import init_page_context
from plugin.web.forms import BaseForm

# The macros of templates/_forms.html before they were written in Python, word for word.
OLD_MACROS = """
{% macro describedby(f, hint) -%}
{%- set ids = [] -%}
{%- if hint or f.description %}{% set _ = ids.append(f.id ~ '-hint') %}{% endif -%}
{%- if f.errors %}{% set _ = ids.append(f.id ~ '-error') %}{% endif -%}
{{ ids | join(' ') }}
{%- endmacro %}

{% macro field(f, hint=None, class_="") -%}
<div class="field{% if f.errors %} field-error{% endif %} {{ class_ }}">
  {{ f.label() }}{% if f.flags.required %} <span class="required">({{ _("required") }})</span>{% endif %}
  {% if hint or f.description %}<p class="hint" id="{{ f.id }}-hint">{{ hint or f.description }}</p>{% endif %}
  {% if f.errors %}<p class="error-message" id="{{ f.id }}-error">{% for e in f.errors %}{{ e }} {% endfor %}</p>{% endif %}
  {% set extra = {} %}
  {% if f.errors %}{% set _ = extra.update({'aria-invalid': 'true'}) %}{% endif %}
  {% set db = describedby(f, hint) %}
  {% if db %}{% set _ = extra.update({'aria-describedby': db}) %}{% endif %}
  {{ f(**extra) }}
</div>
{%- endmacro %}

{% macro radios(f, hint=None) -%}
{%- set db = describedby(f, hint) -%}
<fieldset class="field radios{% if f.errors %} field-error{% endif %}"{% if db %} aria-describedby="{{ db }}"{% endif %}>
  <legend>{{ f.label.text }}</legend>
  {% if hint or f.description %}<p class="hint" id="{{ f.id }}-hint">{{ hint or f.description }}</p>{% endif %}
  {% if f.errors %}<p class="error-message" id="{{ f.id }}-error">{% for e in f.errors %}{{ e }} {% endfor %}</p>{% endif %}
  {% for option in f %}<div class="radio">{{ option() }} {{ option.label() }}</div>{% endfor %}
</fieldset>
{%- endmacro %}
"""  # noqa: E501 - word for word
CALLS = """
{{ field(form.text) }}{{ field(form.text, "A <hint> & more") }}{{ field(form.text, class_='wide "x"') }}
{{ field(form.note, hint=_("required")) }}{{ field(form.plain) }}{{ field(form.plain, None, "c") }}
{{ field(form.odd_id) }}{{ field(form.area) }}{{ field(form.area, "") }}
{{ radios(form.score) }}{{ radios(form.score, "Pick <one>") }}{{ radios(form.term) }}{{ radios(form.term, hint=None) }}
[{{ describedby(form.text, None) }}][{{ describedby(form.text, "h") }}][{{ describedby(form.odd_id, None) }}]
"""


class Sample(BaseForm):
    text = StringField(_l("Goal"), validators=[InputRequired()], description=_l("In <your> own words"))
    note = TextAreaField("Note & more", validators=[Optional()], render_kw={"rows": 3})
    plain = StringField("Plain")
    odd_id = StringField('Odd "id"', id='a&b"<c>', description="d")
    area = SelectField("Area", choices=[("", "none"), ("w", "Wonen <&>"), ("x", 'Say "x"')], default="w")
    score = RadioField("Score", choices=[(str(n), str(n)) for n in range(11)], validators=[InputRequired()])
    term = RadioField("Term <t>", choices=[("lang", "Long"), ("kort", "Short")], default="kort", description="Which")


@pytest.fixture
def app() -> Flask:
    flask_app = Flask("plugin.app", root_path=str(Path(__file__).resolve().parents[3] / "plugin"))
    flask_app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    init_i18n(flask_app)
    init_page_context(flask_app)
    return flask_app


def _blank_space_folded(html: str) -> str:
    return re.sub(r">\s+<", "> <", re.sub(r"\s+", " ", html)).strip()


def _both(app: Flask, form: Sample) -> tuple[str, str]:
    old = app.jinja_env.from_string(OLD_MACROS + CALLS).render(form=form)
    imported = '{% from "_forms.html" import field, radios, describedby %}'
    new = app.jinja_env.from_string(imported + CALLS).render(form=form)
    return _blank_space_folded(old), _blank_space_folded(new)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_fields_write_what_the_macros_wrote(app: Flask, lang: str) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        old, new = _both(app, Sample())
    assert new == old
    assert ("(verplicht)" if lang == "nl" else "(required)") in new
    assert 'aria-describedby="text-hint"' in new and "A &lt;hint&gt; &amp; more" in new
    assert "In <your> own words" in new  # a lazy text counts as markup (Flask-Babel's `__html__`), as it did


def test_the_fields_with_errors_write_what_the_macros_wrote(app: Flask) -> None:
    with app.test_request_context("/", method="POST", data={"area": "nope", "score": "12", "odd_id": "<x>"}):
        form = Sample()
        assert not form.validate()
        form.plain.errors = ["Too <long>", "Second & last"]
        form.odd_id.errors = ["Bad"]
        old, new = _both(app, form)
    assert new == old
    assert 'aria-describedby="score-error"' in new and 'aria-invalid="true"' in new
    assert "Too &lt;long&gt; Second &amp; last" in new and 'id="a&amp;b&#34;&lt;c&gt;-error"' in new
