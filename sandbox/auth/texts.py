"""User-facing texts of the sandbox login pages (Dutch first, English)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "site_name": {"nl": "Sandbox-EPD · inloggen", "en": "Sandbox EHR · sign in"},
    "skip_link": {"nl": "Naar de inhoud", "en": "Skip to content"},
    "other_language": {"nl": "English", "en": "Nederlands"},
    "sandbox_note": {
        "nl": "Dit is een oefenomgeving. Er zijn geen wachtwoorden: kies gewoon wie u bent.",
        "en": "This is a practice environment. There are no passwords: just choose who you are.",
    },
    "login_title": {"nl": "Wie bent u?", "en": "Who are you?"},
    "login_intro": {
        "nl": "De app {client} wil uw gegevens gebruiken. Kies hieronder wie u bent.",
        "en": "The app {client} wants to use your data. Choose who you are below.",
    },
    "practitioners": {"nl": "Zorgverleners", "en": "Care providers"},
    "patients": {"nl": "Patiënten", "en": "Patients"},
    "related_people": {
        "nl": "Naasten (familie en vrienden van een patiënt)",
        "en": "Related people (a patient's family and friends)",
    },
    "nobody": {"nl": "Er staan nog geen personen in het sandbox-EPD.", "en": "The sandbox EHR has no people yet."},
    "login_button": {"nl": "Inloggen", "en": "Sign in"},
    "choose_someone": {"nl": "Kies eerst een persoon.", "en": "Please choose a person first."},
    "pick_patient_title": {"nl": "Voor welke patiënt?", "en": "For which patient?"},
    "pick_patient_intro": {
        "nl": "U bent ingelogd als {user}. Kies de patiënt voor wie u de app {client} opent.",
        "en": "You are signed in as {user}. Choose the patient for whom you open the app {client}.",
    },
    "choose_patient": {"nl": "Kies eerst een patiënt.", "en": "Please choose a patient first."},
    "continue_button": {"nl": "Verder", "en": "Continue"},
    "patient_number": {"nl": "patiëntnummer {id}", "en": "patient number {id}"},
    "error_title": {"nl": "Inloggen lukt niet", "en": "Sign-in failed"},
    "error_intro": {
        "nl": "De app vroeg iets wat het sandbox-EPD niet kan goedkeuren. "
        "Sluit dit venster en start de app opnieuw vanuit het EPD.",
        "en": "The app asked for something the sandbox EHR cannot approve. "
        "Close this window and start the app again from the EHR.",
    },
    "error_details": {"nl": "Technische details", "en": "Technical details"},
    "kt_mismatch_title": {"nl": "U bent als iemand anders ingelogd", "en": "You are signed in as someone else"},
    "kt_mismatch_intro": {
        "nl": "U bent ingelogd als {user}, maar de koppeling naar de app {client} is voor iemand anders gemaakt. "
        "Daarom opent de app niet. Log in als de juiste persoon en start de app opnieuw vanuit het portaal of het EPD.",
        "en": "You are signed in as {user}, but the link to the app {client} was made for someone else. "
        "So the app does not open. Sign in as the right person and start the app again from the portal or the EHR.",
    },
}
