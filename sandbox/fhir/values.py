"""Parsing of FHIR values the store indexes and searches on: references, dates, strings, tokens."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, datetime, timedelta

from sandbox.fhir.errors import invalid

# Sortable, fixed-width UTC timestamps: plain string comparison orders them in time.
LOWEST = "0000-01-01T00:00:00.000000"
HIGHEST = "9999-12-31T23:59:59.999999"

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]+$")
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def is_valid_id(value: str) -> bool:
    """True when `value` is a legal FHIR logical id."""
    return bool(_ID_RE.match(value))


def split_reference(ref: str) -> tuple[str, str] | None:
    """("Type", "id") for a literal reference (relative, absolute or versioned), else None."""
    if not ref or ref.startswith(("#", "urn:")):
        return None
    path = ref.split("?", 1)[0]
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and _TYPE_RE.match(parts[-2]) and is_valid_id(parts[-1]):
        return parts[-2], parts[-1]
    return None


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


def date_range(value: str) -> tuple[str, str] | None:
    """The [low, high] UTC range a FHIR date/dateTime/instant value covers, or None if malformed."""
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    y = int(m["y"])
    try:
        if m["m"] is None:
            return _fmt(datetime(y, 1, 1)), _fmt(datetime(y, 12, 31, 23, 59, 59, 999999))
        mo = int(m["m"])
        if m["d"] is None:
            last = calendar.monthrange(y, mo)[1]
            return _fmt(datetime(y, mo, 1)), _fmt(datetime(y, mo, last, 23, 59, 59, 999999))
        d = int(m["d"])
        if m["H"] is None:
            return _fmt(datetime(y, mo, d)), _fmt(datetime(y, mo, d, 23, 59, 59, 999999))
        low = datetime(y, mo, d, int(m["H"]), int(m["M"]))
        if m["S"] is None:
            span = timedelta(minutes=1) - timedelta(microseconds=1)
        elif m["f"] is None:
            low = low.replace(second=int(m["S"]))
            span = timedelta(seconds=1) - timedelta(microseconds=1)
        else:
            low = low.replace(second=int(m["S"]), microsecond=int((m["f"] + "000000")[:6]))
            span = timedelta(0)
    except ValueError:
        return None
    tz = m["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
        low = low - sign * offset
    return _fmt(low), _fmt(low + span)


def parse_date_search(value: str) -> tuple[str, str, str]:
    """Split a date search value into (prefix, low, high); 400 when malformed."""
    prefix = "eq"
    if len(value) > 2 and value[:2] in DATE_PREFIXES:
        prefix, value = value[:2], value[2:]
    rng = date_range(value)
    if rng is None:
        raise invalid(f"Invalid date search value '{value}'")
    if prefix == "ap":
        # "approximately": widen by 10% of the distance to now, at least one day.
        low = datetime.strptime(rng[0], "%Y-%m-%dT%H:%M:%S.%f")
        now = datetime.now(UTC).replace(tzinfo=None)
        margin = max(abs(now - low) / 10, timedelta(days=1))
        high = datetime.strptime(rng[1], "%Y-%m-%dT%H:%M:%S.%f")
        return prefix, _fmt(low - margin), _fmt(high + margin)
    return prefix, rng[0], rng[1]


def normalize_string(value: str) -> str:
    """Case- and accent-insensitive form used for string search."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def parse_token(value: str) -> tuple[str | None, str | None, bool]:
    """(system, code, system_given) for a token search value: `code`, `sys|code`, `|code`, `sys|`."""
    if "|" not in value:
        return None, value, False
    system, code = value.split("|", 1)
    return system, (code or None), True


def split_or(value: str) -> list[str]:
    """Split a search value on unescaped commas (OR) and unescape `\\,` `\\|` `\\$`."""
    parts: list[str] = []
    buf: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            buf.append(ch if ch in ",$|\\" else "\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts
