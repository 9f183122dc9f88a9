"""The invitation text offered before sending (Dutch, plain language; the user may change every word)."""

from __future__ import annotations

from babel.dates import format_date, format_time

from fhir_mappings.codes import product_coding
from fhir_mappings.model import Meeting, ResourceGroup
from plugin.meetings.ics import AMSTERDAM, place_text


def invitation_text(group: ResourceGroup, meeting: Meeting, sender: str = "") -> str:
    """A friendly Dutch invitation naming the day, the time and the place of the meeting."""
    start = meeting.start.astimezone(AMSTERDAM)
    end = meeting.end.astimezone(AMSTERDAM)
    day = format_date(start.date(), "EEEE d MMMM y", locale="nl_NL")
    hours = f"{format_time(start, 'HH:mm', locale='nl_NL')} tot {format_time(end, 'HH:mm', locale='nl_NL')} uur"
    place = place_text(group, meeting)
    lines = [
        "Beste allemaal,",
        "",
        f"Graag nodigen we je uit voor de volgende bijeenkomst van {group.name}.",
        "",
        f"Wanneer: {day}, van {hours}",
        f"Waar: {place}" if place else "Waar: dat laten we je nog weten",
    ]
    theme = meeting.theme_text or (product_coding(meeting.theme)["display"] if meeting.theme is not None else "")
    if theme:
        lines.append(f"Thema: {theme}")
    lines += [
        "",
        "Laat je weten of je erbij kunt zijn? Met de bijlage zet je de bijeenkomst in je kalender.",
        "",
        "Tot dan!",
    ]
    if sender:
        lines.append(sender)
    return "\n".join(lines)
