"""FHIR contract tests: every test runs against the sandbox store and the Medplum engine."""
