"""Attacks on the login and the session of the running app: CSRF, the OAuth callback (replay, a stranger's state),
PKCE, the `iss` allow-list, session fixation, a tampered cookie and a forged id_token. Every attack ends in a
refusal with a Dutch page and leaves the FHIR record as it was."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import RSAKey

from tests.security.attack import ANNA, BRAM, SANNE, Browser, assert_unchanged, record, refused
from tests.support.servers import free_port
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

CSRF_TITLE = "Het formulier is verlopen"
STATE_TITLE = "Deze inlog kan niet worden gecontroleerd"
NO_ACCESS = "Geen toegang tot deze pagina"
DENIED_TITLE = "Het EPD gaf geen toegang"
UNKNOWN_EHR = "Dit EPD is niet aangemeld"
UNKNOWN_EHR_ADDRESS = "Onbekend EPD-adres"
ID_TOKEN_TITLE = "De inlog kon niet worden gecontroleerd"

# A save of each kind an attacker would like to slip in (each valid with a valid token).
SAVES = (
    ("naam", {"name": "Overgenomen door een aanvaller"}),
    ("doelen/nieuw", {"text": "Doel van een aanvaller", "term": "kort"}),
    ("afspraken/nieuw", {"description": "Afspraak van een aanvaller", "owner": f"Patient/{SANNE}"}),
    ("leden/nomineren/naaste", {"name": "Een aanvaller", "relationship": "FRND"}),
)


# ------------------------------------------------------------------------------------------------ the oracle


def test_the_record_snapshot_sees_a_save(stack: Stack) -> None:
    """What proves "nothing changed" everywhere here: a genuine save does change the snapshot."""
    anna = Browser.ehr(stack, ANNA, SANNE)
    before = record(stack)

    saved = anna.post("naam", {"name": "Team Sanne en vrienden"})

    assert saved.status_code == 303, saved.text[-800:]
    after = record(stack)
    assert after != before and after.versions > before.versions
    assert {t for t, _, _ in after.changed_since(before)} >= {"CareTeam", "Provenance"}


# ------------------------------------------------------------------------------------------------ CSRF


@pytest.mark.parametrize(("path", "form"), SAVES, ids=[p for p, _ in SAVES])
def test_a_post_without_a_csrf_token_is_refused(stack: Stack, path: str, form: dict[str, str]) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    before = record(stack)

    response = anna.post(path, form, csrf=False)

    refused(response, 400, CSRF_TITLE, path)
    assert_unchanged(stack, before, path)


@pytest.mark.parametrize(("path", "form"), SAVES, ids=[p for p, _ in SAVES])
def test_a_post_with_another_sessions_csrf_token_is_refused(stack: Stack, path: str, form: dict[str, str]) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    attacker = Browser.ehr(stack, ANNA, SANNE)  # the same user in another browser: a token of a valid session
    foreign = attacker.csrf_token()
    before = record(stack)

    response = anna.post(path, form, csrf=foreign)

    refused(response, 400, CSRF_TITLE, path)
    assert_unchanged(stack, before, path)


def test_a_made_up_or_emptied_csrf_token_is_refused(stack: Stack) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    token = anna.csrf_token()
    before = record(stack)
    for forged in ("", "x", token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + "."):
        response = anna.post("naam", [("name", "Vervalst"), ("csrf_token", forged)])
        refused(response, 400, CSRF_TITLE, repr(forged))
    assert_unchanged(stack, before)


def test_the_victims_token_in_the_attackers_browser_opens_nothing(stack: Stack) -> None:
    """A token read from the victim's page does not help a browser without the victim's session."""
    anna = Browser.ehr(stack, ANNA, SANNE)
    token = anna.csrf_token()
    attacker = Browser(stack)
    before = record(stack)

    response = attacker.post(anna.url("naam"), {"name": "Overgenomen"}, csrf=token)

    refused(response, (400, 403), CSRF_TITLE if response.status_code == 400 else NO_ACCESS)
    assert_unchanged(stack, before)


# ------------------------------------------------------------------------------------------------ the callback


def test_a_replayed_callback_is_refused_in_the_same_and_in_another_browser(stack: Stack) -> None:
    victim = Browser(stack)
    victim.epd_login(ANNA)
    callback = victim.callback_url(SANNE)
    opened = victim.http.get(callback, allow_redirects=False, timeout=30)
    assert opened.status_code == 303 and "/c/" in opened.headers["Location"]
    before = record(stack)

    again = victim.http.get(callback, allow_redirects=False, timeout=30)
    elsewhere = requests.get(callback, allow_redirects=False, timeout=30)

    refused(again, 400, STATE_TITLE, "replay in the same browser")
    refused(elsewhere, 400, STATE_TITLE, "replay in another browser")
    assert "Location" not in again.headers and "Location" not in elsewhere.headers
    assert_unchanged(stack, before)


def test_a_strangers_state_is_refused_and_does_not_burn_the_victims_login(stack: Stack) -> None:
    victim = Browser(stack)
    victim.epd_login(ANNA)
    callback = victim.callback_url(SANNE)  # code + state the attacker got hold of (a log, a Referer, a proxy)
    attacker = Browser(stack)
    attacker.epd_login(BRAM)  # logged in at the EPD and at the app in their own right
    attacker.http.get(stack.app_url + "/", timeout=30)
    before = record(stack)

    stolen = attacker.http.get(callback, allow_redirects=False, timeout=30)

    refused(stolen, 400, STATE_TITLE, "a stranger's callback")
    assert "Location" not in stolen.headers
    # The victim's own callback still works: the stranger did not consume the state (nor the code).
    own = victim.http.get(callback, allow_redirects=True, timeout=30)
    assert own.status_code == 200 and "/c/" in own.url, own.text[-500:]
    assert_unchanged(stack, before)


def test_a_callback_without_state_or_with_a_made_up_one_is_refused(stack: Stack) -> None:
    victim = Browser(stack)
    victim.epd_login(ANNA)
    callback = victim.callback_url(SANNE)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    before = record(stack)
    for query in ({"code": code}, {"code": code, "state": "made-up-state-value-0123456789"}):
        response = victim.http.get(f"{stack.app_url}/callback?{urlencode(query)}", allow_redirects=False, timeout=30)
        refused(response, 400, STATE_TITLE, str(sorted(query)))
    assert_unchanged(stack, before)


# ------------------------------------------------------------------------------------------------ PKCE


def _without_pkce(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qs(parts.query).items() if k not in ("code_challenge", "code_challenge_method")]
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode([(k, v[0]) for k, v in query])}"


def _plain_pkce(url: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(code_challenge="p" * 64, code_challenge_method="plain")
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def _s256_without_method(url: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "code_challenge_method"}
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize(
    "tamper", [_without_pkce, _plain_pkce, _s256_without_method], ids=["missing", "plain", "no-method"]
)
def test_the_sandbox_authorize_endpoint_refuses_a_request_without_s256_pkce(
    stack: Stack, tamper: Callable[[str], str]
) -> None:
    browser = Browser(stack)
    browser.epd_login(ANNA)
    genuine = browser.authorize_url(SANNE)
    assert "code_challenge_method=S256" in genuine  # what the app itself sends
    before = record(stack)

    answer = browser.http.get(tamper(genuine), allow_redirects=False, timeout=30)

    location = answer.headers.get("Location", "")
    query = parse_qs(urlsplit(location).query)
    assert answer.status_code in (302, 303, 400), answer.status_code
    assert "code" not in query, f"the sandbox issued a code without S256 PKCE: {location}"
    if location:  # refused the OAuth way: back to the app with an error, which the app shows in Dutch
        assert location.startswith(f"{stack.app_url}/callback?") and query["error"] == ["invalid_request"]
        shown = browser.http.get(location, allow_redirects=False, timeout=30)
        refused(shown, 403, DENIED_TITLE)
        assert "Location" not in shown.headers
    assert_unchanged(stack, before)


# ------------------------------------------------------------------------------------------------ iss


@contextmanager
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A would-be EHR on a loopback port that records every request it gets (it must get none)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = json.dumps({"authorization_endpoint": "http://evil.invalid/authorize"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_an_iss_not_on_the_allow_list_is_refused_without_contacting_it(stack: Stack) -> None:
    browser = Browser(stack)
    browser.epd_login(ANNA)
    launch = parse_qs(urlsplit(browser.iframe(SANNE)).query)["launch"][0]
    registered = urlsplit(stack.fhir_base)
    before = record(stack)
    with counting_server() as (evil, hits):
        look_alikes = [  # a trailing slash is the same server (normalised); these are not
            f"{evil}/fhir",
            stack.fhir_base + "x",
            stack.fhir_base.replace("http://", "https://"),
            f"http://{registered.netloc}@{urlsplit(evil).netloc}/fhir",
            f"{evil}/fhir?{registered.netloc}",
            stack.fhir_base.replace("/fhir", "/fhir/../evil/fhir"),
        ]
        for iss in look_alikes:
            response = browser.get(f"{stack.app_url}/launch?{urlencode({'iss': iss, 'launch': launch})}")
            refused(response, 400, UNKNOWN_EHR if "Onbekend" not in response.text else UNKNOWN_EHR_ADDRESS, iss)
            assert "Location" not in response.headers, iss
        for query in ({"launch": launch}, {"iss": "", "launch": launch}, {"iss": "javascript:alert(1)"}):
            response = browser.get(f"{stack.app_url}/launch?{urlencode(query)}")
            refused(response, 400, UNKNOWN_EHR_ADDRESS, str(query))
        assert hits == [], f"the app contacted an EHR that is not on the allow-list: {hits}"
    assert_unchanged(stack, before)


# ------------------------------------------------------------------------------------------------ sessions


def _plant(browser: Browser, sid: str) -> None:
    browser.http.cookies.set("rg_session", sid, domain="127.0.0.1", path="/")


@pytest.mark.parametrize("kind", ["made-up", "issued-to-the-attacker"])
def test_a_planted_session_id_is_worth_nothing_after_the_launch(stack: Stack, kind: str) -> None:
    attacker = Browser(stack)
    if kind == "made-up":
        planted = "attacker-chosen-session-id-0123456789abcdef"
    else:
        attacker.epd_login(BRAM)
        attacker.authorize_url(SANNE)  # starting a launch gives the attacker a real session id of the app
        planted = attacker.app_cookie
        assert planted
    _plant(attacker, planted)
    victim = Browser(stack)
    victim.epd_login(ANNA)
    _plant(victim, planted)  # e.g. through a sibling subdomain or a link that sets the cookie

    victim.finish(victim.http.get(victim.iframe(SANNE), timeout=30))

    assert victim.app_cookie and victim.app_cookie != planted
    before = record(stack)
    page = attacker.get(victim.context_url)
    refused(page, 403, NO_ACCESS, "the planted id after the victim's launch")
    save = attacker.post(victim.url("naam"), {"name": "Gekaapt"}, csrf=victim.csrf_token())
    assert save.status_code in (400, 403), save.status_code
    assert_unchanged(stack, before)


def _tampered(sid: str) -> list[str]:
    flipped = sid[:-1] + ("A" if sid[-1] != "A" else "B")
    return [flipped, sid + "x", sid[:-4], sid.upper() if sid.upper() != sid else sid.lower(), f"{sid}.{sid}", ""]


def test_a_tampered_session_cookie_opens_nothing(stack: Stack) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    genuine = anna.app_cookie
    token = anna.csrf_token()
    before = record(stack)
    for cookie in _tampered(genuine):
        thief = Browser(stack)
        _plant(thief, cookie)
        page = thief.get(anna.context_url)
        refused(page, 403, NO_ACCESS, f"GET with cookie {cookie!r}")
        save = thief.post(anna.url("naam"), {"name": "Gekaapt"}, csrf=token)
        assert save.status_code in (400, 403), (cookie, save.status_code)
    assert anna.get().status_code == 200  # the genuine session still works
    assert_unchanged(stack, before)


def test_a_context_id_of_another_browser_opens_nothing(stack: Stack) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    bram = Browser.ehr(stack, BRAM, "mohammed-el-amrani")  # logged in, with a launch of their own
    before = record(stack)
    for path in ("", "leden", "doelen", "afspraken", "bijeenkomsten", "verbinding", "tijdlijn"):
        refused(bram.get(anna.url(path)), 403, NO_ACCESS, path)
    save = bram.post(anna.url("naam"), {"name": "Gekaapt"}, csrf=bram.csrf_token())
    refused(save, (400, 403), NO_ACCESS if save.status_code == 403 else CSRF_TITLE)
    assert_unchanged(stack, before)


# ------------------------------------------------------------------------------------------------ id_token


class TokenRewriter:
    """WSGI middleware put in front of the running sandbox: rewrites the id_token in its token responses.

    The sandbox itself cannot be asked to sign a bad id_token, so this plays an authorization server (or a
    man in the middle) that does: the app's request and the sandbox's answer are real, only the id_token changes.
    """

    def __init__(self, app: Any, token_path: str, rewrite: Callable[[str], str]) -> None:
        self.app, self.token_path, self.rewrite = app, token_path, rewrite
        self.rewritten = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != self.token_path:
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        if captured["status"].startswith("200"):
            payload = json.loads(body)
            if "id_token" in payload:
                payload["id_token"] = self.rewrite(payload["id_token"])
                self.rewritten += 1
            body = json.dumps(payload).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _claims_and_header(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The claims and header of the sandbox's genuine id_token (read, not verified)."""
    compact = jws.extract_compact(token.encode())
    return json.loads(compact.payload), dict(compact.headers())


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def alg_none(stack: Stack) -> Callable[[str], str]:
    def rewrite(token: str) -> str:
        claims, header = _claims_and_header(token)
        return f"{_b64({**header, 'alg': 'none'})}.{_b64(claims)}."

    return rewrite


def wrong_key(stack: Stack) -> Callable[[str], str]:
    intruder = RSAKey.generate_key(2048, private=True)

    def rewrite(token: str) -> str:
        claims, header = _claims_and_header(token)
        return jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, intruder)  # the server's kid, not its key

    return rewrite


def wrong_aud(stack: Stack) -> Callable[[str], str]:
    server_key = stack.sandbox.auth.key.private_key

    def rewrite(token: str) -> str:
        claims, header = _claims_and_header(token)
        return jwt.encode(header, {**claims, "aud": "another-app"}, server_key)  # the server's own key

    return rewrite


def hmac_with_public_key(stack: Stack) -> Callable[[str], str]:
    """alg confusion: HS256 keyed with the server's public key (which anyone can fetch from its JWKS)."""
    public_pem = stack.sandbox.auth.key.private_key.as_pem(private=False)

    def rewrite(token: str) -> str:
        claims, header = _claims_and_header(token)
        signing_input = f"{_b64({'alg': 'HS256', 'kid': header['kid']})}.{_b64(claims)}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()  # joserfc refuses to make this
        return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    return rewrite


@pytest.mark.parametrize("forge", [alg_none, wrong_key, wrong_aud, hmac_with_public_key], ids=lambda f: f.__name__)
def test_a_forged_id_token_ends_the_launch(stack: Stack, forge: Callable[[Stack], Callable[[str], str]]) -> None:
    sandbox_app = stack.sandbox.app
    original = sandbox_app.wsgi_app
    rewriter = TokenRewriter(original, urlsplit(stack.sandbox.auth.token_endpoint).path, forge(stack))
    browser = Browser(stack)
    browser.epd_login(ANNA)
    callback = browser.callback_url(SANNE)
    before = record(stack)
    sandbox_app.wsgi_app = rewriter  # type: ignore[method-assign]
    try:
        response = browser.http.get(callback, allow_redirects=False, timeout=30)
    finally:
        sandbox_app.wsgi_app = original  # type: ignore[method-assign]

    assert rewriter.rewritten == 1, "the token response was not rewritten: the attack did not happen"
    refused(response, 502, ID_TOKEN_TITLE, forge.__name__)
    assert "Location" not in response.headers
    assert_unchanged(stack, before)


# ------------------------------------------------------------------------------------------------ launch and logout


def test_a_launch_value_opened_in_another_browser_gives_no_access(stack: Stack) -> None:
    """Bram's iframe URL (with its `launch`) opened in Lotte's browser: the sandbox EPD binds a launch to the
    browser session that made it, so Lotte does not get Bram's launch (nor "logged in as Bram")."""
    bram = Browser(stack)
    bram.epd_login(BRAM)
    src = bram.iframe(SANNE)
    lotte = Browser(stack)
    lotte.epd_login("lotte-smit")
    before = record(stack)

    response = lotte.http.get(src, timeout=30)

    assert "/c/" not in response.url, f"Lotte got a launch made for Bram: {response.url}"
    refused(response, 403, DENIED_TITLE, "Bram's launch in Lotte's browser")
    assert "error=access_denied" in response.url and "Bram Jansen" not in response.text
    assert_unchanged(stack, before)


def test_after_logout_the_old_cookie_opens_nothing(stack: Stack) -> None:
    anna = Browser.ehr(stack, ANNA, SANNE)
    old_cookie, token = anna.app_cookie, anna.csrf_token()
    refused(anna.post("/uitloggen", {}, csrf=False), 400, "", "logout without a CSRF token")
    assert anna.get().status_code == 200  # a logout without a token does nothing

    logged_out = anna.post("/uitloggen", {}, csrf=token)

    assert logged_out.status_code == 200
    before = record(stack)
    replayed = Browser(stack)
    _plant(replayed, old_cookie)
    refused(replayed.get(anna.context_url), 403, NO_ACCESS, "the cookie from before the logout")
    save = replayed.post(anna.url("naam"), {"name": "Na het uitloggen"}, csrf=token)
    assert save.status_code in (400, 403), save.status_code
    refused(anna.get(), 403, NO_ACCESS, "the browser that logged out")
    assert_unchanged(stack, before)
