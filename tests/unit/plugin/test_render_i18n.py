"""Translating once per request (issue 16): the template's `_`/`gettext`/`ngettext`, the Python `gettext`/`ngettext`
of `plugin.i18n`, `label` and `long_date` give exactly what Flask-Babel gives, in either language, and follow a
locale that changes within the request (`force_locale`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import flask_babel
import pytest
from flask import Flask, render_template_string
from flask_babel import force_locale
from flask_wtf.i18n import translations as flask_wtf_translations
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField

import plugin.i18n
from fhir_mappings.codes import GoalLifecycle, GroupStatus
from plugin.app import create_app
from plugin.config import AppConfig
from plugin.i18n import gettext, ngettext
from plugin.web.format import clock, date_time, long_date, weekday_date_time
from plugin.web.forms import BaseForm
from plugin.web.labels import label

# Texts of the catalogs: with a variable, a plural, and a text without variables.
TEXTS = ("Overview", "Members", "Take over the group", "No goals yet.")
TEMPLATE = (
    '{{ _("Overview") }}|{{ gettext("Members") }}|{{ _("%(score)d out of 10", score=7) }}'
    '|{{ _("From %(name)s", name="<b>Ann</b>") }}'
    '|{{ ngettext("%(num)d past its date", "%(num)d past their date", 1) }}'
    '|{{ ngettext("%(num)d past its date", "%(num)d past their date", 3) }}'
    '|{{ _("not a msgid of the catalog, 100%% sure") }}'
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield create_app(AppConfig(public_base_url="http://app.test", secret_key="k" * 40, outbox_db=str(tmp_path / "o")))


def flask_babel_rendering(app: Flask, source: str) -> str:
    """`source` rendered with Flask-Babel's own template callables (as the app had them before)."""
    saved = {k: app.jinja_env.globals[k] for k in ("_", "gettext", "ngettext")}
    try:
        app.jinja_env.install_gettext_callables(
            gettext=lambda s: flask_babel.get_translations().ugettext(s),
            ngettext=lambda s, p, n: flask_babel.get_translations().ungettext(s, p, n),
            newstyle=True,
        )
        app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"]
        return render_template_string(source)
    finally:
        app.jinja_env.globals.update(saved)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_templates_translate_as_flask_babel_does(app: Flask, lang: str) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        ours = render_template_string(TEMPLATE)
        again = render_template_string(TEMPLATE)  # the second time from the kept markup
        theirs = flask_babel_rendering(app, TEMPLATE)
    assert ours == theirs == again
    assert "&lt;b&gt;Ann&lt;/b&gt;" in ours and "100% sure" in ours
    if lang == "nl":
        assert ours.startswith("Overzicht|")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_python_texts_labels_and_dates_are_flask_babels(app: Flask, lang: str) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        for text in TEXTS:
            assert gettext(text) == flask_babel.gettext(text)
        assert gettext("%(score)d out of 10", score=4) == flask_babel.gettext("%(score)d out of 10", score=4)
        for n in (1, 2):
            plural = ("%(num)d past its date", "%(num)d past their date", n)
            assert ngettext(*plural) == flask_babel.ngettext(*plural)
        assert label(GroupStatus.ACTIVE) == flask_babel.gettext("active")
        assert label(GoalLifecycle.ACTIVE) == flask_babel.gettext("working on it")
        for day in (date(2026, 11, 22), date(2027, 3, 1), date(2026, 11, 22)):
            assert long_date(day) == flask_babel.format_date(day, "long")
    assert label(GroupStatus.ON_HOLD) == "paused"  # outside a request: the msgid


def count_catalog_lookups(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that gets an item on every lookup of Flask-Babel's catalog by `plugin.i18n`."""
    lookups: list[object] = []
    real = plugin.i18n.get_translations

    def counted() -> object:
        lookups.append(None)
        return real()

    monkeypatch.setattr(plugin.i18n, "get_translations", counted)
    return lookups


def test_the_catalog_is_looked_up_once_per_request(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = count_catalog_lookups(monkeypatch)
    with app.test_request_context("/?lang=nl"):
        render_template_string(TEMPLATE + TEMPLATE)
        assert [gettext(t) for t in TEXTS] and label(GroupStatus.ACTIVE) == "actief"
    assert len(lookups) == 1
    with app.test_request_context("/?lang=en"):  # a new request looks it up again
        assert gettext("Overview") == "Overview"
    assert len(lookups) == 2


def test_a_locale_forced_within_the_request_is_followed(app: Flask) -> None:
    with app.test_request_context("/?lang=nl"):
        dutch = gettext("Overview")
        assert dutch == "Overzicht"
        with force_locale("en"):
            assert gettext("Overview") == "Overview"
            assert render_template_string('{{ _("Overview") }}') == "Overview"
            assert long_date(date(2026, 11, 22)) == "November 22, 2026"
        assert gettext("Overview") == dutch
        assert render_template_string('{{ _("Overview") }}') == dutch
        assert long_date(date(2026, 11, 22)) == "22 november 2026"


def test_a_meetings_day_and_time_read_as_the_languages_long_date_does(app: Flask) -> None:
    """The meeting's "zondag 22 november 2026, 19:00" in Dutch; in English the full date in English order, not
    Dutch order in English words ("Sunday 22 November 2026" beside "November 22, 2026" on the same page)."""
    moment = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # 19:00 in Amsterdam
    with app.test_request_context("/?lang=nl"):
        assert weekday_date_time(moment) == "zondag 22 november 2026, 19:00"
        with force_locale("en"):
            assert weekday_date_time(moment) == "Sunday, November 22, 2026, 19:00"
            assert long_date(moment) in weekday_date_time(moment)


def test_times_after_2037_are_the_clock_in_amsterdam_too(app: Flask) -> None:
    """The times were converted a second time by Flask-Babel's own zone (pytz), whose rules end in 2037: a summer
    meeting in 2038 showed 08:15 for 09:15."""
    summer = datetime(2038, 7, 6, 7, 15, tzinfo=UTC)  # 09:15 in Amsterdam (summer time)
    winter = datetime(2040, 1, 10, 18, 30, tzinfo=UTC)  # 19:30 (winter time)
    with app.test_request_context("/?lang=nl"):
        assert weekday_date_time(summer) == "dinsdag 6 juli 2038, 09:15"
        assert date_time(summer) == "6 juli 2038, 09:15" and clock(summer) == "09:15"
        assert clock(winter) == "19:30"


class NumberForm(BaseForm):
    number = IntegerField()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_forms_get_flask_wtfs_messages_read_once_per_process(
    app: Flask, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin.i18n, "_WTFORMS_CATALOGS", {})
    real = plugin.i18n.Translations
    reads: list[object] = []

    class Counted:
        @staticmethod
        def load(*args: object, **kwargs: object) -> object:
            reads.append(None)
            return real.load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(plugin.i18n, "Translations", Counted)
    for _ in range(3):  # a request each
        with app.test_request_context(f"/?lang={lang}", method="POST"):
            form = NumberForm(formdata=MultiDict({"number": "zes"}), meta={"csrf": False})
            assert not form.validate()
            assert form.number.errors == [flask_wtf_translations.gettext("Not a valid integer value.")]
    assert form.number.errors == (["Ongeldig getal."] if lang == "nl" else ["Not a valid integer value."])
    assert len(reads) == 1


def test_outside_a_request_or_without_flask_babel_forms_keep_wtforms_english(app: Flask) -> None:
    message = "Not a valid integer value."
    assert plugin.i18n.wtforms_translations().gettext(message) == message
    with Flask(__name__).test_request_context("/"):  # an app without Flask-Babel, as Flask-WTF treats it
        assert plugin.i18n.wtforms_translations().gettext(message) == message
    with app.test_request_context("/?lang=nl"):
        assert plugin.i18n.wtforms_translations().gettext(message) == "Ongeldig getal."
