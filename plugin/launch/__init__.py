"""Launch wiring: EHR and standalone launch, the redirect URI, the app's JWKS, and the launch context helper."""

from __future__ import annotations

from plugin.launch.context import ActiveLaunch, launch_required, smart_client
from plugin.launch.views import bp

__all__ = ["ActiveLaunch", "bp", "launch_required", "smart_client"]
