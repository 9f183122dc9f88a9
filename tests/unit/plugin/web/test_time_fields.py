"""The date and time fields every form uses: Amsterdam wall-clock time to a correct instant, DST gap and overlap,
the 1900-2100 range, and the confirmation of a date in the past (PastConfirmation)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask_babel import Babel

from fhir_mappings.model import CLINIC_ZONE
from plugin.web.forms import BaseForm, DutchDateField, LocalDateTimeField, example_date

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=CLINIC_ZONE)


class TimeForm(BaseForm):
    at = LocalDateTimeField("at", confirm_past=True)
    due = DutchDateField("due", confirm_past=True)


class PlainForm(BaseForm):
    at = LocalDateTimeField("at")
    due = DutchDateField("due")


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setattr("plugin.group.service.now", lambda: NOW)
    flask_app = Flask(__name__)
    flask_app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    Babel(flask_app, locale_selector=lambda: "en")
    yield flask_app


def posted(app: Flask, data: dict[str, str], form_class: type[BaseForm] = TimeForm) -> tuple[Any, bool, str]:
    """(the form, whether it validated, how the `at` field renders)."""
    with app.test_request_context(method="POST", data=data):
        form = form_class()
        ok = form.validate()
        return form, ok, str(form.at()) + str(form.due())


def test_an_ordinary_time_is_that_moment_in_amsterdam(app: Flask) -> None:
    form, ok, _ = posted(app, {"at": "2027-01-15T14:30"})
    assert ok, form.errors
    assert form.at.data == datetime(2027, 1, 15, 13, 30, tzinfo=UTC)
    form, ok, _ = posted(app, {"at": "15-07-2027 14.30"})
    assert ok and form.at.data.utcoffset() == timedelta(hours=2)


def test_a_time_in_the_spring_gap_is_refused_with_the_day_and_the_clock(app: Flask) -> None:
    for wall in ("2027-03-28T02:00", "2027-03-28T02:30", "2027-03-28T02:59", "2026-03-29T02:15"):
        form, ok, _ = posted(app, {"at": wall})
        assert not ok and form.at.data is None
        (message,) = form.at.errors
        assert "does not exist" in message and "at 2:00" in message, message
    form, _, _ = posted(app, {"at": "2027-03-28T02:30"})
    assert "March 28, 2027" in form.at.errors[0]
    for around in ("2027-03-28T01:59", "2027-03-28T03:00"):
        assert posted(app, {"at": around})[1]


def test_an_autumn_time_asks_which_one_and_keeps_the_choice(app: Flask) -> None:
    form, ok, html = posted(app, {"at": "2027-10-31T02:30"})
    assert not ok and "happens twice" in form.at.errors[0] and "at 3:00" in form.at.errors[0]
    assert 'name="at-fold" value="0"' in html and 'name="at-fold" value="1"' in html and "checked" not in html
    assert 'value="2027-10-31T02:30"' in html  # what was typed stays
    first, ok, html = posted(app, {"at": "2027-10-31T02:30", "at-fold": "0"})
    assert ok and first.at.data.utcoffset() == timedelta(hours=2)
    assert 'value="0" checked' in html  # kept on a re-render
    second, ok, html = posted(app, {"at": "2027-10-31T02:30", "at-fold": "1"})
    assert ok and second.at.data.utcoffset() == timedelta(hours=1)
    assert second.at.data.astimezone(UTC) - first.at.data.astimezone(UTC) == timedelta(hours=1)
    assert 'value="1" checked' in html
    # A fold that is not 0 or 1 is no choice; a fold on an ordinary time changes nothing.
    assert not posted(app, {"at": "2027-10-31T02:30", "at-fold": "2"})[1]
    plain, ok, html = posted(app, {"at": "2027-10-31T04:30", "at-fold": "1"})
    assert ok and plain.at.data.utcoffset() == timedelta(hours=1) and "at-fold" not in html


@pytest.mark.parametrize("year", ["0001", "1899", "2101", "9999"])
def test_years_outside_1900_2100_are_refused_at_the_field(app: Flask, year: str) -> None:
    form, ok, _ = posted(app, {"at": f"{year}-06-01T10:00", "due": f"{year}-06-01"}, PlainForm)
    assert not ok
    assert form.at.errors == ["Enter a date between 1900 and 2100."]
    assert form.due.errors == ["Enter a date between 1900 and 2100."]


def test_the_edges_of_the_range_are_accepted(app: Flask) -> None:
    form, ok, _ = posted(app, {"at": "1900-01-01T10:00", "due": "31-12-2100"}, PlainForm)
    assert ok, form.errors
    assert form.due.data == date(2100, 12, 31)


def test_a_past_date_asks_for_confirmation_and_keeps_what_was_typed(app: Flask) -> None:
    form, ok, html = posted(app, {"at": "2026-11-30T11:00", "due": "29-11-2026"})
    assert not ok
    question = "This date has already passed. Do you want to record it anyway?"
    assert form.at.errors == [question] and form.due.errors == [question]
    assert 'name="at-past"' in html and 'name="due-past"' in html
    # what was read comes back in the date box's own format: a date box shows value="29-11-2026" as empty
    assert 'value="2026-11-29"' in html and 'value="2026-11-30T11:00"' in html
    form, ok, html = posted(app, {"at": "2026-11-30T11:00", "at-past": "y", "due": "29-11-2026", "due-past": "y"})
    assert ok, form.errors
    assert form.due.data == date(2026, 11, 29) and 'name="due-past" value="y" checked' in html
    # Today and later are not asked; a field without confirm_past never asks.
    assert posted(app, {"at": "2026-11-30T12:30", "due": "30-11-2026"})[1]
    assert posted(app, {"at": "2020-01-01T10:00", "due": "2020-01-01"}, PlainForm)[1]


def test_an_unchanged_past_date_on_an_edit_form_is_not_asked_again(app: Flask) -> None:
    with app.test_request_context(method="POST", data={"due": "2026-01-01"}):
        form = TimeForm()
        form.due.current = date(2026, 1, 1)
        assert form.validate(), form.errors
    with app.test_request_context(method="POST", data={"due": "2026-01-02"}):
        form = TimeForm()
        form.due.current = date(2026, 1, 1)
        assert not form.validate()


@pytest.mark.parametrize("junk", ["\x00", "2027-02-30T10:00", "1-1-1 1:1", "2027-13-01", "💥", "9" * 500, "-1"])
def test_junk_is_a_message_not_an_exception(app: Flask, junk: str) -> None:
    form, ok, _ = posted(app, {"at": junk, "due": junk}, PlainForm)
    assert not ok and form.at.errors and form.due.errors


def test_a_stored_autumn_time_shown_again_shows_its_choice(app: Flask) -> None:
    with app.test_request_context():
        second = TimeForm(formdata=None, data={"at": datetime(2027, 10, 31, 1, 30, tzinfo=UTC)})
        html = str(second.at())
        assert 'value="2027-10-31T02:30"' in html and 'value="1" checked' in html
        first = TimeForm(formdata=None, data={"at": datetime(2027, 10, 31, 0, 30, tzinfo=UTC)})
        assert 'value="0" checked' in str(first.at())
        ordinary = TimeForm(formdata=None, data={"at": datetime(2027, 10, 31, 4, 30, tzinfo=UTC)})
        assert "at-fold" not in str(ordinary.at())


class DueWithOther(BaseForm):
    at = LocalDateTimeField("at")
    due = DutchDateField("due")
    birth = DutchDateField("birth", example="21-03-1990")


@pytest.mark.parametrize(
    ("typed_at", "typed_due", "shown_at", "shown_due"),
    [
        ("15-07-2027 14.30", "22-11-2027", "2027-07-15T14:30", "2027-11-22"),
        ("2027-07-15T14:30", "22/11/2027", "2027-07-15T14:30", "2027-11-22"),
        ("15 juli", "22 november", "15 juli", "22 november"),  # not read: shown as typed, with the message
    ],
)
def test_after_an_error_a_typed_date_comes_back_in_the_date_boxs_own_format(
    app: Flask, typed_at: str, typed_due: str, shown_at: str, shown_due: str
) -> None:
    # The boxes are <input type="date"> and "datetime-local": they show a value in another format as empty, so a
    # date typed as 22-11-2027 (a browser with a plain text box, a pasted value) would be lost on the next round.
    with app.test_request_context(method="POST", data={"at": typed_at, "due": typed_due, "birth": "x"}):
        form = DueWithOther()
        assert not form.validate() and form.birth.errors
        assert f'value="{shown_at}"' in str(form.at()) and f'value="{shown_due}"' in str(form.due())
        assert 'type="date"' in str(form.due()) and 'type="datetime-local"' in str(form.at())


def test_a_field_can_give_its_own_example_date(app: Flask) -> None:
    with app.test_request_context(method="POST", data={"birth": "14 mei 1961", "due": "vandaag"}):
        form = DueWithOther()
        assert not form.validate()
        assert form.birth.errors == ["Enter a date like 21-03-1990."]
        assert form.due.errors == [f"Enter a date like {example_date()}."]  # the forms' usual: two weeks ahead
