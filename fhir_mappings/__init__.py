"""Resource group domain model and its mapping to and from FHIR R4 (pure: no I/O)."""
