"""The invitation text offered before sending (Dutch, plain language; the user may change every word)."""

from __future__ import annotations

from babel.dates import format_date, format_time

from fhir_mappings.codes import product_coding
from fhir_mappings.model import CLINIC_ZONE, Meeting, ResourceGroup
from plugin.meetings.ics import place_text


def invitation_text(group: ResourceGroup, meeting: Meeting, sender: str = "") -> str:
    """A friendly Dutch invitation naming the day, the time and the place of the meeting."""
    start = meeting.start.astimezone(CLINIC_ZONE)
    end = meeting.end.astimezone(CLINIC_ZONE)
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


def _when(meeting: Meeting) -> str:
    start = meeting.start.astimezone(CLINIC_ZONE)
    day = format_date(start.date(), "EEEE d MMMM y", locale="nl_NL")
    return f"{day} om {format_time(start, 'HH:mm', locale='nl_NL')} uur"


def cancellation_text(group: ResourceGroup, meeting: Meeting) -> str:
    """The notice to the invitees that a meeting does not take place."""
    return "\n".join(
        [
            "Beste allemaal,",
            "",
            f"De bijeenkomst van {group.name} op {_when(meeting)} gaat niet door.",
            "Met de bijlage haal je de bijeenkomst uit je kalender.",
        ]
    )


def update_text(group: ResourceGroup, meeting: Meeting, answers_reset: bool) -> str:
    """The updated invitation after a meeting was moved; asks for a new answer when the day or time changed."""
    place = place_text(group, meeting)
    lines = [
        "Beste allemaal,",
        "",
        f"De bijeenkomst van {group.name} is verplaatst.",
        "",
        f"Nieuwe tijd: {_when(meeting)}",
        f"Waar: {place}" if place else "Waar: dat laten we je nog weten",
    ]
    if answers_reset:
        lines += ["", "Laat je opnieuw weten of je erbij kunt zijn?"]
    lines += ["Met de bijlage werk je de bijeenkomst in je kalender bij."]
    return "\n".join(lines)
