"""The token kinds of ``labkit probe URL`` and where good tokens come from (RFC 6749 §4.4 client credentials).

``TokenSource`` gets real tokens, only for the resource the probe names (on the origin the user named):
``ClientCredentials`` at a token endpoint the USER chose (``--token-url``, or the one published by the issuer the
user named, ``--issuer``; never one the target advertises), ``LabProvider`` (the lab provider the user named: also
expired tokens through its admin API), ``TokenFile`` (one token, nothing else). From a good JWT and the
authorization server's published keys the probe builds the attacks itself (alg none, HS256 keyed with the public
RSA key): UNSAFE tokens that any resource server must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .._text import safe_text
from ..auth.jws import b64url_decode, strict_json
from ..lab.calls import TokenRequestError, admin_mint, request_token
from ..provider.personas import PERSONA_CLIENTS
from .fetch import Fetcher, origin_of, same_resource, well_known

__all__ = [
    "KINDS",
    "MAX_SCOPES",
    "NARROW_SCOPES",
    "Built",
    "ClientCredentials",
    "LabProvider",
    "TokenFile",
    "TokenSource",
    "build_tokens",
    "checked_scopes",
    "issuer_metadata",
    "jwks_of",
    "other_resource",
]

KINDS = ("none", "garbage", "expired", "wrong audience", "alg none", "key confusion", "missing scope", "valid")
NARROW_SCOPES = ("openid", "email", "profile")  # scopes that grant no API access, tried in this order
MAX_SCOPES = 16
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")  # RFC 6749 §3.3 scope-token (bounded)
Built = tuple[str | None, str | None, str]  # token, expected answer (None: skipped), note


class TokenSource(Protocol):
    """Where the probe's real tokens come from; each method answers None when it cannot get one."""

    def ready(self) -> str | None:
        """None when the source will send its credentials, else why it will not (for the report)."""
        ...

    def token(self, scopes: Sequence[str], resource: str) -> str | None:
        """A token with ``scopes`` for ``resource`` (RFC 8707), or None."""
        ...

    def expired(self, scopes: Sequence[str], resource: str) -> str | None:
        """An already expired token for ``resource``, or None."""
        ...

    def keys(self) -> dict[str, Any] | None:
        """The JWKS of the authorization server the user named, or None (the probe then reads the advertised one)."""
        ...


def other_resource(resource: str) -> str:
    """A resource on the same origin that is not ``resource``: the wrong-audience token is bound to it."""
    return f"{origin_of(resource)}/labkit-probe-other-audience"


def checked_scopes(scopes: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """The scopes a token may be asked for: RFC 6749 §3.3 scope-tokens, at most ``MAX_SCOPES``; and a note on
    what was dropped ("" when nothing was)."""
    kept = tuple(dict.fromkeys(s for s in scopes if _SCOPE.fullmatch(s)))
    dropped = len(set(scopes)) - len(kept)
    notes = [f"{dropped} malformed scope(s) dropped"] if dropped else []
    if len(kept) > MAX_SCOPES:
        notes.append(f"{len(kept) - MAX_SCOPES} scope(s) past the first {MAX_SCOPES} dropped")
    return kept[:MAX_SCOPES], "; ".join(notes)


def issuer_metadata(fetcher: Fetcher, issuer: str) -> dict[str, Any]:
    """The RFC 8414 metadata of the issuer the user named; raises ``ValueError`` saying why it cannot be used."""
    if origin_of(issuer) is None or "?" in issuer or "#" in issuer:
        raise ValueError(f"the issuer {safe_text(issuer, 200)!r} is not an http(s) URL without query or fragment")
    # RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path (OIDC appends it)
    candidates = [well_known(issuer, "oauth-authorization-server") or issuer,
                  f"{issuer.rstrip('/')}/.well-known/openid-configuration"]
    for url in candidates:
        try:
            metadata = fetcher.json(url)
        except httpx.HTTPError as exc:
            raise ValueError(f"the issuer's metadata could not be read: {safe_text(exc, 200)}") from None
        if metadata is None:
            continue
        found = metadata.get("issuer")
        # RFC 8414 §3.3: the issuer in the metadata is the one the user named, or the metadata is not used
        if not isinstance(found, str) or not same_resource(found, issuer):
            raise ValueError(f"the metadata at {safe_text(url, 200)} names issuer {safe_text(found, 200)!r}, "
                             f"not {safe_text(issuer, 200)!r} (RFC 8414 §3.3)")
        return metadata
    raise ValueError(f"no RFC 8414 metadata for the issuer {safe_text(issuer, 200)!r}")


def jwks_of(fetcher: Fetcher, metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The JWKS at the ``jwks_uri`` of authorization server ``metadata``, read anonymously; None when there is none."""
    uri = metadata.get("jwks_uri")
    try:
        return fetcher.json(uri) if isinstance(uri, str) and origin_of(uri) else None
    except httpx.HTTPError:
        return None


class ClientCredentials:
    """Tokens by the client-credentials grant (client_secret_basic), at a token endpoint the user chose.

    ``token_url`` (``--token-url``) is used as given; ``issuer`` (``--issuer``) is resolved through its RFC 8414
    metadata, whose ``issuer`` must be the one named. With neither, the secret goes nowhere (``ready`` says why).
    """

    def __init__(self, client_id: str, client_secret: str, fetcher: Fetcher, *, token_url: str | None = None,
                 issuer: str | None = None) -> None:
        self.client_id, self.client_secret, self.fetcher = client_id, client_secret, fetcher
        self.token_url, self.issuer = token_url, issuer
        self._resolved: tuple[str | None, str | None, dict[str, Any]] | None = None

    def _resolve(self) -> tuple[str | None, str | None, dict[str, Any]]:
        """(token endpoint, why not, issuer metadata), worked out once."""
        if self._resolved is None:
            self._resolved = self._work_out()
        return self._resolved

    def _work_out(self) -> tuple[str | None, str | None, dict[str, Any]]:
        # MCP 2025-11-25 confused deputy: a secret goes only to a token endpoint the user named or trusts
        if self.token_url is not None:
            if origin_of(self.token_url) is None:
                return None, f"--token-url {safe_text(self.token_url, 200)!r} is not an http(s) URL", {}
            return self.token_url, None, {}
        if self.issuer is None:
            return None, ("credentials not sent: they go only to a token endpoint you name (--token-url) or one "
                          "published by an issuer you name (--issuer), never to one the target advertises"), {}
        try:
            metadata = issuer_metadata(self.fetcher, self.issuer)
        except ValueError as exc:
            return None, f"credentials not sent: {exc}", {}
        endpoint = metadata.get("token_endpoint")
        if not isinstance(endpoint, str) or origin_of(endpoint) is None:
            return None, "credentials not sent: the issuer's metadata has no http(s) token_endpoint", metadata
        return endpoint, None, metadata

    @property
    def token_endpoint(self) -> str | None:
        """Where the secret goes, or None when nowhere."""
        return self._resolve()[0]

    def ready(self) -> str | None:
        return self._resolve()[1]

    def token(self, scopes: Sequence[str], resource: str) -> str | None:
        endpoint = self.token_endpoint
        if endpoint is None:
            return None
        try:
            return request_token(endpoint, self.client_id, self.client_secret, scopes, resource=resource,
                                 http=self.fetcher.http)
        except (httpx.HTTPError, TokenRequestError):
            return None

    def expired(self, scopes: Sequence[str], resource: str) -> str | None:
        return None  # a real authorization server does not issue expired tokens

    def keys(self) -> dict[str, Any] | None:
        metadata = self._resolve()[2]
        return jwks_of(self.fetcher, metadata) if metadata else None


class LabProvider(ClientCredentials):
    """The lab provider the user named: ``lab-client`` tokens, and expired ones from ``/admin/mint``."""

    def __init__(self, provider_url: str, fetcher: Fetcher, *, admin_token: str, persona: str = "default") -> None:
        self.provider_url = provider_url.rstrip("/")
        self.admin_token = admin_token
        super().__init__(*PERSONA_CLIENTS[persona], fetcher, token_url=f"{self.provider_url}/token")

    def expired(self, scopes: Sequence[str], resource: str) -> str | None:
        try:
            return admin_mint(self.provider_url, scopes, lifetime=-60, client_id=self.client_id,
                              admin_token=self.admin_token, http=self.fetcher.http, audience=resource)
        except (httpx.HTTPError, TokenRequestError):
            return None

    def keys(self) -> dict[str, Any] | None:
        try:
            return jwks_of(self.fetcher, issuer_metadata(self.fetcher, self.provider_url))
        except ValueError:
            return None


class TokenFile:
    """One token read from a file: used as the good token; nothing else can be asked of it."""

    def __init__(self, token: str) -> None:
        self.value = token.strip()

    def ready(self) -> str | None:
        return None

    def token(self, scopes: Sequence[str], resource: str) -> str | None:
        return self.value  # build_tokens never asks it for another resource or other scopes

    def expired(self, scopes: Sequence[str], resource: str) -> str | None:
        return None

    def keys(self) -> dict[str, Any] | None:
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


def _bound(token: str | None, resource: str) -> str | None:
    """``token`` when it is bound to ``resource`` or cannot be read (opaque); None when its ``aud`` names other
    audiences: an authorization server that ignored ``resource`` issued it, and it must not reach the target."""
    if token is None:
        return None
    claims = _payload(token)
    if claims is None:
        return token
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    # RFC 8707 §2 / MCP token passthrough: a token whose audience is also someone else works there too
    return token if named and all(same_resource(a, resource) for a in named) else None


def build_tokens(source: TokenSource | None, scopes: Sequence[str], resource: str,
                 jwks: dict[str, Any] | None, *, required: Sequence[str] = ()) -> dict[str, Built]:
    """Every kind in ``KINDS``: (token, expected answer, note); expected None when it cannot be built.

    ``resource``: the endpoint's resource on the origin the user named, the only one tokens are asked for (the
    wrong-audience one excepted: another path of the same origin); ``scopes``: what a good token asks for;
    ``required``: what the endpoint says it needs (the missing-scope kind is built only then).
    """
    skip = "no token source (--provider, --client-id/--client-secret or --token-file)"
    built: dict[str, Built] = {"none": (None, "401", ""), "garbage": ("labkit-probe-garbage", "401", "")}
    refused = source.ready() if source is not None else skip
    if refused is not None:
        source = None
    chooses = source is not None and not isinstance(source, TokenFile)  # asks an AS: tokens must be bound
    bind = (lambda token: _bound(token, resource)) if chooses else (lambda token: token)
    unbound = "the authorization server ignored resource: not sent"
    issued = source.token(scopes, resource) if source else None
    good = bind(issued)
    built["valid"] = ((good, "accepted", "") if good else
                      (None, None, refused or (unbound if issued else "no token issued")))
    expired = bind(source.expired(scopes, resource)) if source else None
    built["expired"] = (expired, "401", "") if expired else (None, None, "the source cannot make one")
    other = other_resource(resource)
    foreign = _bound(source.token(scopes, other), other) if source and chooses else None
    built["wrong audience"] = (foreign, "401", "") if foreign else (None, None, "no token for another resource")
    unsigned = _alg_none(good) if good else None
    built["alg none"] = (unsigned, "401", "") if unsigned else (None, None, "needs a good JWT")
    confused = _key_confusion(good, jwks) if good else None
    built["key confusion"] = (confused, "401", "") if confused else (None, None, "needs a good JWT and an RSA JWKS")
    narrow = None
    if required and source is not None and chooses:
        for scope in NARROW_SCOPES:
            if scope not in required:
                narrow = bind(source.token((scope,), resource))
                if narrow:
                    break
    built["missing scope"] = ((narrow, "403", "") if narrow else
                              (None, None, "no required scope advertised" if not required else
                               "no token without the scope"))
    return built
