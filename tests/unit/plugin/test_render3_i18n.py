"""Translating cheaper (issue 16, session 9): the lazy texts of forms (`plugin.i18n.lazy_gettext`) and the request's
locale (`request_locale`) give what Flask-Babel gives, in either language and under `force_locale`, and a page's
form labels look the catalog up once per request, not once per label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask_babel
import pytest
from flask import Flask, render_template_string
from flask_babel import force_locale

from plugin.app import create_app
from plugin.config import AppConfig
from plugin.goals.forms import EditGoalForm, ScoreForm
from plugin.i18n import lazy_gettext, request_locale
from plugin.web.forms import SHOWN_ONLY
from tests.unit.plugin.test_render_i18n import count_catalog_lookups

TEXTS = ("Overview", "Members", "Term", "not a msgid of the catalog")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield create_app(AppConfig(public_base_url="http://app.test", secret_key="k" * 40, outbox_db=str(tmp_path / "o")))


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_lazy_texts_are_flask_babels(app: Flask, lang: str) -> None:
    ours = [lazy_gettext(t) for t in TEXTS] + [lazy_gettext("%(score)d out of 10", score=3)]
    theirs = [flask_babel.lazy_gettext(t) for t in TEXTS] + [flask_babel.lazy_gettext("%(score)d out of 10", score=3)]
    with app.test_request_context(f"/?lang={lang}"):
        assert [str(t) for t in ours] == [str(t) for t in theirs]
        assert render_template_string("{% for t in ts %}{{ t }}|{% endfor %}", ts=ours) == render_template_string(
            "{% for t in ts %}{{ t }}|{% endfor %}", ts=theirs
        )
        with force_locale("en"):
            assert str(lazy_gettext("Overview")) == "Overview"
        if lang == "nl":
            assert str(ours[0]) == "Overzicht"
    assert str(lazy_gettext("Overview")) == "Overview"  # outside a request: the msgid


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_request_locale_is_flask_babels(app: Flask, lang: str) -> None:
    assert request_locale() is None  # outside an app context, as flask_babel.get_locale()
    with app.test_request_context(f"/?lang={lang}"):
        assert request_locale() == flask_babel.get_locale()
        assert str(request_locale()) == lang
        with force_locale("nl" if lang == "en" else "en"):
            assert request_locale() == flask_babel.get_locale()
            assert str(request_locale()) != lang
        assert str(request_locale()) == lang


def test_form_labels_look_the_catalog_up_once_per_request(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = count_catalog_lookups(monkeypatch)
    with app.test_request_context("/?lang=nl"):
        form = EditGoalForm(formdata=None, meta=SHOWN_ONLY)
        labels = [str(form.text.label.text), str(form.term.label.text), str(form.status.label.text)]
        html = form.life_area.label() + form.due.label() + ScoreForm(formdata=None, meta=SHOWN_ONLY).score.label()
        assert labels == ["Het doel", "Termijn", "Status"] and ">Levensgebied</label>" in html
    assert len(lookups) == 1
