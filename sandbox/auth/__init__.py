"""Sandbox authorization server (SMART App Launch 2.2, server side), built on Authlib.

Typical wiring (the sandbox app does this)::

    config = AuthServerConfig.from_dict({
        "issuer": "http://127.0.0.1:8400/auth",
        "fhir_base_url": "http://127.0.0.1:8400/fhir",
        "clients": [{"client_id": "resourcegroep", "auth_method": "none",
                     "redirect_uris": ["http://127.0.0.1:8500/callback"]}],
    })
    server = SandboxAuthServer(config, directory)
    app.register_blueprint(create_auth_blueprint(server))          # /auth/authorize, /auth/token, ...
    app.add_url_rule("/fhir/.well-known/smart-configuration",
                     view_func=server.smart_configuration_response)
    verifier: TokenVerifier = server.verify_token                   # for the FHIR endpoint
"""

from sandbox.auth.config import AuthServerConfig, ClientConfig, ConfigError
from sandbox.auth.directory import StaticDirectory
from sandbox.auth.server import SMART_CAPABILITIES, SandboxAuthServer
from sandbox.auth.store import LaunchContext, Subject
from sandbox.auth.views import SSO_SESSION_KEY, create_auth_blueprint

__all__ = [
    "SMART_CAPABILITIES",
    "SSO_SESSION_KEY",
    "AuthServerConfig",
    "ClientConfig",
    "ConfigError",
    "LaunchContext",
    "SandboxAuthServer",
    "StaticDirectory",
    "Subject",
    "create_auth_blueprint",
]
