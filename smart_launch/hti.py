"""Koppeltaal 2.0 launch: the HTI 2.0 token that a launching application (portal, EPD) posts as `launch`.

A Koppeltaal launch is a form POST of `launch` (the HTI token, a JWT signed by the launching application) and
`iss` (the domain's FHIR base). Before the app starts the OIDC flow it checks the token here:

- the signature, against the JWKS of the launching application (its `iss` is that application's client id;
  the key set comes from the URL configured for it, or the domain's JWKS URL), asymmetric algorithms only;
- `aud` is this app's Device reference (`Device/<id>`);
- `exp` has not passed and lies at most five minutes ahead (`iat` not in the future either);
- `jti` is used once: it is remembered in the session store until the token's `exp`.

A domain may instead require the check at its token introspection endpoint (TOP-KT-021, `hti_check =
"introspection"`): the app posts the token there, authenticated with a private_key_jwt client assertion whose
`aud` is that endpoint; an answer with `active` other than true refuses the launch, and the claims of an active
answer go through the same `aud`, `exp`, `sub` and once-only `jti` checks as a verified token's.

Then the OIDC flow runs with exactly `launch openid fhirUser` and PKCE (see `SmartClient.begin_hti_launch`);
the launch context (`sub`, `patient`, `resource`, `definition`, `intent`) comes back in the token response.
Data access is never with that flow's access token (`NOOP`) but with SMART Backend Services.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError

from smart_launch.discovery import DEFAULT_TIMEOUT, Discovery
from smart_launch.errors import ConfigurationError, DiscoveryError, IdTokenError, SmartLaunchError
from smart_launch.id_token import ID_TOKEN_ALGORITHMS, ServerJwks, _pick_key
from smart_launch.keys import CLIENT_ASSERTION_TYPE, SigningKey, client_assertion
from smart_launch.registration import SIGNING_ALGS, BackendRegistration, EhrRegistration, SigningAlg, normalize_iss

HTI_SCOPES: tuple[str, ...] = ("launch", "openid", "fhirUser")  # Koppeltaal: always exactly these
MAX_HTI_LIFETIME = 300  # seconds: an HTI token may live at most five minutes
CLOCK_LEEWAY = 30  # seconds of clock skew tolerated
_USER_TYPES = ("Patient", "Practitioner", "RelatedPerson")
HtiCheck = Literal["jwks", "introspection"]
HTI_CHECKS: tuple[HtiCheck, ...] = ("jwks", "introspection")


class HtiTokenError(SmartLaunchError):
    """An HTI token was refused; nothing was asked of the FHIR server. `reason` says why (for the page and logs):
    malformed, unsigned, unknown_issuer, keys_unavailable, bad_signature, wrong_audience, expired, too_long,
    not_yet_valid, replayed, bad_subject; with introspection also inactive (the domain said `active: false`) and
    introspection_unavailable; after the OIDC flow context_mismatch and user_mismatch."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"HTI token refused ({reason}): {message}")


class UsedOnce(Protocol):
    """Remembers keys until a moment (the session store has this method)."""

    def remember_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is seen before `expires_at`; False when it is known already."""


@dataclass(frozen=True)
class KoppeltaalDomain:
    """One Koppeltaal domain the app takes part in, as configured (`[[koppeltaal]]`)."""

    name: str
    iss: str  # the domain's FHIR base (the `iss` of the launch POST)
    client_id: str  # this app's client id in the domain
    private_key_file: str  # signs client assertions (OIDC token request and Backend Services)
    device: str = ""  # this app's Device reference, the HTI `aud`; default Device/<client_id>
    alg: SigningAlg = "RS384"
    # The launching applications' JWKS: client id (the HTI `iss`) -> JWKS URL; and/or one JWKS URL of the domain
    launcher_jwks: Mapping[str, str] = field(default_factory=dict)
    domain_jwks_url: str | None = None
    backend_scopes: tuple[str, ...] = ("system/*.cruds",)
    title: str | None = None
    # How HTI tokens are checked: "jwks" (the launching applications' keys, above) or "introspection" (at the
    # domain's token introspection endpoint, TOP-KT-021; default: `introspection_endpoint` of its SMART config)
    hti_check: HtiCheck = "jwks"
    introspection_endpoint: str | None = None
    mapping: str = "kt2"  # how the app maps its data here (registration.MAPPING_MODES); KT2 profiles by default

    def __post_init__(self) -> None:
        if not self.name or not self.client_id:
            raise ConfigurationError("a [[koppeltaal]] domain needs a name and a client_id")
        normalized = normalize_iss(self.iss)
        if normalized is None:
            raise ConfigurationError(f"[[koppeltaal]] {self.name}: iss {self.iss!r} is not an http(s) URL")
        object.__setattr__(self, "iss", normalized)
        if not self.private_key_file:
            raise ConfigurationError(f"[[koppeltaal]] {self.name}: private_key_file is required")
        if self.alg not in SIGNING_ALGS:
            raise ConfigurationError(f"[[koppeltaal]] {self.name}: alg must be one of {SIGNING_ALGS}")
        device = self.device or f"Device/{self.client_id}"
        if not device.startswith("Device/"):
            device = f"Device/{device}"
        object.__setattr__(self, "device", device)
        if self.hti_check not in HTI_CHECKS:
            raise ConfigurationError(f"[[koppeltaal]] {self.name}: hti_check must be one of {HTI_CHECKS}")
        if self.introspection_endpoint is not None and normalize_iss(self.introspection_endpoint) is None:
            raise ConfigurationError(
                f"[[koppeltaal]] {self.name}: introspection_endpoint {self.introspection_endpoint!r} is not an "
                "http(s) URL"
            )
        if self.hti_check == "jwks" and not self.launcher_jwks and not self.domain_jwks_url:
            raise ConfigurationError(
                f"[[koppeltaal]] {self.name}: set launcher_jwks or domain_jwks_url (whose keys sign HTI tokens)"
            )
        for url in (*self.launcher_jwks.values(), *([self.domain_jwks_url] if self.domain_jwks_url else [])):
            if normalize_iss(url) is None:
                raise ConfigurationError(f"[[koppeltaal]] {self.name}: JWKS URL {url!r} is not an http(s) URL")
        self.backend_registration()  # checks the scopes

    def backend_registration(self) -> BackendRegistration:
        """The SMART Backend Services registration of this domain: all FHIR access of a Koppeltaal launch."""
        return BackendRegistration(
            iss=self.iss,
            client_id=self.client_id,
            private_key_file=self.private_key_file,
            alg=self.alg,
            scopes=self.backend_scopes,
        )

    def registration(self) -> EhrRegistration:
        """The OIDC client registration of this domain (private_key_jwt at its token endpoint)."""
        return EhrRegistration(
            name=self.name,
            iss=self.iss,
            client_id=self.client_id,
            client_auth="private_key_jwt",
            private_key_file=self.private_key_file,
            alg=self.alg,
            scopes=(),
            title=self.title,
            mapping=self.mapping,
        )

    def jwks_url_for(self, launcher: str) -> str | None:
        """Where the keys of the launching application `launcher` (HTI `iss`) are published."""
        return self.launcher_jwks.get(launcher) or self.domain_jwks_url


@dataclass(frozen=True)
class HtiLaunch:
    """The verified content of an HTI token."""

    launcher: str  # `iss`: the launching application's client id
    subject: str  # `sub`: Patient/…, Practitioner/… or RelatedPerson/…
    resource: str | None  # the Task reference
    definition: str | None  # the ActivityDefinition reference
    patient: str | None
    intent: str | None
    jti: str
    expires_at: float
    claims: dict[str, Any]


def _unverified_claims(token: str) -> dict[str, Any]:
    """The payload before the signature is checked (only to find the issuer's keys)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise HtiTokenError("malformed", "not a compact JWS")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError) as exc:
        raise HtiTokenError("malformed", "payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise HtiTokenError("malformed", "payload is not a JSON object")
    return claims


def _opt(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


class HtiIntrospection:
    """Asks the domain's token introspection endpoint about an HTI token (TOP-KT-021, RFC 7662), authenticated
    with a private_key_jwt client assertion (RFC 7523: iss = sub = the app's client id, aud = the endpoint)."""

    def __init__(
        self,
        domain: KoppeltaalDomain,
        signing_key: SigningKey,
        *,
        http: requests.Session | None = None,
        discovery: Discovery | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.domain = domain
        self._key = signing_key
        self._http = http or requests.Session()
        self._discovery = discovery or Discovery(self._http, timeout=timeout, clock=clock)
        self._clock = clock
        self._timeout = timeout

    def endpoint(self) -> str:
        """The configured endpoint, else the `introspection_endpoint` of the domain's SMART configuration."""
        if self.domain.introspection_endpoint:
            return self.domain.introspection_endpoint
        try:
            found = self._discovery.get(self.domain.iss).introspection_endpoint
        except DiscoveryError as exc:
            raise HtiTokenError("introspection_unavailable", f"no SMART configuration: {exc}") from exc
        if not found:
            raise HtiTokenError("introspection_unavailable", "the domain publishes no introspection_endpoint")
        return found

    def introspect(self, token: str) -> dict[str, Any]:
        """The claims of an active token (without `active`); HtiTokenError `inactive` for `active` not true."""
        endpoint = self.endpoint()
        form = {
            "token": token,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion(
                self._key, client_id=self.domain.client_id, token_endpoint=endpoint, clock=self._clock
            ),
        }
        try:
            resp = self._http.post(endpoint, data=form, headers={"Accept": "application/json"}, timeout=self._timeout)
            body = resp.json() if resp.status_code == 200 else None
        except (requests.RequestException, ValueError) as exc:
            raise HtiTokenError("introspection_unavailable", f"introspection failed: {type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise HtiTokenError("introspection_unavailable", f"introspection answered {resp.status_code}")
        if body.get("active") is not True:
            raise HtiTokenError("inactive", "the domain's introspection endpoint says the token is not active")
        return {k: v for k, v in body.items() if k != "active"}


class HtiVerifier:
    """Checks HTI tokens for one Koppeltaal domain. Thread-safe (the JWKS cache and the store are).

    With `hti_check = "introspection"` the domain's introspection endpoint (`introspection`, required then)
    vouches for the signature; the claims are checked here all the same."""

    def __init__(
        self,
        domain: KoppeltaalDomain,
        used: UsedOnce,
        *,
        jwks: ServerJwks | None = None,
        introspection: HtiIntrospection | None = None,
        clock: Callable[[], float] = time.time,
        max_lifetime: int = MAX_HTI_LIFETIME,
    ) -> None:
        if domain.hti_check == "introspection" and introspection is None:
            raise ConfigurationError(f"[[koppeltaal]] {domain.name}: hti_check introspection needs an introspection")
        self.domain = domain
        self._used = used
        self._jwks = jwks or ServerJwks(clock=clock, ttl=300.0)
        self._introspection = introspection
        self._clock = clock
        self._max_lifetime = max_lifetime

    def verify(self, token: str | None) -> HtiLaunch:
        """The verified launch; raises HtiTokenError (before any FHIR request) when the token is not acceptable."""
        if not token or len(token) > 16384:
            raise HtiTokenError("malformed", "no launch token, or far too long")
        try:
            header = dict(jws.extract_compact(token.encode("ascii")).headers())
        except (JoseError, ValueError, UnicodeError) as exc:
            raise HtiTokenError("malformed", "not a compact JWS") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none" or not alg:
            raise HtiTokenError("unsigned", "the token is not signed (alg none)")
        if alg not in ID_TOKEN_ALGORITHMS:
            raise HtiTokenError("unsigned", f"alg {alg!r} is not an accepted asymmetric algorithm")
        unverified = _unverified_claims(token)
        if self._introspection is not None and self.domain.hti_check == "introspection":
            claims = self._introspection.introspect(token)
            launcher = _opt(claims, "iss")
            if launcher is None:
                raise HtiTokenError("malformed", "the introspection answer has no iss")
            if claims.get("jti", unverified.get("jti")) != unverified.get("jti"):
                raise HtiTokenError("malformed", "the introspection answer is about another token")
            return self._check_claims(claims, launcher)
        launcher = _opt(unverified, "iss")
        url = self.domain.jwks_url_for(launcher) if launcher else None
        if launcher is None or url is None:
            raise HtiTokenError("unknown_issuer", f"no keys are configured for launching application {launcher!r}")
        claims = self._check_signature(token, header, url, alg)
        return self._check_claims(claims, launcher)

    def _check_signature(self, token: str, header: dict[str, Any], url: str, alg: str) -> dict[str, Any]:
        try:
            keys = self._jwks.get(url)
            if header.get("kid") is not None and all(k.kid != header["kid"] for k in keys.keys):
                keys = self._jwks.get(url, force=True)  # the launching application may have rotated its keys
            key = _pick_key(keys, header)
        except IdTokenError as exc:
            raise HtiTokenError("keys_unavailable", str(exc)) from exc
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except (JoseError, ValueError) as exc:
            raise HtiTokenError("bad_signature", f"signature does not verify ({type(exc).__name__})") from exc
        return dict(decoded.claims)

    def _check_claims(self, claims: dict[str, Any], launcher: str) -> HtiLaunch:
        if claims.get("iss") != launcher:
            raise HtiTokenError("malformed", "iss changed")  # cannot happen: the same payload
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.domain.device not in audiences:
            raise HtiTokenError("wrong_audience", f"aud {aud!r} is not {self.domain.device}")
        now = self._clock()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise HtiTokenError("malformed", "exp is missing")
        if exp <= now - CLOCK_LEEWAY:
            raise HtiTokenError("expired", "exp has passed")
        if exp > now + self._max_lifetime + CLOCK_LEEWAY:
            raise HtiTokenError("too_long", f"exp lies more than {self._max_lifetime} s ahead")
        iat = claims.get("iat")
        if isinstance(iat, int | float) and not isinstance(iat, bool) and iat > now + CLOCK_LEEWAY:
            raise HtiTokenError("not_yet_valid", "iat lies in the future")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > now + CLOCK_LEEWAY:
            raise HtiTokenError("not_yet_valid", "nbf lies in the future")
        subject = _opt(claims, "sub")
        if subject is None or subject.split("/")[0] not in _USER_TYPES or subject.count("/") != 1:
            raise HtiTokenError("bad_subject", "sub is not a Patient, Practitioner or RelatedPerson reference")
        jti = _opt(claims, "jti")
        if jti is None:
            raise HtiTokenError("malformed", "jti is missing")
        # Last: only a token that passed every other check uses up its jti.
        if not self._used.remember_once(f"hti:{self.domain.name}:{launcher}:{jti}", float(exp) + CLOCK_LEEWAY):
            raise HtiTokenError("replayed", "this jti was used before")
        return HtiLaunch(
            launcher=launcher,
            subject=subject,
            resource=_opt(claims, "resource"),
            definition=_opt(claims, "definition"),
            patient=_opt(claims, "patient"),
            intent=_opt(claims, "intent"),
            jti=jti,
            expires_at=float(exp),
            claims=claims,
        )
