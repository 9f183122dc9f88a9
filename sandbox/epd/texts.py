"""User-facing texts of the sandbox EPD pages (Dutch first, English)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "skip_link": {"nl": "Naar de inhoud", "en": "Skip to content"},
    "koppeltaal_launch_title": {"nl": "Module starten", "en": "Starting the module"},
    "koppeltaal_launch_intro": {
        "nl": "De module wordt gestart via Koppeltaal.",
        "en": "The module is being started through Koppeltaal.",
    },
    "koppeltaal_launch_button": {"nl": "Start de module", "en": "Start the module"},
    "other_language": {"nl": "English", "en": "Nederlands"},
    "main_nav": {"nl": "Hoofdmenu", "en": "Main menu"},
    "nav_patients": {"nl": "Patiënten", "en": "Patients"},
    "nav_portal": {"nl": "Patiëntportaal", "en": "Patient portal"},
    "sandbox_note": {
        "nl": "Oefenomgeving: alle gegevens zijn verzonnen.",
        "en": "Practice environment: all data is made up.",
    },
    "logged_in_as": {"nl": "Ingelogd als {name}", "en": "Signed in as {name}"},
    "logout": {"nl": "Uitloggen", "en": "Sign out"},
    "login_title": {"nl": "Inloggen in het EPD", "en": "Sign in to the EHR"},
    "login_intro": {
        "nl": "Er zijn geen wachtwoorden in deze oefenomgeving. Kies welke zorgverlener u bent.",
        "en": "There are no passwords in this practice environment. Choose which care provider you are.",
    },
    "practitioners": {"nl": "Zorgverleners", "en": "Care providers"},
    "no_practitioners": {
        "nl": "Er staan nog geen zorgverleners in het EPD.",
        "en": "The EHR has no care providers yet.",
    },
    "login_button": {"nl": "Inloggen", "en": "Sign in"},
    "choose_practitioner": {"nl": "Kies eerst een zorgverlener.", "en": "Please choose a care provider first."},
    "patients_title": {"nl": "Mijn patiënten", "en": "My patients"},
    "patients_caption": {"nl": "Patiënten in het EPD", "en": "Patients in the EHR"},
    "col_name": {"nl": "Naam", "en": "Name"},
    "col_number": {"nl": "Patiëntnummer", "en": "Patient number"},
    "no_patients": {"nl": "Er staan nog geen patiënten in het EPD.", "en": "The EHR has no patients yet."},
    "banner_label": {"nl": "Patiëntgegevens", "en": "Patient details"},
    "patient_number": {"nl": "Patiëntnummer", "en": "Patient number"},
    "apps": {"nl": "Apps", "en": "Apps"},
    "open_app": {"nl": "{app} openen", "en": "Open {app}"},
    "app_hint": {
        "nl": "De app {app} opent hieronder, binnen het dossier van deze patiënt.",
        "en": "The app {app} opens below, inside this patient's record.",
    },
    "app_frame_title": {"nl": "{app} voor {patient}", "en": "{app} for {patient}"},
    "back_to_patients": {"nl": "Terug naar patiënten", "en": "Back to patients"},
    "not_found_title": {"nl": "Niet gevonden", "en": "Not found"},
    "patient_not_found": {
        "nl": "Deze patiënt bestaat niet in het EPD.",
        "en": "This patient does not exist in the EHR.",
    },
    "portal_title": {"nl": "Patiëntportaal", "en": "Patient portal"},
    "portal_intro": {
        "nl": "Welkom. Er zijn geen wachtwoorden in deze oefenomgeving. Kies wie u bent.",
        "en": "Welcome. There are no passwords in this practice environment. Choose who you are.",
    },
    "who_are_you": {"nl": "Wie bent u?", "en": "Who are you?"},
    "choose_patient": {"nl": "Kies eerst wie u bent.", "en": "Please choose who you are first."},
    "portal_related": {
        "nl": "Of bent u een naaste: familie of vriend van een patiënt?",
        "en": "Or are you close to a patient: family or a friend?",
    },
    "related_of": {"nl": "naaste van {patient}", "en": "close to {patient}"},
    "portal_related_intro": {
        "nl": "U bent in het portaal als naaste van {patient}.",
        "en": "You are in the portal as someone close to {patient}.",
    },
    "portal_related_app_intro": {
        "nl": "In de app {app} ziet u de bijeenkomsten van de resourcegroep van {patient}, "
        "de verslagen en uw eigen afspraken.",
        "en": "In the app {app} you see the meetings of {patient}'s resource group, "
        "the reports and your own agreements.",
    },
    "portal_welcome": {"nl": "Welkom, {name}", "en": "Welcome, {name}"},
    "portal_app_intro": {
        "nl": "Met de app {app} houdt u samen met uw netwerk zicht op uw doelen en afspraken.",
        "en": "With the app {app} you and your network keep track of your goals and agreements.",
    },
}
