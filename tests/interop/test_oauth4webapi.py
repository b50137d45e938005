"""oauth4webapi (panva's certified OAuth 2.0 / OIDC client) against the lab's provider, per tenant: RFC 8414 §3.1
discovery, client_secret_basic/post, private_key_jwt, code + PKCE with the RFC 9207 ``iss`` check and an OIDC ID
token, refresh rotation, introspection and revocation, DPoP with server nonces, token exchange, and RFC 9068
validation of the lab's access tokens by the library's ``validateJwtAccessToken``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labkit.capability import new_capability
from labkit.provider import MockProvider
from labkit.servers import ServerThread

from .conftest import NodeFlows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=[None, new_capability()], ids=["open", "private"])
def provider_url(request: pytest.FixtureRequest) -> Iterator[str]:
    provider = MockProvider()
    server = ServerThread(provider.app, name="provider", capability=request.param)  # private: labkit.capability
    provider.base_url = server.url
    provider.server("acme").dpop.require_nonce()  # RFC 9449 §8: acme's token endpoint demands server nonces
    with server:
        yield server.url


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_oauth4webapi_against_the_provider(node_flows: NodeFlows, provider_url: str, tenant: str) -> None:
    issuer = f"{provider_url}/{tenant}"
    steps = node_flows("oauth4webapi_flows.mjs", provider_url, tenant)
    assert steps["discovery"] == {"step": "discovery", "issuer": issuer, "oidc_issuer": issuer, "iss_parameter": True}
    for method in ("client_secret_basic", "client_secret_post"):
        assert steps[method]["iss"] == issuer and steps[method]["client_id"] == "lab-client"
    code = steps["authorization_code"]
    assert code["iss_checked"] == issuer and code["mix_up_refused"] is True
    assert (code["id_token_sub"], code["id_token_aud"], code["access_sub"]) == ("alice", "lab-web", "alice")
    assert code["id_token_nonce"] and isinstance(code["id_token_auth_time"], int) and code["has_refresh"]
    assert steps["refresh"] == {"step": "refresh", "rotated": True, "id_token_sub": "alice",
                                "replay_error": "invalid_grant"}
    assert steps["introspection_revocation"]["active_before"] is True
    assert steps["introspection_revocation"]["active_after_revocation"] is False
    assert steps["token_exchange"]["sub"] == "alice" and steps["token_exchange"]["act"] == {"sub": "lab-agent"}
    assert steps["private_key_jwt"]["active"] is True
    dpop = steps["dpop"]
    assert dpop["token_type"] == "dpop" and dpop["jkt"] and dpop["nonce_asked"] is (tenant == "acme")
