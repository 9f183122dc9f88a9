"""A page's template lets go of what it showed when the request ends, without waiting for the garbage collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from flask import Flask, render_template, render_template_string
from jinja2 import DictLoader

from plugin.web.templating import init_templating

TEMPLATES = {
    "_parts.html": "{% macro shout(text) %}{{ text|upper }}{% endmacro %}",
    # A macro of its own (its closure holds the context that holds it: a cycle), a plain import (a module Jinja
    # keeps between requests) and one `with context` (made per page, with a copy of the page's variables).
    "page.html": (
        '{% from "_parts.html" import shout %}{% import "_parts.html" as parts with context %}'
        "{% macro item(x) %}<li>{{ x.name }}</li>{% endmacro %}"
        "<ul>{{ item(big) }}</ul>{{ shout('ok') }}{{ parts.shout(big.name) }}"
    ),
}


class Big:
    """Stands for a page's group."""

    name = "groep"


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    init_templating(app)
    app.jinja_loader = DictLoader(TEMPLATES)  # type: ignore[assignment]

    @app.get("/")
    def page() -> str:
        shown = Big()
        app.config["shown"] = weakref.ref(shown)
        return render_template("page.html", big=shown)

    return app


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_what_a_page_showed_is_freed_when_its_request_ends(app: Flask, no_collector: None) -> None:
    client = app.test_client()
    for _ in range(3):  # the plain import's cached module keeps working on every page
        answer = client.get("/")
        assert answer.get_data(as_text=True) == "<ul><li>groep</li></ul>OKGROEP"
        assert app.config["shown"]() is None  # no collector ran: nothing holds it any more


def test_without_the_release_a_page_holds_it_until_a_collection(app: Flask, no_collector: None) -> None:
    """The cycle the release breaks (so the test above can fail)."""
    app.teardown_appcontext_funcs.clear()
    app.test_client().get("/")
    assert app.config["shown"]() is not None
    gc.collect()
    assert app.config["shown"]() is None


def test_templates_render_outside_a_request_too(app: Flask) -> None:
    with app.app_context():
        assert render_template_string("{% macro m() %}{{ x }}{% endmacro %}{{ m() }}", x=1) == "1"
    template = app.jinja_env.get_template("page.html")
    assert template.render(big=Big()) == "<ul><li>groep</li></ul>OKGROEP"
