"""App-level safety: cookies, security headers, CSRF, JWKS, languages, the launch_required helper."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Blueprint, Flask, g, url_for
from launch_fakes import CLIENT_ID, ISS, Clock, FakeEhr, launch, make_app, pending_nonce, query

from plugin.config import AppConfig
from plugin.launch import launch_required
from plugin.session_store import CREATED
from smart_launch import EhrRegistration, SmartClient


def _cookie(app: Flask) -> str:
    browser = app.test_client()
    response = browser.get("/?lang=en")  # stores the language: the session gets data and a cookie
    return response.headers["Set-Cookie"]


def test_cookie_flags_over_https(app: Flask) -> None:
    cookie = _cookie(app)
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=None" in cookie
    assert "Partitioned" in cookie


def test_cookie_flags_for_local_http(clock: Clock) -> None:
    app = make_app(
        clock, public_base_url="http://127.0.0.1:8000", session_cookie_secure=False, session_cookie_samesite="Lax"
    )
    cookie = _cookie(app)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_cookie_is_only_an_opaque_id(app: Flask) -> None:
    value = _cookie(app).split(";")[0].split("=", 1)[1]
    assert len(value) >= 40 and "." not in value  # no signed payload, just a random id
    stored = app.extensions["session_store"].load_session(value)
    assert stored is not None and stored["lang"] == "en" and set(stored) == {"lang", CREATED}


def test_security_headers(app: Flask) -> None:
    response = app.test_client().get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://epd.example.org" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "X-Frame-Options" not in response.headers  # would override frame-ancestors in the EHR iframe
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"  # served over https


def test_no_hsts_over_plain_http(clock: Clock) -> None:
    app = make_app(
        clock, public_base_url="http://127.0.0.1:8000", session_cookie_secure=False, session_cookie_samesite="Lax"
    )
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers


def test_no_inline_script_or_style(app: Flask) -> None:
    html = app.test_client().get("/").get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts, "the page loads its (external) script"
    assert all(body.strip() == "" for body in scripts)  # no inline code
    assert all('src="/static/' in tag for tag in re.findall(r"<script\b[^>]*>", html))  # only the app's own files
    assert "style=" not in html and "<style" not in html and " on" + "click=" not in html


def test_csrf_is_enforced(app: Flask) -> None:
    assert app.config.get("WTF_CSRF_ENABLED", True) is True

    @app.post("/test-form")
    def test_form() -> str:
        return "saved"

    page = app.test_client().post("/test-form", data={"x": "1"})
    assert page.status_code == 400
    assert "Het formulier is verlopen" in page.get_data(as_text=True)


def test_language_switch_is_remembered(app: Flask) -> None:
    browser = app.test_client()
    assert '<html lang="nl">' in browser.get("/").get_data(as_text=True)
    english = browser.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Open your resource group" in english
    assert "Open your resource group" in browser.get("/").get_data(as_text=True)
    assert "Open je resourcegroep" in browser.get("/?lang=nl").get_data(as_text=True)
    assert '<html lang="nl">' in browser.get("/?lang=xx").get_data(as_text=True)


def test_jwks_endpoint(clock: Clock, tmp_path: Path) -> None:
    rsa_pem, ec_pem = tmp_path / "rsa.pem", tmp_path / "ec.pem"
    for path, private in (
        (rsa_pem, rsa.generate_private_key(65537, 2048)),
        (ec_pem, ec.generate_private_key(ec.SECP384R1())),
    ):
        path.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    app = make_app(
        clock,
        ehrs=(
            EhrRegistration(
                name="a",
                iss=ISS,
                client_id=CLIENT_ID,
                client_auth="private_key_jwt",
                private_key_file=str(rsa_pem),
                alg="RS384",
            ),
            EhrRegistration(
                name="b",
                iss="https://b.example.org/fhir",
                client_id="x",
                client_auth="private_key_jwt",
                private_key_file=str(ec_pem),
                alg="ES384",
            ),
        ),
    )
    response = app.test_client().get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.get_json()["keys"]
    client: SmartClient = app.extensions["smart_client"]
    assert sorted(k["kid"] for k in keys) == sorted(k.kid for k in client.signing_keys())
    assert {k["alg"] for k in keys} == {"RS384", "ES384"}
    assert all("d" not in k for k in keys)


def test_launch_required_for_other_blueprints(clock: Clock, ehr: FakeEhr) -> None:
    app = make_app(clock)
    extra = Blueprint("extra", __name__)

    @extra.get("/c/<context_id>/extra")
    @launch_required
    def view(context_id: str) -> str:
        assert g.launch.context_id == context_id
        link = url_for("extra.view")  # context_id is filled in from g.launch
        return f"{g.launch.patient_id}|{g.launch.can_write}|{g.launch.fhir_user_reference}|{link}"

    app.register_blueprint(extra)
    browser = app.test_client()
    home = launch(app, browser, ehr)
    context_id = home.strip("/").split("/")[1]
    body = browser.get(f"/c/{context_id}/extra").get_data(as_text=True)
    assert body == f"p1|True|Practitioner/pr1|/c/{context_id}/extra"
    assert app.test_client().get(f"/c/{context_id}/extra").status_code == 403


def test_home_endpoint_is_configurable(app: Flask, ehr: FakeEhr) -> None:
    other = Blueprint("elsewhere", __name__)

    @other.get("/c/<context_id>/groep")
    def group(context_id: str) -> str:
        return context_id

    app.register_blueprint(other)
    app.config["HOME_ENDPOINT"] = "elsewhere.group"
    browser = app.test_client()
    start = browser.get(f"/launch?iss={ISS}&launch=L")
    state = query(start.headers["Location"])["state"]
    ehr.answer_token(pending_nonce(app, state))
    target = browser.get(f"/callback?code=c&state={state}").headers["Location"]
    assert target.startswith("/c/") and target.endswith("/groep")


def test_config_type_is_exposed(app: Flask) -> None:
    assert isinstance(app.config["RESOURCEGROEP"], AppConfig)
