"""The A2A agent card and RFC 9728 protected-resource metadata, built from the security configuration."""

from __future__ import annotations

from typing import Any

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    AuthorizationCodeOAuthFlow,
    ClientCredentialsOAuthFlow,
    OAuth2SecurityScheme,
    OAuthFlows,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

from labkit.guard import EndpointPolicy
from labkit.integrations.metadata import protected_resource_metadata as resource_document

__all__ = ["build_card", "protected_resource_metadata", "scopes_supported"]


def scopes_supported(policy: EndpointPolicy, hierarchy_scopes: frozenset[str]) -> list[str]:
    """Every scope the agent knows: the hierarchy's and every capability's."""
    names = set(hierarchy_scopes)
    for capability in policy.capabilities.values():
        names.update(capability.scopes)
    names.update(s for scopes in policy.plugin_scopes.values() for s in scopes)
    return sorted(names)


def build_card(*, url: str, issuer: str, policy: EndpointPolicy, scopes: list[str], extended: bool) -> AgentCard:
    """A card advertising OAuth2 (client credentials and authorization code with PKCE) with requirements.

    A2A v1.0's ``OAuthFlows`` holds one flow, so each flow is its own scheme; the requirements list them
    as alternatives. Real clients attach a token only when requirements name a scheme.
    """
    descriptions = {s: f"Grants {s}" for s in scopes}
    base = ["api:read"] if "api:read" in scopes else []
    schemes = {
        "oauth2": SecurityScheme(
            oauth2_security_scheme=OAuth2SecurityScheme(
                description="OAuth 2.0 client credentials (machine clients)",
                flows=OAuthFlows(
                    client_credentials=ClientCredentialsOAuthFlow(token_url=f"{issuer}/token", scopes=descriptions)
                ),
                oauth2_metadata_url=f"{issuer}/.well-known/oauth-authorization-server",
            )
        ),
        "oauth2_user": SecurityScheme(
            oauth2_security_scheme=OAuth2SecurityScheme(
                description="OAuth 2.0 authorization code with PKCE (on behalf of a user)",
                flows=OAuthFlows(
                    authorization_code=AuthorizationCodeOAuthFlow(
                        authorization_url=f"{issuer}/authorize",
                        token_url=f"{issuer}/token",
                        scopes=descriptions,
                        pkce_required=True,
                    )
                ),
                oauth2_metadata_url=f"{issuer}/.well-known/oauth-authorization-server",
            )
        ),
    }
    requirements = [SecurityRequirement(schemes={name: StringList(list=base)}) for name in schemes]
    skills = [
        AgentSkill(
            id=c.capability_id,
            name=c.capability_id.replace("_", " "),
            description=f"{c.plugin_id}: {c.capability_id}",
            tags=[c.plugin_id],
            security_requirements=[
                SecurityRequirement(schemes={name: StringList(list=list(c.scopes))}) for name in schemes
            ],
        )
        for c in sorted(policy.capabilities.values(), key=lambda c: c.capability_id)
        if extended or c.plugin_id != "admin"
    ]
    return AgentCard(
        name="oauth2-lab sample agent",
        description="An AgentUp-style agent whose every endpoint is protected by labkit (A2A, MCP, push).",
        supported_interfaces=[
            AgentInterface(url=url.rstrip("/") + "/", protocol_binding="JSONRPC", protocol_version=version)
            for version in ("1.0", "0.3")  # one endpoint, v0.3 method names through the SDK's compat mode
        ],
        provider=AgentProvider(url="https://github.com/", organization="oauth2-lab"),
        version="0.1.0",
        capabilities=AgentCapabilities(streaming=True, push_notifications=True, extended_agent_card=True),
        security_schemes=schemes,
        security_requirements=requirements,
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain", "application/json"],
        skills=skills,
    )


def protected_resource_metadata(*, resource: str, issuer: str, scopes: list[str]) -> dict[str, Any]:
    """RFC 9728 §2 metadata for ``resource``: the library's one document (``labkit.integrations.metadata``)."""
    return resource_document(resource=resource, issuers=[issuer], scopes=scopes,
                             resource_name="oauth2-lab sample agent")
