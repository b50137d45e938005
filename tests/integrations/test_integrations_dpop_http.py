"""DPoP (RFC 9449) through every front door over real HTTP: the lab provider binds the token to the client's key
(``cnf.jkt``), the README's four apps (each on its own uvicorn server, keys from the provider's JWKS) accept it
only with a fresh proof by that key for that request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labkit.audit import AuditLog
from labkit.auth.dpop import make_proof

from .test_integrations import KINDS
from .test_integrations_dpop import KEY, LIST, MCP_HEADERS, MISUSES, assert_dpop_refusal, proof, target
from .test_integrations_http import readme_servers

pytestmark = pytest.mark.integration


def bound_token(url: str) -> dict[str, Any]:
    """A DPoP-bound access token from the provider's token endpoint (client credentials with a proof)."""
    token_url = f"{url}/token"
    response = httpx.post(token_url, data={"grant_type": "client_credentials", "scope": "api:read"},
                          auth=("lab-client", "lab-client-secret"), timeout=10,
                          headers={"DPoP": make_proof(KEY, method="POST", url=token_url, iat=time.time())})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with readme_servers(tmp_path_factory.mktemp("readme-dpop-http")) as running:
        yield running


def send(base: str, kind: str, headers: dict[str, str]) -> httpx.Response:
    method, path = target(kind)
    if kind == "mcp":
        return httpx.request(method, base + path, json=LIST, headers={**MCP_HEADERS, **headers}, timeout=10)
    return httpx.request(method, base + path, headers=headers, timeout=10)


@pytest.mark.parametrize("kind", KINDS)
def test_a_provider_bound_token_passes_with_its_proof_and_is_refused_without(lab: dict[str, Any], kind: str) -> None:
    issued = bound_token(lab["url"])
    assert issued["token_type"] == "DPoP"
    token = issued["access_token"]
    claims = lab["provider"].server().store.find_token(token)
    assert claims is not None and claims.extra["cnf"] == {"jkt": KEY.thumbprint()}
    base = lab["servers"][kind].url
    audit: AuditLog = lab["spaces"][kind]["audit"]
    valid = {"Authorization": f"DPoP {token}", "DPoP": proof(base, kind, token)}
    passed = send(base, kind, valid)
    assert passed.status_code == 200, (passed.status_code, passed.headers, audit.events()[-1:])
    before = audit.total
    assert_dpop_refusal(send(base, kind, valid), audit, before, "dpop_proof", "replayed proof")
    for misuse in MISUSES:
        before = audit.total
        assert_dpop_refusal(send(base, kind, misuse.headers(base, kind, token)), audit, before, misuse.reason,
                            misuse.name)
