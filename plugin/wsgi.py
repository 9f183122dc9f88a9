"""The WSGI entry point: ``gunicorn plugin.wsgi:application``.

The app is built from the configuration the app always reads: the TOML file named by RESOURCEGROEP_CONFIG plus the
RESOURCEGROEP_* environment overrides (see docs/configuration.md).
"""

from __future__ import annotations

from plugin.app import create_app
from plugin.banner import hide_gunicorn_banner

hide_gunicorn_banner()
application = create_app()
app = application  # the name some servers look for
