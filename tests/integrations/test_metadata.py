"""RFC 9728 metadata from the config: where it lives (§3.1), what it says, and the sample agent's document."""

from __future__ import annotations

import pytest

from labkit import validate_security_config
from labkit.integrations.metadata import WELL_KNOWN, metadata_document, metadata_routes, metadata_url
from sample_agent.cards import protected_resource_metadata

from ..helpers import oauth2


@pytest.mark.parametrize(("resource", "url"), [
    ("https://api.example", f"https://api.example{WELL_KNOWN}"),
    ("https://api.example/", f"https://api.example{WELL_KNOWN}"),
    ("https://api.example/mcp", f"https://api.example{WELL_KNOWN}/mcp"),
    ("https://api.example/t/acme/", f"https://api.example{WELL_KNOWN}/t/acme"),
    ("http://127.0.0.1:8000/a?x=1", f"http://127.0.0.1:8000{WELL_KNOWN}/a?x=1"),
])
def test_the_well_known_path_goes_between_host_and_path(resource: str, url: str) -> None:
    assert metadata_url(resource) == url


@pytest.mark.parametrize("resource", ["api.example/items", "ftp://api.example", "https://api.example/#frag", "/items",
                                      "https:///items"])
def test_a_resource_that_is_not_an_absolute_url_is_refused(resource: str) -> None:
    with pytest.raises(ValueError, match="RFC 9728"):
        metadata_url(resource)


def test_the_document_comes_from_the_tenants_config() -> None:
    cfg = validate_security_config({
        "oauth2": oauth2(jwks_url="https://as.example/jwks", jwt_issuer="https://as.example/"),
        "scope_hierarchy": {"admin": ["*"], "api:write": ["api:read"]},
        "tenants": {"acme": {"oauth2": oauth2(jwks_url="https://acme.example/jwks", jwt_issuer="https://acme.example",
                                              require_dpop=True)}},
    }, env={})
    root = metadata_document(cfg, "https://api.example")
    assert root == {"resource": "https://api.example", "authorization_servers": ["https://as.example"],
                    "scopes_supported": ["admin", "api:read", "api:write"], "bearer_methods_supported": ["header"]}
    acme = metadata_document(cfg, "https://api.example/t/acme", tenant="acme", scopes=["b", "a", "a"],
                             resource_name="Acme")
    assert acme["authorization_servers"] == ["https://acme.example"] and acme["scopes_supported"] == ["a", "b"]
    assert acme["dpop_bound_access_tokens_required"] is True and acme["resource_name"] == "Acme"
    [route] = metadata_routes(cfg, "https://api.example/t/acme", tenant="acme")
    assert getattr(route, "path", None) == f"{WELL_KNOWN}/t/acme"


def test_the_sample_agent_serves_the_same_document() -> None:
    assert protected_resource_metadata(resource="https://a.example", issuer="https://as.example",
                                       scopes=["api:read"]) == {
        "resource": "https://a.example", "authorization_servers": ["https://as.example"],
        "scopes_supported": ["api:read"], "bearer_methods_supported": ["header"],
        "resource_name": "oauth2-lab sample agent"}
