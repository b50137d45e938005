"""Simulated provider personas: the claim shapes of Google, Auth0, Azure AD, Okta, Keycloak and GitHub.

Every persona is SIMULATED by the lab provider (same keys, loopback URLs); only the shape of the
issuer and the claims follows the real provider, so validators can be configured as SEED.md shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "AZURE_TENANT_ID",
    "PERSONAS",
    "PERSONA_CLIENTS",
    "persona_client",
    "persona_issuer",
    "persona_oauth2",
    "persona_typ",
    "shape_claims",
]

PERSONAS = ("default", "google", "auth0", "azure", "okta", "keycloak", "github")
# The one home of the persona clients' credentials: PUBLIC and LAB-ONLY (the provider registers them from here;
# Lab.token, labkit mint and the probe read them from here).
PERSONA_CLIENTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "default": ("lab-client", "lab-client-secret"),
    "limited": ("lab-limited", "lab-limited-secret"),
    "opaque": ("lab-opaque", "lab-opaque-secret"),
    **{p: (f"{p}-client", f"{p}-secret") for p in ("google", "auth0", "azure", "okta", "keycloak")},
    "github": ("Iv1.lab-github-app", "lab-github-secret"),
})


def persona_client(persona: str) -> tuple[str, str]:
    """The (client id, secret) of a persona's client. Raises ``ValueError`` naming the known personas."""
    if persona not in PERSONA_CLIENTS:
        raise ValueError(f"unknown persona {persona!r}; use one of {', '.join(PERSONA_CLIENTS)}")
    return PERSONA_CLIENTS[persona]
AZURE_TENANT_ID = "00000000-0000-4000-8000-00000000a2ad"


def persona_issuer(persona: str, base: str) -> str:
    """The ``iss`` a persona's tokens carry, for a provider served at ``base``."""
    return {
        "auth0": base + "/",  # Auth0 issuers end with a slash
        "azure": f"{base}/{AZURE_TENANT_ID}/v2.0",
        "okta": f"{base}/oauth2/default",
        "keycloak": f"{base}/realms/lab",
    }.get(persona, base)


def persona_typ(persona: str) -> str:
    """The JOSE ``typ`` of a persona's tokens: Google's is shaped like an ID token (``JWT``), the rest are RFC 9068
    access tokens (``at+jwt``)."""
    return "JWT" if persona == "google" else "at+jwt"


def shape_claims(
    persona: str, claims: dict[str, Any], scopes: list[str], *, user_email: str | None = None
) -> dict[str, Any]:
    """Rewrite RFC 9068 claims into the persona's shape (scope claim, client claim, extras)."""
    out = dict(claims)
    client_id = out.get("client_id")
    scope = " ".join(scopes)
    if persona == "google":
        # Google tokens carry no scope claim; azp names the client; the audience is the client id.
        out.pop("scope", None)
        out.pop("client_id", None)
        out["azp"] = client_id
        if user_email:
            out.update(email=user_email, email_verified=True)
    elif persona == "auth0":
        out["permissions"] = list(scopes)
        out["azp"] = client_id
        out.pop("client_id", None)
        if out.get("sub") == client_id:
            out["sub"] = f"{client_id}@clients"
            out["gty"] = "client-credentials"
    elif persona == "azure":
        out.pop("scope", None)
        out.pop("client_id", None)
        out.update(tid=AZURE_TENANT_ID, azp=client_id, ver="2.0", oid=f"oid-{out.get('sub')}")
        if out.get("sub") == client_id:
            out["roles"] = list(scopes)  # application permissions
        else:
            out["scp"] = scope  # delegated permissions: a space-delimited string
    elif persona == "okta":
        out.pop("scope", None)
        out.pop("client_id", None)
        out.update(scp=list(scopes), cid=client_id, uid=out.get("sub"))
    elif persona == "keycloak":
        out.pop("client_id", None)
        out.update(azp=client_id, typ="Bearer", realm_access={"roles": list(scopes)})
    return out


def persona_oauth2(persona: str, base: str, audience: str) -> dict[str, Any]:
    """A SEED.md-style ``oauth2`` block that validates this persona's tokens from a provider at ``base``."""
    jwks = f"{base}/jwks"
    if persona == "github":
        client_id, secret = PERSONA_CLIENTS["github"]
        return {
            "validation_strategy": "introspection",
            "client_id": client_id,
            "client_secret": secret,
            "introspection_endpoint": f"{base}/applications/{client_id}/token",
        }
    block: dict[str, Any] = {
        "validation_strategy": "jwt",
        "jwks_url": jwks,
        "jwt_algorithm": "RS256",
        "jwt_issuer": persona_issuer(persona, base),
        "jwt_audience": audience,
    }
    if persona == "google":
        host = base.split("://", 1)[-1]
        block["jwt_issuer"] = [base, host]  # Google's two issuer spellings, simulated
    elif persona == "auth0":
        block["scope_claims"] = ["scope", "permissions"]
    elif persona == "azure":
        block["scope_claims"] = ["scp", "roles"]
    elif persona == "keycloak":
        block["scope_claims"] = ["scope", "realm_access.roles"]
    return block
