"""`url_for` remembers the addresses it built across requests (issue 16): the same address as Flask's own
`url_for` for every endpoint, launch, script root, host, scheme and value type, and the URL map is asked once per
address, not on every link of every page."""

from __future__ import annotations

import re
from functools import partial
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, render_template_string, url_for
from werkzeug.routing import BuildError

from tests.support.ui import launched

ENDPOINTS: list[tuple[str, dict[str, Any]]] = [
    ("group.overview", {}),
    ("goals.index", {}),
    ("goals.goal", {"goal_uid": "urn:uuid:1 2/3?x&y"}),
    ("goals.goal", {"goal_uid": "g-1", "lang": "en"}),
    ("goals.index", {"page": 1}),
    ("goals.index", {"page": True}),
    ("goals.index", {"page": "1"}),
    ("goals.index", {"context_id": "other-ctx"}),
    ("static", {"filename": "icons/a b.svg"}),
    ("goals.static", {"filename": "goals.css"}),
    ("goals.index", {"tag": ["a", "b"]}),
]
TEMPLATE = "{{ url_for(e, **v) }}"
REQUESTS: list[dict[str, Any]] = [
    {"path": "/"},
    {"path": "/", "base_url": "https://rg.example:8443/prefix"},
    {"path": "/", "base_url": "http://other.test"},
]


def _flask_own(app: Flask, endpoint: str, values: dict[str, Any]) -> str:
    return Flask.url_for(app, endpoint, **values)


def _outcome(build: Any) -> str:
    """The address built, or the error (a context page without a launch cannot be built, either way)."""
    try:
        return str(build())
    except BuildError as error:
        return f"BuildError: {error}"


def test_the_remembered_addresses_are_what_flask_builds(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        built = 0
        for _ in range(2):  # the second round answers from what the first remembered
            for environ, launch, (endpoint, values) in product(REQUESTS, ["ctx-1", "ctx-2", None], ENDPOINTS):
                with env.app.test_request_context(**environ):
                    if launch is not None:
                        g.launch = type("Launch", (), {"context_id": launch})()
                    own = _outcome(partial(_flask_own, env.app, endpoint, values))
                    assert _outcome(partial(url_for, endpoint, **values)) == own
                    in_template = _outcome(partial(render_template_string, TEMPLATE, e=endpoint, v=values))
                    if own.startswith("BuildError"):
                        assert in_template == own
                    else:
                        assert in_template == render_template_string("{{ u }}", u=own)
                        built += 1
        assert built > 100
        with env.app.test_request_context("/"):
            g.launch = type("Launch", (), {"context_id": "ctx-1"})()
            assert url_for("goals.index") == "/c/ctx-1/doelen"
            assert url_for("goals.index", page=True) == "/c/ctx-1/doelen?page=True"
            assert url_for("goals.index", page=1) == "/c/ctx-1/doelen?page=1"
            assert url_for("goals.index", _anchor="x y") == "/c/ctx-1/doelen#x%20y"
            assert url_for("goals.index", _external=True) == "http://localhost/c/ctx-1/doelen"


def test_a_page_asks_the_url_map_once_per_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        overview = env.get("/")
        assert overview.status_code == 200
        built: list[str] = []
        adapter_class = type(env.app.url_map.bind("localhost"))
        real = adapter_class.build

        def counted(self: Any, endpoint: str, *arguments: Any, **keywords: Any) -> str:
            built.append(endpoint)
            return real(self, endpoint, *arguments, **keywords)  # type: ignore[no-any-return]

        monkeypatch.setattr(adapter_class, "build", counted)
        again = env.get("/")
        assert again.get_data() == overview.get_data() or _masked(again.get_data(as_text=True)) == _masked(
            overview.get_data(as_text=True)
        )
        assert built == []  # every link of the page was built the first time


def _masked(html: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html)
