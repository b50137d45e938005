"""A simulated enterprise identity provider (SEP-990 leg 1): it issues Identity Assertion JWT Authorization
Grants (ID-JAGs, draft-ietf-oauth-identity-assertion-authz-grant) for the lab's users.

SIMULATED: the user's single sign-on is the ``login_hint`` (as at ``/authorize``); the lab provider trusts
this IdP's keys in process. What is real is the ID-JAG itself (a signed JWT with ``typ`` ``oauth-id-jag+jwt``)
and the RFC 7523 JWT-bearer grant that redeems it at the lab provider.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

from .keys import generate_key

__all__ = ["ID_JAG_LIFETIME", "ID_JAG_TOKEN_TYPE", "ID_JAG_TYP", "EnterpriseIdP"]

ID_JAG_TYP = "oauth-id-jag+jwt"
ID_JAG_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-jag"  # noqa: S105 - a URN, not a secret
ID_JAG_LIFETIME = 300
_ALG = "ES256"


class EnterpriseIdP:
    """The lab's enterprise IdP persona: one ES256 key, issuer ``{provider}/idp``, users shared with the lab."""

    def __init__(self, issuer: Callable[[], str], clock: Callable[[], float]) -> None:
        self.issuer = issuer
        self.clock = clock
        self._key = generate_key(_ALG)

    def jwks(self) -> dict[str, Any]:
        """The IdP's public JWK Set."""
        return {"keys": [self._key.as_dict(private=False) | {"alg": _ALG, "use": "sig"}]}

    def key_set(self) -> KeySet:
        """The IdP's public keys as a joserfc ``KeySet`` (what the lab provider verifies ID-JAGs with)."""
        return KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]

    def issue_id_jag(
        self,
        *,
        subject: str,
        audience: str,
        client_id: str,
        resource: str | None = None,
        scope: str | None = None,
        lifetime: int = ID_JAG_LIFETIME,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """An ID-JAG for ``subject``, addressed to the authorization server ``audience`` for ``client_id``."""
        now = int(self.clock())
        payload: dict[str, Any] = {
            "iss": self.issuer(),
            "sub": subject,
            "aud": audience,
            "client_id": client_id,
            "jti": secrets.token_hex(12),
            "iat": now,
            "exp": now + lifetime,
        }
        if resource:
            payload["resource"] = resource
        if scope:
            payload["scope"] = scope
        payload.update(claims or {})
        header = {"typ": ID_JAG_TYP, "alg": _ALG, "kid": self._key.kid}
        return jwt.encode(header, payload, self._key, algorithms=[_ALG])
