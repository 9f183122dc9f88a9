"""EPD-like pages of the sandbox: patient list, patient page that opens the app through an EHR launch in
an iframe, and a patient portal for the patient's own (standalone) launch."""

from sandbox.epd.views import (
    PORTAL_SESSION_KEY,
    PRACTITIONER_SESSION_KEY,
    EpdConfig,
    LaunchIssuer,
    create_epd_blueprint,
    ehr_launch_url,
    standalone_url,
)

__all__ = [
    "PORTAL_SESSION_KEY",
    "PRACTITIONER_SESSION_KEY",
    "EpdConfig",
    "LaunchIssuer",
    "create_epd_blueprint",
    "ehr_launch_url",
    "standalone_url",
]
