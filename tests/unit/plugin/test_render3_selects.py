"""A select's options written by `plugin.web.widgets.plain_option` (issue 16, session 9) are what WTForms' own
`Select.render_option` writes, for every kind of value and label; selects that write their options their own way
keep doing so."""

from __future__ import annotations

from typing import Any

import pytest
import wtforms.widgets.core
from flask import Flask
from flask_babel import Babel
from markupsafe import Markup
from wtforms import SelectField
from wtforms.fields.choices import Choice, SelectChoice  # type: ignore[attr-defined]  # newer than the stubs
from wtforms.widgets.core import Select

from plugin.i18n import lazy_gettext
from plugin.web import widgets
from plugin.web.forms import BaseForm

VALUES: list[Any] = ["", "a", 'Say "x" <&>', 0, 7, None, True, False, Markup("<b>m</b>")]
LABELS: list[Any] = [None, "", "Label", 'A <&> "b"', Markup("<i>i</i>"), lazy_gettext("Overview")]


class Plain(Select):
    """A select of its own that keeps WTForms' way of writing options."""


class Marked(Select):
    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Any:
        return super().render_option(choice, data_marked="1", **kwargs)


class Sample(BaseForm):
    plain = SelectField(
        "Plain", choices=[SelectChoice("", "none"), SelectChoice("a", "A <&>")], default="a", widget=Plain()
    )
    marked = SelectField("Marked", choices=[SelectChoice("x", "X"), SelectChoice("y", 'Say "y"')], widget=Marked())


def wtforms_option(choice: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patched:
        patched.setattr(wtforms.widgets.core, "html_params", widgets.ORIGINAL_HTML_PARAMS)
        return str(Select.render_option(choice))


def test_options_are_written_as_wtforms_writes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context("/"):
        for value in VALUES:
            for label in LABELS:
                for selected in (False, True):
                    for render_kw in (None, {}, {"disabled": True, "data_x": "<y>"}):
                        choice = Choice(value=value, label=label, selected=selected, render_kw=render_kw)
                        assert widgets.plain_option(choice) == wtforms_option(choice, monkeypatch), choice


def test_selects_of_wtforms_own_way_get_the_plain_writer_and_overrides_keep_theirs() -> None:
    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    widgets.install()
    assert Select._dispatch_render_option() is widgets.plain_option  # type: ignore[attr-defined]
    assert Plain._dispatch_render_option() is widgets.plain_option  # type: ignore[attr-defined]
    assert Marked._dispatch_render_option() is not widgets.plain_option  # type: ignore[attr-defined]
    with app.test_request_context("/"):
        form = Sample()
        assert '<option selected value="a">A &lt;&amp;&gt;</option>' in form.plain()
        assert '<option data-marked="1" value="x">X</option>' in form.marked()
