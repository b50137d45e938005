"""The lab's built-in clients and users. Their secrets are PUBLIC and LAB-ONLY (documented in the README)."""

from __future__ import annotations

from .models import Client, User
from .personas import PERSONA_CLIENTS
from .rfc7523 import JWT_BEARER
from .rfc8693 import TOKEN_EXCHANGE

__all__ = ["AGENT_AUDIENCE", "DOWNSTREAM_AUDIENCE", "LAB_REDIRECTS", "LAB_SCOPES", "USERS", "default_clients"]

LAB_SCOPES = (
    "api:read",
    "api:write",
    "api:admin",
    "files:read",
    "files:write",
    "admin",
    "push:read",
    "push:write",
    "openid",
    "email",
    "profile",
)
AGENT_AUDIENCE = "api://oauth2-lab-agent"  # the sample agent's default audience (what lab-agent serves)
DOWNSTREAM_AUDIENCE = "api://oauth2-lab-downstream"  # the resource the agent calls on its callers' behalf
LAB_REDIRECTS = ("http://127.0.0.1:8765/callback", "http://localhost:8765/callback")


def default_clients() -> list[Client]:
    """The lab's clients. Their secrets are PUBLIC and LAB-ONLY (documented in the README)."""
    user_grants = ("authorization_code", "refresh_token")
    # RFC 8707: lab clients may ask for the agent's default audience or any loopback agent URL (RFC 9728 resource)
    local = True
    clients = [
        Client(*PERSONA_CLIENTS["default"], scopes=LAB_SCOPES, loopback_resources=local),
        Client(*PERSONA_CLIENTS["limited"], scopes=("api:read",), loopback_resources=local),
        Client(*PERSONA_CLIENTS["opaque"], scopes=LAB_SCOPES, opaque=True, loopback_resources=local),
        # the agent's own client: introspects, and exchanges callers' tokens for the downstream API (RFC 8693)
        # it IS the agent's audience (serves): it may exchange tokens issued for the agent, and only those
        Client("lab-agent", "lab-agent-secret", grant_types=(TOKEN_EXCHANGE,), can_introspect=True, scopes=LAB_SCOPES,
               audience=DOWNSTREAM_AUDIENCE, resources=("api://oauth2-lab-agent",), loopback_resources=local,
               serves=(AGENT_AUDIENCE,)),
        # an enterprise app redeeming ID-JAGs from the lab's IdP (SEP-990)
        Client("lab-enterprise", "lab-enterprise-secret", grant_types=(JWT_BEARER,), scopes=LAB_SCOPES,
               loopback_resources=local),
        Client("lab-app", None, grant_types=user_grants, scopes=LAB_SCOPES, redirect_uris=LAB_REDIRECTS,
               loopback_resources=local),
        Client("lab-web", "lab-web-secret", grant_types=user_grants, scopes=LAB_SCOPES, redirect_uris=LAB_REDIRECTS,
               loopback_resources=local),
        Client(
            *PERSONA_CLIENTS["github"],
            scopes=("repo", "read:org", "api:read", "api:write"),
            persona="github",
            opaque=True,
        ),
    ]
    for persona in ("google", "auth0", "azure", "okta", "keycloak"):
        clients.append(
            Client(
                *PERSONA_CLIENTS[persona],
                grant_types=("client_credentials", *user_grants),
                scopes=LAB_SCOPES,
                redirect_uris=LAB_REDIRECTS,
                persona=persona,
                loopback_resources=local,
            )
        )
    return clients


USERS = (User("alice", "alice@lab.test", "Alice Lab"), User("bob", "bob@lab.test", "Bob Lab"))
