"""Every form handler of the app, fed anything (issue 12): never a 500 or 502, and never a write unless the answer
is a redirect (the sandbox store's history table counts every version written).

The POST routes come from the app's URL map, so a new form handler is covered without touching this test. The
fields sent are every input name the app's pages show (plus the date fields' `-fold` and `-past` companions),
with values from anywhere: unicode, NUL bytes, huge and negative numbers, the option values the pages offer, and
dates and times around the daylight-saving changes and the ends of the calendar.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from plugin.web.forms import BaseForm
from tests.support.ui import LaunchedApp, launched

PAGES = ("/", "/leden", "/leden/nomineren", "/doelen", "/doelen/nieuw", "/afspraken", "/afspraken/nieuw")
DETAIL_LINK = re.compile(r'href="/c/[^/"]+/(leden|doelen|afspraken|bijeenkomsten)/([^"/?#]+)"')
NAME = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"')
OPTION = re.compile(r'<option[^>]*value="([^"]*)"|<input[^>]*type="(?:radio|checkbox)"[^>]*value="([^"]*)"')
FORM_MODULES = [f"plugin.{area}.forms" for area in ("group", "members", "goals", "agreements", "meetings", "notes")]
SKIP_NAMES = {"csrf_token", "submission_key"}
WRITE_OK = {301, 302, 303}
AREAS = {"member_uid": "leden", "goal_uid": "doelen", "agreement_uid": "afspraken", "meeting_uid": "bijeenkomsten"}

EDGE_TIMES = [
    "2032-03-28T02:30",  # spring gap
    "2032-03-28T02:00",
    "2026-03-29T02:59",
    "2032-10-31T02:30",  # autumn overlap
    "2026-10-25T02:00",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "1900-01-01T00:00",
    "2100-12-31T23:59",
    "1899-12-31T23:59",
    "2101-01-01T00:00",
    "2025-03-01T10:00",  # in the past
    "2027-02-29T10:00",  # no such day
    "28-03-2032 02.30",
    "31-10-2032 02:30",
]
# The edges each dated form gets (the others come up among the drawn examples).
FORM_EDGES = [
    "2032-03-28T02:30",
    "2032-10-31T02:30",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "1900-01-01T00:00",
    "2100-12-31T23:59",
    "2101-01-01T00:00",
    "2025-03-01T10:00",
    "2027-02-29T10:00",
    "0001-01-01",
    "9999-12-31",
    "01-03-2025",
]
EDGE_DATES = ["0001-01-01", "9999-12-31", "1900-01-01", "2100-12-31", "29-02-2027", "01-03-2025", "2032-03-28"]
NUMBERS = ["-1", "0", "10", "11", "-99999999999999999999", "9" * 40, "1e309", "NaN", "15", "480", "481"]
WILD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e\u05e9\u05dc\u05d5\u05dd",
    "😀" * 50,
    "x" * 5000,
    "<script>",
    "on",
    "y",
    "0",
    "1",
]


def discover(env: LaunchedApp, forms: Forms) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Field names and option values the pages show, and the uids their links name (per area); `forms` is fed
    every page."""
    names: set[str] = set()
    options: set[str] = set()
    uids: dict[str, set[str]] = {}
    seen: set[str] = set()
    queue = [*PAGES, "/bijeenkomsten", "/bijeenkomsten/nieuw"]
    while queue:
        path = queue.pop(0)
        if path in seen or len(seen) > 40:
            continue
        seen.add(path)
        html = env.get(path).get_data(as_text=True)
        forms.feed(html)
        names.update(n for n in NAME.findall(html) if n not in SKIP_NAMES)
        options.update(a or b for a, b in OPTION.findall(html))
        for area, uid in DETAIL_LINK.findall(html):
            if uid not in ("nieuw", "nomineren"):
                uids.setdefault(area, set()).add(uid)
                queue.append(f"/{area}/{uid}")
    names.update(form_field_names())
    names.update({f"{n}-fold" for n in names} | {f"{n}-past" for n in names})
    return sorted(names), sorted(options), {k: sorted(v) for k, v in uids.items()}


def form_field_names() -> set[str]:
    """The field names of every form class of the app (also of forms no demo page shows, e.g. an interview's)."""
    names: set[str] = set()
    for module in FORM_MODULES:
        for form in vars(importlib.import_module(module)).values():
            if isinstance(form, type) and issubclass(form, BaseForm):
                names.update(n for n in dir(form) if isinstance(getattr(form, n, None), UnboundField))
    return names - SKIP_NAMES


class Forms(HTMLParser):
    """The POST forms of a page: action path -> the values the page fills in, and the names of its date inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.defaults: dict[str, dict[str, str]] = {}
        self.dates: dict[str, set[str]] = {}
        self._action: str | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._action = a.get("action", "").split("?")[0]
            self.defaults.setdefault(self._action, {})
            self.dates.setdefault(self._action, set())
            return
        if self._action is None or not a.get("name") or a["name"] in SKIP_NAMES:
            return
        values, name = self.defaults[self._action], a["name"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("date", "datetime-local"):
                self.dates[self._action].add(name)
            if kind not in ("radio", "checkbox") or "checked" in a:
                values[name] = a.get("value", "")
            elif kind == "radio":
                values.setdefault(name, a.get("value", ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select is not None:
            if "selected" in a or self._select not in values:
                values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            values[name] = ""

    def handle_data(self, data: str) -> None:
        if self._action is not None and self._textarea is not None:
            self.defaults[self._action][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def history_count(env: LaunchedApp) -> int:
    with env.store._lock:  # the store's own lock: the server thread writes through the same connection
        return int(env.store._conn.execute("SELECT COUNT(*) FROM history").fetchone()[0])


def fill(rule: str, choose: Callable[[str], str]) -> str:
    """The rule's path (after /c/<context>) with its uids chosen per area."""
    path = rule.split("/c/<context_id>", 1)[1]
    for arg, area in AREAS.items():
        path = path.replace(f"<path:{arg}>", "<x>").replace(f"<{arg}>", "<x>").replace("<x>", choose(area))
    return path


def drawn_uid(uids: dict[str, list[str]], draw: st.DrawFn) -> Callable[[str], str]:
    junk = ["onbekend", "x" * 300, "%00", "..%2F..", "-1"]
    return lambda area: str(draw(st.sampled_from(uids.get(area) or junk) | st.sampled_from(junk)))


def values(options: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(EDGE_TIMES),
        st.sampled_from(EDGE_DATES),
        st.sampled_from(NUMBERS),
        st.sampled_from(WILD),
        st.sampled_from(options or [""]),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.text(max_size=40),
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    )


def test_no_form_handler_answers_500_or_writes_on_a_refusal(tmp_path: Path) -> None:
    with launched(tmp_path, patient="sanne-bakker") as env:
        rules = sorted(
            r.rule for r in env.app.url_map.iter_rules() if "POST" in (r.methods or ()) and r.rule.startswith("/c/")
        )
        assert len(rules) >= 25, rules  # every area's handlers are there
        nominated = env.post(  # a nominee, so that the interview forms are on a page too
            "/leden/nomineren/naaste", {"name": "Tom Fuzz", "relationship": "FRND", "phone": "", "email": ""}
        )
        assert nominated.status_code == 303, nominated.get_data(as_text=True)
        forms = Forms()
        names, options, uids = discover(env, forms)
        assert {"start", "due", "planned_start", "held_at"} <= set(names), names
        assert uids.get("leden") and uids.get("doelen") and uids.get("bijeenkomsten"), uids
        outcomes: dict[int, int] = {}
        started = time.monotonic()

        def check(path: str, form: dict[str, Any]) -> str:
            before = history_count(env)
            answer = env.post(path, form)
            outcomes[answer.status_code] = outcomes.get(answer.status_code, 0) + 1
            assert answer.status_code < 500, (path, form, answer.get_data(as_text=True)[:2000])
            if answer.status_code not in WRITE_OK:
                assert history_count(env) == before, (path, form, answer.status_code)
            return str(answer.get_data(as_text=True))

        # Every handler once with every field at a DST edge (the URL map's routes, pages or not).
        for i, rule in enumerate(rules):
            path = fill(rule, lambda area: (uids.get(area) or ["onbekend"])[0])
            check(path, {n: EDGE_TIMES[i % len(EDGE_TIMES)] for n in names if not n.endswith(("-fold", "-past"))})

        # Every form a page shows with a date: filled in as the page offers it, the date at every edge, each
        # autumn time with both choices, each past one confirmed; so the handler gets past its other fields.
        dated = {action: fields for action, fields in forms.dates.items() if fields}
        assert len(dated) >= 5, sorted(dated)  # meeting, interview plan and record, goal, agreement
        for action, fields in sorted(dated.items()):
            confirmed = {f"{n}-past": "y" for n in fields}  # unconfirmed past dates: the examples below
            for edge in FORM_EDGES:
                check(action, forms.defaults[action] | dict.fromkeys(fields, edge) | confirmed)
            for fold in ("0", "1"):
                overlap = dict.fromkeys(fields, "2032-10-31T02:30") | {f"{n}-fold": fold for n in fields}
                check(action, forms.defaults[action] | overlap | confirmed)

        @settings(
            max_examples=80,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(data=st.data())
        def anything(data: st.DataObject) -> None:
            rule = data.draw(st.sampled_from(rules))
            path = fill(rule, drawn_uid(uids, data.draw))
            chosen = data.draw(st.lists(st.sampled_from(names), max_size=12, unique=True))
            form = {n: data.draw(values(options)) for n in chosen}
            check(path, form)

        anything()
        print(
            "answers:",
            dict(sorted(outcomes.items())),
            len(dated),
            "dated forms",
            f"in {time.monotonic() - started:.1f}s",
        )
        assert sum(outcomes.values()) >= len(rules) + 80 + len(FORM_EDGES) * len(dated), outcomes
        assert any(code in WRITE_OK for code in outcomes) and any(code == 422 for code in outcomes), outcomes
