"""Attacks on the running app (issue 13): each ends in a clear refusal and leaves the FHIR record unchanged."""
