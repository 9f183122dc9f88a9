"""One session read and at most one write per request: a request that changes nothing in the session does not
store it again, until its idle end needs moving (after `refresh` seconds); a change is stored at once."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, session

from plugin.session_store import CREATED, ServerSideSessionInterface
from smart_launch import MemorySessionStore


class CountingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        self.saves: list[tuple[dict[str, Any], float]] = []

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        self.loads += 1
        return super().load_session(session_id)

    def save_session(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        self.saves.append((dict(data), expires_at))
        super().save_session(session_id, data, expires_at)


def _app(store: CountingStore, now: list[float]) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x" * 40, SESSION_COOKIE_NAME="rg_session")
    app.session_interface = ServerSideSessionInterface(store, idle=1800, absolute=43200, clock=lambda: now[0])

    @app.get("/read")
    def read() -> str:
        return str(session.get("lang", ""))

    @app.get("/change")
    def change() -> str:
        session["lang"] = "en"
        return "changed"

    return app


def test_an_unchanged_session_is_read_once_and_not_written_until_its_idle_end_must_move() -> None:
    now = [time.time()]
    store = CountingStore()
    store.save_session("sid", {"since": 1, CREATED: now[0]}, now[0] + 1800)
    store.saves.clear()
    client = _app(store, now).test_client()
    client.set_cookie("rg_session", "sid")

    assert client.get("/read").status_code == 200  # unknown to this process: stored once
    assert (store.loads, len(store.saves)) == (1, 1)
    for _ in range(3):
        now[0] += 10
        client.get("/read")
    assert (store.loads, len(store.saves)) == (4, 1)  # read every time, not written

    now[0] += 60  # more than a minute since the write: the idle end is moved in the store
    client.get("/read")
    assert len(store.saves) == 2 and store.saves[-1][1] == now[0] + 1800

    client.get("/change")  # a change is stored at once
    assert len(store.saves) == 3 and store.saves[-1][0]["lang"] == "en"
    assert store.load_session("sid") is not None and store.load_session("sid")["lang"] == "en"  # type: ignore[index]


def test_the_cookie_still_slides_on_every_response() -> None:
    now = [time.time()]
    store = CountingStore()
    store.save_session("sid", {"since": 1, CREATED: now[0], "lang": "nl"}, now[0] + 1800)
    client = _app(store, now).test_client()
    client.set_cookie("rg_session", "sid")
    response = client.get("/read")
    assert "Max-Age=1800" in response.headers["Set-Cookie"]
