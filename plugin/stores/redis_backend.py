"""The app's shared state in Redis, for several app instances behind a load balancer.

Same protocols, same rules as the embedded SQLite stores (which stay the single-machine default):

- :class:`RedisSessionStore` (``smart_launch.SessionStore``): browser sessions, pending authorizations and
  launch contexts (with their tokens). A pending authorization is taken atomically and only by its own browser
  session; moving or ending a browser session is one Lua script. Everything expires by a Redis TTL (no sweeping).
- :class:`RedisOutbox` (``plugin.sync.outbox.Outbox``): saves waiting for the EHR. A replayer leases a patient's
  queue (``SET`` only when free or its own, with an expiry), so two instances replaying at the same moment never
  send the same save twice; every state change is one Lua script. Entries never expire (like the SQLite outbox):
  Redis must persist its data (AOF) or waiting saves are lost with a restart.
- :class:`RedisSubmissionLog` (``plugin.services.submissions.SubmissionLog``): a form submitted twice, to two
  instances, is saved once.
- :class:`RedisCapabilityStore` (``plugin.sync.capabilities.CapabilityStore``): what the FHIR server can do.

Scripts touch keys they compute (a session's index sets): use a standalone Redis (or a primary with replicas),
not Redis Cluster. Redis holds access and refresh tokens like the SQLite file does: it must be private to the
app (bound to a private network, a password or ACL user, TLS with ``rediss://``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, cast

import redis

from plugin.services.submissions import KEEP_SECONDS, STALE_SECONDS, WAIT_SECONDS, Recorded, StillRunning
from plugin.sync.errors import JsonDict
from plugin.sync.outbox import OutboxEntry, OutboxEvent, OutboxState, OutboxTransitions
from smart_launch import LaunchContext, PendingAuthorization

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "resourcegroep:"


def connect(url: str, *, timeout: float = 5.0) -> redis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` for TLS, ``unix://``); answers are text."""
    client: redis.Redis = redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    return client


def _ms_until(at: float) -> int:
    """Milliseconds from now until epoch time ``at``; 0 or less when it has passed."""
    return int((at - time.time()) * 1000)


# ---------------------------------------------------------------------- sessions, launches


# KEYS[1] the pending authorization (a hash: body, sid). ARGV[1] the browser session that may take it, or "".
_TAKE_PENDING = """
local sid = redis.call('HGET', KEYS[1], 'sid')
if not sid then return false end
if ARGV[1] ~= '' and sid ~= ARGV[1] then return false end
local body = redis.call('HGET', KEYS[1], 'body')
redis.call('DEL', KEYS[1])
return {body, sid}
"""

# KEYS[1] an index set of a browser session, KEYS[2] the key to add to it. ARGV[1] the member, ARGV[2] its TTL in ms.
# The index lives as long as its longest-lived member.
_INDEX_ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[2])
if ttl < want then redis.call('PEXPIRE', KEYS[1], want) end
return 1
"""

# KEYS[1..2] the pending and context index sets of the old session, KEYS[3..4] those of the new one.
# ARGV[1] the new session id, ARGV[2] the key prefix of pending authorizations, ARGV[3] that of contexts.
_MOVE_SESSION = """
local moved = 0
for i = 1, 2 do
  local prefix = ARGV[i + 1]
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    local key = prefix .. member
    if redis.call('EXISTS', key) == 1 then
      redis.call('HSET', key, 'sid', ARGV[1])
      redis.call('SADD', KEYS[i + 2], member)
      local ttl = redis.call('PTTL', key)
      if ttl > 0 and redis.call('PTTL', KEYS[i + 2]) < ttl then redis.call('PEXPIRE', KEYS[i + 2], ttl) end
      moved = moved + 1
    end
  end
  redis.call('DEL', KEYS[i])
end
return moved
"""

# KEYS[1] the browser session, KEYS[2..3] its pending and context index sets. ARGV[1..2] the key prefixes.
_END_SESSION = """
redis.call('DEL', KEYS[1])
for i = 1, 2 do
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[i + 1])) do
    local key = ARGV[i] .. member
    if redis.call('HGET', key, 'sid') == ARGV[3] then redis.call('DEL', key) end
  end
  redis.call('DEL', KEYS[i + 1])
end
return 1
"""


class RedisSessionStore:
    """A ``smart_launch.SessionStore`` in Redis, shared by every app instance. Thread-safe (a connection pool)."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._r = client
        self._p = prefix
        self._take = client.register_script(_TAKE_PENDING)
        self._index_add = client.register_script(_INDEX_ADD)
        self._move = client.register_script(_MOVE_SESSION)
        self._end = client.register_script(_END_SESSION)

    # Keys: the browser session's data; a pending authorization and a launch context (hashes: body + the
    # session id they belong to, which `move_session` changes without rewriting the body); per browser session
    # an index set of its pending states and one of its context ids (for moving and ending it).
    def _session(self, sid: str) -> str:
        return f"{self._p}session:{sid}"

    def _pending(self, state: str = "") -> str:
        return f"{self._p}pending:{state}"

    def _context(self, context_id: str = "") -> str:
        return f"{self._p}context:{context_id}"

    def _index(self, sid: str, kind: str) -> str:
        return f"{self._p}session-{kind}:{sid}"

    def ping(self) -> None:
        """Raise ``redis.RedisError`` unless Redis answers."""
        self._r.ping()

    def save_pending(self, pending: PendingAuthorization) -> None:
        """Store a pending authorization under its state, until it expires."""
        ttl = _ms_until(pending.expires_at)
        key = self._pending(pending.state)
        if ttl <= 0:  # past its end already: it is as good as gone
            self._r.delete(key)
            return
        with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"body": pending.to_json(), "sid": pending.session_id})
            pipe.pexpire(key, ttl)
            pipe.execute()
        self._index_add(keys=[self._index(pending.session_id, "pending"), key], args=[pending.state, ttl])

    def take_pending(self, state: str, session_id: str | None = None) -> PendingAuthorization | None:
        """Remove and return the pending authorization for `state` in one script: single use, and with
        `session_id` only by the browser session that started it."""
        found = self._take(keys=[self._pending(state)], args=[session_id or ""])
        if not found:
            return None
        body, sid = cast(list[str], found)
        return replace(PendingAuthorization.from_json(body), session_id=sid)

    def has_pending(self, state: str) -> bool:
        """Whether an authorization with this state is pending."""
        return bool(self._r.exists(self._pending(state)))

    def save_context(self, context: LaunchContext) -> None:
        """Insert or replace a launch context, until its hard end."""
        ttl = _ms_until(context.ends_at)
        key = self._context(context.context_id)
        if ttl <= 0:
            self._r.delete(key)
            return
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"body": context.to_json(), "sid": context.session_id})
            pipe.pexpire(key, ttl)
            pipe.execute()
        self._index_add(keys=[self._index(context.session_id, "contexts"), key], args=[context.context_id, ttl])

    def get_context(self, context_id: str) -> LaunchContext | None:
        """The launch context with this id, or None."""
        found = cast(list[str | None], self._r.hmget(self._context(context_id), ["body", "sid"]))
        body, sid = found
        if body is None or sid is None:
            return None
        return replace(LaunchContext.from_json(body), session_id=sid)

    def delete_context(self, context_id: str) -> None:
        """Forget a launch context."""
        self._r.delete(self._context(context_id))

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The data of a browser session, or None when unknown or expired."""
        raw = cast(str | None, self._r.get(self._session(session_id)))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        return data

    def save_session(self, session_id: str, data: dict[str, Any], expires_at: float) -> None:
        """Insert or replace the data of a browser session; Redis lets it go at `expires_at`."""
        ttl = _ms_until(expires_at)
        if ttl <= 0:
            self._r.delete(self._session(session_id))
            return
        self._r.set(self._session(session_id), json.dumps(data), px=ttl)

    def delete_session(self, session_id: str) -> None:
        """Forget a browser session."""
        self._r.delete(self._session(session_id))

    def move_session(self, old: str, new: str) -> None:
        """Bind the launch contexts and pending authorizations of session `old` to `new` (one script)."""
        if old == new:
            return
        self._move(
            keys=[
                self._index(old, "pending"),
                self._index(old, "contexts"),
                self._index(new, "pending"),
                self._index(new, "contexts"),
            ],
            args=[new, self._pending(), self._context()],
        )

    def end_session(self, session_id: str) -> None:
        """Forget a browser session with its launch contexts and pending authorizations (one script)."""
        self._end(
            keys=[self._session(session_id), self._index(session_id, "pending"), self._index(session_id, "contexts")],
            args=[self._pending(), self._context(), session_id],
        )

    def remember_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is seen (until `expires_at`): one SET NX, so only one instance gets True."""
        ttl = max(_ms_until(expires_at), 1)
        return bool(self._r.set(f"{self._p}once:{key}", "1", nx=True, px=ttl))

    def purge_expired(self, now: float | None = None) -> int:
        """Nothing to do: every key carries its own expiry."""
        return 0


# ---------------------------------------------------------------------- the outbox


# KEYS[1] idempotency key -> id, KEYS[2] the id sequence, KEYS[3] the patients-with-pending-entries sorted set.
# ARGV: prefix, now, user, patient, idempotency key, bundle, attempts, error, bases.
# Returns the entry's id (new or the one this idempotency key already has) and 1 when it is new.
_ENQUEUE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {tonumber(existing), 0} end
local id = redis.call('INCR', KEYS[2])
local p = ARGV[1]
redis.call('HSET', p .. 'outbox:entry:' .. id,
  'id', id, 'created', ARGV[2], 'updated', ARGV[2], 'user', ARGV[3], 'patient', ARGV[4],
  'idempotency_key', ARGV[5], 'bundle', ARGV[6], 'attempts', ARGV[7], 'last_error', ARGV[8],
  'state', 'pending', 'bases', ARGV[9], 'history', '[]')
redis.call('SET', KEYS[1], id)
redis.call('ZADD', p .. 'outbox:patient:' .. ARGV[4] .. ':pending', id, id)
local first = redis.call('ZSCORE', KEYS[3], ARGV[4])
if not first or tonumber(first) > id then redis.call('ZADD', KEYS[3], id, ARGV[4]) end
return {id, 1}
"""

# KEYS[1] the patient's lease, KEYS[2] the patient's pending entries. ARGV: owner, lease ms, user or "", prefix.
# Leases the oldest pending entry unless another owner holds the patient's lease (or, with a user, the oldest
# entry is another author's). Returns its id, or false.
_CLAIM = """
local lease = redis.call('GET', KEYS[1])
if lease then
  local holder = string.match(lease, '^(.*) %d+$')
  if holder ~= ARGV[1] then return false end
end
local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if not first then return false end
if ARGV[3] ~= '' and redis.call('HGET', ARGV[4] .. 'outbox:entry:' .. first, 'user') ~= ARGV[3] then
  return false
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. first, 'PX', tonumber(ARGV[2]))
return tonumber(first)
"""

# KEYS[1] the entry, KEYS[2] the patients-with-pending-entries sorted set. ARGV: prefix, id, new state, now,
# error or "", attempts to add, required current state or "", new history JSON or "".
# Moves the entry to its new state (and sorted sets), ends the patient's lease when it was for this entry.
# Returns 1, 0 when the entry is unknown, or the current state when it is not the required one.
_MOVE_ENTRY = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
if ARGV[7] ~= '' and state ~= ARGV[7] then return state end
local p, id = ARGV[1], ARGV[2]
local patient = redis.call('HGET', KEYS[1], 'patient')
local base = p .. 'outbox:patient:' .. patient .. ':'
redis.call('ZREM', base .. state, id)
redis.call('ZADD', base .. ARGV[3], tonumber(id), id)
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'updated', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'last_error', ARGV[5]) end
if ARGV[6] ~= '0' then redis.call('HINCRBY', KEYS[1], 'attempts', tonumber(ARGV[6])) end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'history', ARGV[8]) end
local lease_key = p .. 'outbox:lease:' .. patient
local lease = redis.call('GET', lease_key)
if lease and string.match(lease, ' (%d+)$') == id then redis.call('DEL', lease_key) end
local first = redis.call('ZRANGE', base .. 'pending', 0, 0)[1]
if first then redis.call('ZADD', KEYS[2], tonumber(first), patient) else redis.call('ZREM', KEYS[2], patient) end
return 1
"""


class RedisOutbox(OutboxTransitions):
    """:class:`plugin.sync.outbox.Outbox` in Redis: one queue per patient, shared by every app instance.

    Entry ids come from one counter, so "oldest first" is the id order, as in the SQLite outbox.
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, clock: Callable[[], float] = time.time
    ) -> None:
        self._r = client
        self._p = prefix
        self._clock = clock
        self._enqueue = client.register_script(_ENQUEUE)
        self._claim = client.register_script(_CLAIM)
        self._move = client.register_script(_MOVE_ENTRY)

    def _entry_key(self, entry_id: int | str) -> str:
        return f"{self._p}outbox:entry:{entry_id}"

    def _queue(self, patient: str, state: OutboxState) -> str:
        return f"{self._p}outbox:patient:{patient}:{state.value}"

    @property
    def _patients(self) -> str:
        return f"{self._p}outbox:patients"

    def _now(self) -> str:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC).isoformat(timespec="microseconds")

    def check_writable(self) -> None:
        """Raise ``redis.RedisError`` unless this process can write to Redis (checked at start)."""
        key = f"{self._p}outbox:write-check"
        self._r.set(key, self._now(), px=10_000)
        self._r.delete(key)

    @staticmethod
    def _entry(row: Mapping[str, str]) -> OutboxEntry:
        return OutboxEntry(
            id=int(row["id"]),
            created=dt.datetime.fromisoformat(row["created"]),
            user=row["user"],
            patient=row["patient"],
            idempotency_key=row["idempotency_key"],
            bundle=json.loads(row["bundle"]),
            attempts=int(row["attempts"]),
            last_error=row.get("last_error") or None,
            state=OutboxState(row["state"]),
            updated=dt.datetime.fromisoformat(row["updated"]),
            bases=json.loads(row["bases"]) if row.get("bases") else {},
            history=tuple(OutboxEvent.from_json(e) for e in json.loads(row.get("history") or "[]")),
            server=row.get("server") or None,
        )

    def enqueue(
        self,
        *,
        user: str,
        patient: str,
        idempotency_key: str,
        bundle: JsonDict,
        error: str | None = None,
        bases: JsonDict | None = None,
        server: str | None = None,
    ) -> OutboxEntry:
        """Park a save; the same idempotency key twice yields the one entry (a retried request is no new save)."""
        found = cast(
            list[int],
            self._enqueue(
                keys=[f"{self._p}outbox:key:{idempotency_key}", f"{self._p}outbox:seq", self._patients],
                args=[
                    self._p,
                    self._now(),
                    user,
                    patient,
                    idempotency_key,
                    json.dumps(bundle, ensure_ascii=False),
                    1 if error else 0,
                    error or "",
                    json.dumps(bases, ensure_ascii=False) if bases else "",
                ],
            ),
        )
        entry_id, new = int(found[0]), found[1] == 1
        if new:
            if server:  # the FHIR base it belongs to (a replay sends it only there)
                self._r.hset(self._entry_key(entry_id), "server", server)
            log.warning("outbox: parked save %s for later (%s)", idempotency_key, error or "no reason given")
        entry = self.get(entry_id)
        if entry is None:  # pragma: no cover - the script just wrote it; only a FLUSHALL in between gets here
            raise RuntimeError(f"outbox entry {entry_id} vanished")
        return entry

    def get(self, entry_id: int) -> OutboxEntry | None:
        """One entry by id."""
        row = cast(dict[str, str], self._r.hgetall(self._entry_key(entry_id)))
        return self._entry(row) if row else None

    def _by_state(self, patient: str, state: OutboxState) -> list[OutboxEntry]:
        return self._entries(cast(list[str], self._r.zrange(self._queue(patient, state), 0, -1)))

    def _entries(self, ids: list[str]) -> list[OutboxEntry]:
        """The entries with these ids, in this order, in one round trip (none for no ids; a removed one is left
        out)."""
        if not ids:
            return []
        with self._r.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.hgetall(self._entry_key(entry_id))
            rows = cast(list[dict[str, str]], pipe.execute())
        return [self._entry(row) for row in rows if row]

    def open_for(self, patient: str) -> tuple[list[OutboxEntry], list[OutboxEntry]]:
        """Pending and failed entries of ``patient``, each oldest first: both queues in one round trip, then
        the entries in one more (none when both are empty)."""
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zrange(self._queue(patient, OutboxState.PENDING), 0, -1)
            pipe.zrange(self._queue(patient, OutboxState.FAILED), 0, -1)
            pending_ids, failed_ids = cast(list[list[str]], pipe.execute())
        # An entry that moved between the two reads is shown once, in the state its hash holds now.
        entries = {entry.id: entry for entry in self._entries([*pending_ids, *failed_ids])}
        return (
            [e for e in entries.values() if e.state is OutboxState.PENDING],
            [e for e in entries.values() if e.state is OutboxState.FAILED],
        )

    def pending_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` still waiting, oldest first."""
        return self._by_state(patient, OutboxState.PENDING)

    def failed_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` refused for good, oldest first."""
        return self._by_state(patient, OutboxState.FAILED)

    def discarded_for(self, patient: str) -> list[OutboxEntry]:
        """Entries of ``patient`` let lapse, oldest first."""
        return self._by_state(patient, OutboxState.DISCARDED)

    def patients_pending(self) -> list[str]:
        """Patients with pending entries, by their oldest entry."""
        return cast(list[str], self._r.zrange(self._patients, 0, -1))

    def claim_next(
        self, patient: str, *, owner: str, lease_seconds: float, user: str | None = None
    ) -> OutboxEntry | None:
        """Lease the oldest pending entry of ``patient`` unless another owner is replaying this patient, or
        (with ``user``) that entry is another author's. The check and the lease are one script."""
        found = self._claim(
            keys=[f"{self._p}outbox:lease:{patient}", self._queue(patient, OutboxState.PENDING)],
            args=[owner, max(1, int(lease_seconds * 1000)), user or "", self._p],
        )
        return None if found is None else self.get(int(cast(int, found)))

    def _finish(self, entry_id: int, state: OutboxState, error: str | None, *, count: bool) -> None:
        self._move(
            keys=[self._entry_key(entry_id), self._patients],
            args=[self._p, str(entry_id), state.value, self._now(), error or "", 1 if count else 0, "", ""],
        )

    def _resolve(self, entry_id: int, state: OutboxState, action: str, by: str | None) -> None:
        entry = self.get(entry_id)
        if entry is None:
            raise KeyError(entry_id)
        history = [e.as_json() for e in entry.history]
        if by is not None:
            history.append(OutboxEvent(action, by, dt.datetime.fromtimestamp(self._clock(), dt.UTC)).as_json())
        # The script changes the entry only while it is still failed: of two people resolving it at once, one wins.
        result = self._move(
            keys=[self._entry_key(entry_id), self._patients],
            args=[
                self._p,
                str(entry_id),
                state.value,
                self._now(),
                "",
                0,
                OutboxState.FAILED.value,
                json.dumps(history, ensure_ascii=False),
            ],
        )
        if result == 0:
            raise KeyError(entry_id)
        if result != 1:
            raise ValueError(f"outbox entry {entry_id} is {result}, not failed")


# ---------------------------------------------------------------------- once per submission


# KEYS[1] the submission. ARGV[1] now, ARGV[2] stale age, ARGV[3] keep seconds.
# Claims it (returns false) when unknown or when a claim is "running" past the stale age (a process died);
# else returns its value ("running <time>" or "done <json>").
_CLAIM_SUBMISSION = """
local value = redis.call('GET', KEYS[1])
if value then
  local claimed = string.match(value, '^running (.+)$')
  if not claimed or tonumber(claimed) >= tonumber(ARGV[1]) - tonumber(ARGV[2]) then return value end
end
redis.call('SET', KEYS[1], 'running ' .. ARGV[1], 'EX', tonumber(ARGV[3]))
return false
"""

# KEYS[1] the submission: dropped only while it is still running (a finished save is never released).
_RELEASE_SUBMISSION = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 8) == 'running ' then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisSubmissionLog:
    """:class:`plugin.services.submissions.SubmissionLog` in Redis: one key per (owner, submission key), kept a day.

    A submit that reaches another instance than the first one finds the same claim or result.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        wait_seconds: float = WAIT_SECONDS,
        poll: float = 0.05,
    ) -> None:
        self._r = client
        self._p = prefix
        self.wait_seconds = wait_seconds
        self.poll = poll
        self._claim = client.register_script(_CLAIM_SUBMISSION)
        self._release = client.register_script(_RELEASE_SUBMISSION)

    def _key(self, owner: str, key: str) -> str:
        return f"{self._p}submission:{json.dumps([owner, key])}"

    @staticmethod
    def _recorded(value: str | None) -> Recorded | None:
        if value is None or not value.startswith("done "):
            return None
        data = json.loads(value[5:])
        return Recorded(str(data["state"]), data.get("uid"))

    def claim(self, owner: str, key: str) -> Recorded | None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            value = self._claim(keys=[self._key(owner, key)], args=[repr(time.time()), STALE_SECONDS, KEEP_SECONDS])
            if value is None:
                return None
            recorded = self._recorded(cast(str, value))
            if recorded is not None:
                return recorded
            if time.monotonic() >= deadline:
                raise StillRunning(key)
            time.sleep(self.poll)

    def finish(self, owner: str, key: str, recorded: Recorded) -> None:
        body = json.dumps({"state": recorded.state, "uid": recorded.uid})
        self._r.set(self._key(owner, key), f"done {body}", ex=KEEP_SECONDS)

    def done(self, owner: str, key: str) -> Recorded | None:
        return self._recorded(cast(str | None, self._r.get(self._key(owner, key))))

    def release(self, owner: str, key: str) -> None:
        self._release(keys=[self._key(owner, key)])


# ---------------------------------------------------------------------- capabilities


class RedisCapabilityStore:
    """:class:`plugin.sync.capabilities.CapabilityStore` in Redis (JSON values with a TTL)."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._r = client
        self._p = prefix

    def load(self, key: str) -> JsonDict | None:
        raw = cast(str | None, self._r.get(f"{self._p}capabilities:{key}"))
        if raw is None:
            return None
        data = json.loads(raw)
        return data if isinstance(data, dict) else None

    def save(self, key: str, record: JsonDict, ttl: float | None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._r.set(f"{self._p}capabilities:{key}", json.dumps(record), px=px)
