"""A select asks once per class how to call its `render_option` (issue 16: WTForms read the method's signature on
every select it rendered); the options are written as before, for WTForms' own method and for overrides."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from wtforms import SelectField
from wtforms.widgets.core import Select

from plugin.web import widgets
from plugin.web.forms import BaseForm


class Marked(Select):
    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Any:
        return super().render_option(choice, data_marked="1", **kwargs)


class Sample(BaseForm):
    plain = SelectField("Plain", choices=[("", "none"), ("a", "A <&>")], default="a")
    marked = SelectField("Marked", choices=[("x", "X"), ("y", 'Say "y"')], widget=Marked())


def test_selects_write_what_wtforms_writes_and_ask_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    widgets.install()
    with app.test_request_context("/"):
        form = Sample()
        ours = (form.plain(), form.marked())
        assert 'data-marked="1"' in ours[1] and '<option selected value="a">A &lt;&amp;&gt;</option>' in ours[0]
        asked: list[type] = []
        original = widgets._ORIGINAL_DISPATCH.__func__

        def counted(cls: type) -> Any:
            asked.append(cls)
            return original(cls)

        monkeypatch.setattr(widgets, "_DISPATCH", {})
        monkeypatch.setattr(widgets, "_ORIGINAL_DISPATCH", classmethod(counted))
        for _ in range(3):
            assert (form.plain(), form.marked()) == ours
        assert asked == [Select, Marked]
        monkeypatch.setattr(Select, "_dispatch_render_option", widgets._ORIGINAL_DISPATCH)
        assert (form.plain(), form.marked()) == ours  # WTForms' own way writes the same
