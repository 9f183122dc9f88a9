"""WTForms writes attributes through `plugin.web.widgets.fast_html_params` (issue 16): the same text as WTForms'
own `html_params` for every kind of argument, and the app's fields render through it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wtforms.widgets
import wtforms.widgets.core
from flask import Flask
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField

from plugin.web import widgets
from plugin.web.forms import BaseForm

CASES: list[dict[str, object]] = [
    {},
    {"id": "name", "name": "name", "type": "text", "value": "Ann"},
    {"class_": "big", "for_": "x", "data_some_thing": "1", "aria_describedby": "a-hint b-error"},
    {"checked": True, "disabled": False, "required": True, "value": 0, "maxlength": 200},
    {"value": "<script>\"&'", "title": Markup("<b>kept</b>"), "placeholder": None},
    {"label": _l("Overview"), "data_x": 1.5, "aria-describedby": "a b", "Z": "z", "a": "a"},
]


@pytest.fixture
def app() -> Iterator[Flask]:
    flask_app = Flask(__name__)
    flask_app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    Babel(flask_app, locale_selector=lambda: "nl")
    yield flask_app


@pytest.mark.parametrize("kwargs", CASES)
def test_the_same_attributes_as_wtforms_writes(app: Flask, kwargs: dict[str, object]) -> None:
    with app.test_request_context():
        ours = widgets.fast_html_params(**kwargs)
        theirs = widgets.ORIGINAL_HTML_PARAMS(**kwargs)
        assert ours == theirs and isinstance(ours, Markup)
        assert widgets.fast_html_params(**kwargs) == theirs  # names kept from the first time


class Everything(BaseForm):
    text = StringField(_l("Name"), render_kw={"data_counter": "200"})
    area = TextAreaField("Why <this>")
    pick = SelectField("Pick", choices=[("a", "A & B"), ("b", '"quoted"')])
    radio = RadioField("Score", choices=[(str(n), str(n)) for n in range(3)])
    agree = BooleanField("Agree")


def rendered(form: Everything) -> str:
    return "".join(str(part) for f in form for part in (f.label(), f(aria_describedby="h"), f(class_="x")))


def test_the_app_renders_its_fields_through_it(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    widgets.install()
    assert wtforms.widgets.core.html_params is widgets.fast_html_params
    assert wtforms.widgets.html_params is widgets.fast_html_params
    assert wtforms.widgets.core.Input.html_params is widgets.fast_html_params
    with app.test_request_context(method="POST", data={"text": 'A "b"', "pick": "b", "radio": "1", "agree": "y"}):
        form = Everything()
        form.validate()
        ours = rendered(form)
        # What WTForms itself writes, with its own function everywhere.
        monkeypatch.setattr(wtforms.widgets.core, "html_params", widgets.ORIGINAL_HTML_PARAMS)
        monkeypatch.setattr(wtforms.widgets, "html_params", widgets.ORIGINAL_HTML_PARAMS)
        for widget in (wtforms.widgets.core.Input, wtforms.widgets.core.Button):
            monkeypatch.setattr(widget, "html_params", staticmethod(widgets.ORIGINAL_HTML_PARAMS))
        assert rendered(form) == ours
    assert 'value="A &#34;b&#34;"' in ours and 'data-counter="200"' in ours
