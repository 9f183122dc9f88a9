"""Agreements: who in the group does what, by when, for which goal; overdue ones stand out."""
