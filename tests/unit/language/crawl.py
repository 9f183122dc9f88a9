"""Walk the pages a role sees and take out the words a person reads there (support for the language tests).

A page's words are its visible text plus the attributes read out or shown (aria-label, title, placeholder, alt,
and the value of buttons); script and style are skipped. The walk follows the links inside the launch's context
(GET only, so it changes nothing), breadth first, up to a bound.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from smart_launch import SessionStore
from tests.support.ui import LaunchedApp

READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "aria-description")
SKIP_LINKS = re.compile(r"\.(ics|css|js|svg|png)$|/ehr-style\.css")


class _Words(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template", "textarea"):  # a textarea holds what a person writes
            self._skip += 1
        found = dict(attrs)
        for name in READ_ATTRIBUTES:
            if found.get(name):
                self.parts.append(str(found[name]))
        if tag == "input" and found.get("type") in ("submit", "button") and found.get("value"):
            self.parts.append(str(found["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "textarea") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data)


def words_of(page: str) -> list[str]:
    """The pieces of text a reader meets on a page, whitespace collapsed."""
    parser = _Words()
    parser.feed(page)
    parser.close()
    return [re.sub(r"\s+", " ", html_lib.unescape(p)).strip() for p in parser.parts if p.strip()]


@dataclass
class Page:
    path: str
    status: int
    words: list[str]

    @property
    def text(self) -> str:
        return " \n".join(self.words)


def as_portal_user(env: LaunchedApp, user: str) -> None:
    """Launched by `user` from a portal (standalone launch) instead of from inside the EHR."""
    sessions: SessionStore = env.app.extensions["session_store"]
    context = sessions.get_context(env.context_id)
    assert context is not None
    sessions.save_context(
        dataclasses.replace(context, fhir_user=user, launch_kind="standalone", need_patient_banner=False)
    )


def shape(path: str) -> str:
    """A path with its ids taken out: pages of the same kind have the same shape."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", path)


def crawl(env: LaunchedApp, start: tuple[str, ...] = ("/",), per_shape: int = 3) -> Iterator[Page]:
    """The pages reachable by links from `start` within the context (query strings kept), at most `per_shape`
    pages of each kind (e.g. two goal pages), each once."""
    prefix = env.prefix
    todo = [env.url(s) for s in start]
    seen: set[str] = set(todo)
    shapes: dict[str, int] = {}
    while todo:
        path = todo.pop(0)
        kind = shape(path)
        if shapes.get(kind, 0) >= per_shape:
            continue
        shapes[kind] = shapes.get(kind, 0) + 1
        response = env.client.get(path)
        page = response.get_data(as_text=True)
        if "text/html" not in (response.content_type or ""):
            continue
        yield Page(path.removeprefix(prefix), response.status_code, words_of(page))
        for link in re.findall(r'href="([^"#]+)', page):
            link = html_lib.unescape(link)
            if "lang=" in link:  # the language switch: it would turn the rest of the walk English
                continue
            if link.startswith(prefix) and not SKIP_LINKS.search(link.split("?")[0]) and link not in seen:
                seen.add(link)
                todo.append(link)
