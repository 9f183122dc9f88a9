"""Shared pieces of the pages: form fields, the action runner, Dutch date formatting."""
