"""The meetings area: plan meetings, places and themes, roles, invitations with a calendar file, responses, status."""
