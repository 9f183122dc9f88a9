"""Server-side Flask sessions: the browser holds only an opaque, random session id.

The data lives in the same `smart_launch.SessionStore` that keeps tokens and launch contexts.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from smart_launch import SessionStore

_SID_BYTES = 32
CREATED = "_created"  # when the browser session began (seconds since the epoch): its absolute end follows
_WRITTEN_KEPT = 50_000  # sessions whose last write time a process remembers (the oldest are forgotten first)


class ServerSideSession(CallbackDict[str, Any], SessionMixin):
    """Session data kept on the server; `sid` is what the cookie carries.

    It ends after `idle` seconds without a request or `absolute` seconds after it began, whichever comes
    first (see ServerSideSessionInterface); `permanent` is not used. `modified` is set by every assignment
    (values are replaced, never changed in place).
    """

    def __init__(self, sid: str, initial: dict[str, Any] | None = None, *, new: bool = False) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.new = new
        self.modified = False
        self.replaced: str | None = None  # the id this session had before `regenerate()`

    def regenerate(self) -> str:
        """Give the session a new random id (after a login: an id planted before it is worth nothing); the data
        stays. Returns the old id; saving the session forgets it in the store."""
        old = self.sid
        self.replaced = self.replaced or old
        self.sid = secrets.token_urlsafe(_SID_BYTES)
        self.modified = True
        return old


class ServerSideSessionInterface(SessionInterface):
    """Stores session data in a SessionStore and sets an HttpOnly cookie with only the session id."""

    def __init__(
        self,
        store: SessionStore,
        *,
        idle: int = 30 * 60,
        absolute: int = 12 * 3600,
        clock: Callable[[], float] = time.time,
        refresh: float | None = None,
    ) -> None:
        self.store = store
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        # A request that changed nothing stores the session again only when it was stored longer than this ago
        # (to move its idle end): one read and no write on most page views. The idle end is then kept to
        # within `refresh` seconds (at most a minute, a tenth of the idle time when that is shorter).
        self.refresh = min(60.0, idle / 10) if refresh is None else refresh
        self._written: dict[str, float] = {}  # session id -> when this process last stored it (insertion order)
        self._written_lock = threading.Lock()

    def _due(self, sid: str, now: float) -> bool:
        """Whether an unchanged session must be stored again (unknown to this process, or stored too long ago)."""
        with self._written_lock:
            written = self._written.get(sid)
        return written is None or now - written >= self.refresh

    def _stored(self, sid: str, now: float) -> None:
        with self._written_lock:
            self._written.pop(sid, None)
            self._written[sid] = now
            while len(self._written) > _WRITTEN_KEPT:
                del self._written[next(iter(self._written))]

    def open_session(self, app: Flask, request: Request) -> ServerSideSession:
        """Load the session named by the cookie (unless past its absolute end), or start a new one with a fresh
        random id. An idle session is gone already: the store let it expire."""
        sid = request.cookies.get(self.get_cookie_name(app))
        now = self.clock()
        if sid and len(sid) <= 128:
            data = self.store.load_session(sid)
            if data is not None:
                created = data.get(CREATED)
                if isinstance(created, int | float) and now < created + self.absolute:
                    return ServerSideSession(sid, data)
                self.store.end_session(sid)  # past its absolute end (or from before this rule): over
        return ServerSideSession(secrets.token_urlsafe(_SID_BYTES), {CREATED: now}, new=True)

    def ends_at(self, session: ServerSideSession) -> float:
        """When the session ends if nothing happens: idle time from now, never after its absolute end."""
        now = self.clock()
        created = session.get(CREATED, now)
        return min(now + self.idle, float(created) + self.absolute)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Persist the data and (re)set the cookie; an emptied session is deleted with its cookie."""
        if not isinstance(session, ServerSideSession):
            return
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.replaced is not None:
            self.store.delete_session(session.replaced)
            session.replaced = None
        if not any(key != CREATED for key in session):
            if not session.new:
                self.store.delete_session(session.sid)
                response.delete_cookie(
                    name,
                    domain=domain,
                    path=path,
                    secure=self.get_cookie_secure(app),
                    samesite=self.get_cookie_samesite(app),
                )
            return
        response.vary.add("Cookie")
        # Sliding idle expiry, capped by the absolute end: every response that carries session data extends it
        # (in the store only when it changed or was stored more than `refresh` seconds ago).
        ends = self.ends_at(session)
        now = self.clock()
        if session.new or session.modified or self._due(session.sid, now):
            self.store.save_session(session.sid, dict(session), ends)
            self._stored(session.sid, now)
        response.set_cookie(
            name,
            session.sid,
            max_age=max(0, int(ends - self.clock())),
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            domain=domain,
            path=path,
            partitioned=self.get_cookie_partitioned(app),
        )
