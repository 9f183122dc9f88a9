"""The notes area: a meeting's agenda (before) and report (after), with print views for the patient."""
