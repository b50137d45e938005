"""The token kinds of ``labkit probe URL`` and where good tokens come from (RFC 6749 §4.4 client credentials).

``TokenSource`` gets real tokens: ``ClientCredentials`` at the advertised token endpoint, ``LabProvider``
(the lab provider: also expired tokens through its admin API), ``TokenFile`` (one token, nothing else).
From a good JWT and the authorization server's published keys the probe builds the attacks itself (alg
none, HS256 keyed with the public RSA key): UNSAFE tokens that any resource server must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .auth._compact import b64url_decode, strict_json
from .calls import TokenRequestError, admin_mint, request_token
from .provider.personas import PERSONA_CLIENTS

__all__ = [
    "KINDS",
    "NARROW_SCOPES",
    "OTHER_RESOURCE",
    "Built",
    "ClientCredentials",
    "LabProvider",
    "TokenFile",
    "TokenSource",
    "build_tokens",
]

KINDS = ("none", "garbage", "expired", "wrong audience", "alg none", "key confusion", "missing scope", "valid")
OTHER_RESOURCE = "http://127.0.0.1:9/labkit-probe-other-audience"
NARROW_SCOPES = ("openid", "email", "profile")  # scopes that grant no API access, tried in this order
Built = tuple[str | None, str | None, str]  # token, expected answer (None: skipped), note


class TokenSource(Protocol):
    """Where the probe's real tokens come from; each method answers None when it cannot get one."""

    def token(self, scopes: Sequence[str], resource: str | None) -> str | None:
        """A token with ``scopes`` for ``resource`` (RFC 8707), or None."""
        ...

    def expired(self, scopes: Sequence[str], resource: str | None) -> str | None:
        """An already expired token, or None."""
        ...


class ClientCredentials:
    """Tokens from ``token_endpoint`` by the client-credentials grant (client_secret_basic)."""

    def __init__(self, token_endpoint: str, client_id: str, client_secret: str, http: httpx.Client) -> None:
        self.token_endpoint, self.client_id, self.client_secret, self.http = (
            token_endpoint, client_id, client_secret, http)

    def token(self, scopes: Sequence[str], resource: str | None) -> str | None:
        try:
            return request_token(self.token_endpoint, self.client_id, self.client_secret, scopes, resource=resource,
                                 http=self.http)
        except (httpx.HTTPError, TokenRequestError):
            return None

    def expired(self, scopes: Sequence[str], resource: str | None) -> str | None:
        return None  # a real authorization server does not issue expired tokens


class LabProvider(ClientCredentials):
    """The lab provider: ``lab-client`` tokens, and expired ones from ``/admin/mint`` (lab-only admin token)."""

    def __init__(self, provider_url: str, http: httpx.Client, *, persona: str = "default",
                 admin_token: str = "lab-admin-token") -> None:  # noqa: S107 - the documented lab-only value
        self.provider_url = provider_url.rstrip("/")
        self.admin_token = admin_token
        super().__init__(f"{self.provider_url}/token", *PERSONA_CLIENTS[persona], http)

    def expired(self, scopes: Sequence[str], resource: str | None) -> str | None:
        try:
            return admin_mint(self.provider_url, scopes, lifetime=-60, client_id=self.client_id,
                              admin_token=self.admin_token, http=self.http)
        except (httpx.HTTPError, TokenRequestError):
            return None


class TokenFile:
    """One token read from a file: used as the good token; nothing else can be asked of it."""

    def __init__(self, token: str) -> None:
        self.value = token.strip()

    def token(self, scopes: Sequence[str], resource: str | None) -> str | None:
        return self.value  # build_tokens never asks it for another resource or other scopes

    def expired(self, scopes: Sequence[str], resource: str | None) -> str | None:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _payload(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, read WITHOUT verification (the probe builds attacks from them), or None."""
    try:
        claims = strict_json(b64url_decode(token.split(".")[1]))
    except (ValueError, IndexError):
        return None
    return claims if isinstance(claims, dict) else None


def _alg_none(token: str) -> str | None:
    """UNSAFE: the good token's claims, unsigned (RFC 8725 §2.1)."""
    if _payload(token) is None:
        return None
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'at+jwt'}).encode())}.{token.split('.')[1]}."


def _key_confusion(token: str, jwks: dict[str, Any] | None) -> str | None:
    """UNSAFE: the good token's claims, HS256-keyed with the published RSA key's PEM (RFC 8725 §2.1)."""
    keys = [k for k in (jwks or {}).get("keys") or [] if isinstance(k, dict) and k.get("kty") == "RSA"]
    if not keys or _payload(token) is None:
        return None
    try:
        pem = RSAKey.import_key({m: keys[0][m] for m in ("kty", "n", "e")}).as_pem(private=False)
    except (JoseError, ValueError, KeyError, TypeError):
        return None
    header = {"alg": "HS256", "typ": "at+jwt", **({"kid": keys[0]["kid"]} if "kid" in keys[0] else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{token.split('.')[1]}"
    signature = hmac.new(pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _names(claims: dict[str, Any] | None, resource: str) -> bool:
    aud = (claims or {}).get("aud")
    return resource in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else [])


def build_tokens(source: TokenSource | None, scopes: Sequence[str], resource: str | None,
                 jwks: dict[str, Any] | None, *, required: Sequence[str] = ()) -> dict[str, Built]:
    """Every kind in ``KINDS``: (token, expected answer, note); expected None when it cannot be built.

    ``scopes``: what a good token asks for; ``required``: what the endpoint says it needs (the missing-scope
    kind is built only then).
    """
    skip = "no token source (--provider, --client-id/--client-secret or --token-file)"
    built: dict[str, Built] = {"none": (None, "401", ""), "garbage": ("labkit-probe-garbage", "401", "")}
    good = source.token(scopes, resource) if source else None
    built["valid"] = (good, "accepted", "") if good else (None, None, skip if source is None else "no token issued")
    expired = source.expired(scopes, resource) if source else None
    built["expired"] = (expired, "401", "") if expired else (None, None, "the source cannot make one")
    chooses = source is not None and not isinstance(source, TokenFile)  # can ask for other audiences and scopes
    foreign = source.token(scopes, OTHER_RESOURCE) if source and chooses else None
    if foreign and _payload(foreign) is not None and not _names(_payload(foreign), OTHER_RESOURCE):
        foreign = None  # the authorization server ignored resource: not a wrong-audience token
    built["wrong audience"] = (foreign, "401", "") if foreign else (None, None, "no token for another resource")
    unsigned = _alg_none(good) if good else None
    built["alg none"] = (unsigned, "401", "") if unsigned else (None, None, "needs a good JWT")
    confused = _key_confusion(good, jwks) if good else None
    built["key confusion"] = (confused, "401", "") if confused else (None, None, "needs a good JWT and an RSA JWKS")
    narrow = None
    if required and source is not None and chooses:
        for scope in NARROW_SCOPES:
            if scope not in required:
                narrow = source.token((scope,), resource)
                if narrow:
                    break
    built["missing scope"] = ((narrow, "403", "") if narrow else
                              (None, None, "no required scope advertised" if not required else
                               "no token without the scope"))
    return built
