"""RFC 9449 end to end over real HTTP: the lab provider binds a token to the client's key, the sample agent
(``require_dpop``) accepts it only with a fresh proof by that key for that request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof
from labkit.lab import Lab
from sample_agent import default_config_path

from ..helpers import NOW

pytestmark = pytest.mark.integration

KEY = ECKey.generate_key("P-256")
THIEF = ECKey.generate_key("P-256")
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


def config(**dpop: Any) -> dict[str, Any]:
    raw = yaml.safe_load(Path(default_config_path()).read_text())
    raw["security"]["oauth2"].update(dpop)
    return dict(raw)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(config(require_dpop=True), clock=lambda: NOW) as running:
        yield running


def dpop_token(lab: Lab, key: Any = KEY, *, nonce: str | None = None) -> httpx.Response:
    url = f"{lab.provider_url}/token"
    return httpx.post(url, data={"grant_type": "client_credentials", "scope": "api:read",
                                 "resource": f"{lab.agent_url}/mcp"},
                      auth=("lab-client", "lab-client-secret"),
                      headers={"DPoP": make_proof(key, method="POST", url=url, iat=NOW, nonce=nonce)})


def mcp(lab: Lab, token: str, proof: str | None, scheme: str = "DPoP", path: str = "/mcp") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}", "Accept": "application/json, text/event-stream"}
    if proof is not None:
        headers["DPoP"] = proof
    return httpx.post(f"{lab.agent_url}{path}", json=LIST, headers=headers)


def proof_for(lab: Lab, token: str, key: Any = KEY, method: str = "POST", path: str = "/mcp", **kw: Any) -> str:
    return make_proof(key, method=method, url=f"{lab.agent_url}{path}", iat=NOW, access_token=token, **kw)


def test_the_provider_binds_the_token_and_introspection_says_so(lab: Lab) -> None:
    answer = dpop_token(lab).json()
    assert answer["token_type"] == "DPoP"
    claims = lab.provider.server().store.find_token(answer["access_token"])
    assert claims is not None and claims.extra["cnf"] == {"jkt": KEY.thumbprint()}
    found = httpx.post(f"{lab.provider_url}/introspect", data={"token": answer["access_token"]},
                       auth=("lab-agent", "lab-agent-secret")).json()
    assert found["token_type"] == "DPoP" and found["cnf"] == {"jkt": KEY.thumbprint()}
    metadata = httpx.get(f"{lab.provider_url}/.well-known/oauth-authorization-server").json()
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]


def test_a_valid_proof_passes_and_everything_else_is_refused(lab: Lab) -> None:
    token = dpop_token(lab).json()["access_token"]
    assert mcp(lab, token, proof_for(lab, token)).status_code == 200
    refused = {
        "stolen token as Bearer": mcp(lab, token, None, scheme="Bearer"),
        "stolen token, thief's key": mcp(lab, token, proof_for(lab, token, THIEF)),
        "proof for another URL": mcp(lab, token, proof_for(lab, token, path="/")),
        "proof for another method": mcp(lab, token, proof_for(lab, token, method="GET")),
        "no proof": mcp(lab, token, None),
    }
    replayed = proof_for(lab, token, jti="once")
    assert mcp(lab, token, replayed).status_code == 200
    refused["replayed proof"] = mcp(lab, token, replayed)
    for case, response in refused.items():
        assert response.status_code == 401, case
        assert response.headers["www-authenticate"].startswith("DPoP "), case
        assert 'algs="' in response.headers["www-authenticate"], case


def test_a_bearer_token_is_refused_when_dpop_is_required(lab: Lab) -> None:
    token = lab.token(["api:read"], resource=f"{lab.agent_url}/mcp")
    response = mcp(lab, token, None, scheme="Bearer")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("DPoP ")


def test_the_token_endpoint_checks_its_proof_and_nonce(lab: Lab) -> None:
    url = f"{lab.provider_url}/token"
    body = {"grant_type": "client_credentials", "scope": "api:read"}
    wrong = make_proof(KEY, method="POST", url=f"{lab.provider_url}/jwks", iat=NOW)
    bad = httpx.post(url, data=body, auth=("lab-client", "lab-client-secret"), headers={"DPoP": wrong})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_dpop_proof")
    once = make_proof(KEY, method="POST", url=url, iat=NOW)
    refused = httpx.post(url, data=body, auth=("lab-client", "wrong-secret"), headers={"DPoP": once})
    assert refused.status_code == 401
    assert httpx.post(url, data=body, auth=("lab-client", "lab-client-secret"),
                      headers={"DPoP": once}).status_code == 200  # a refused request spent nothing
    again = httpx.post(url, data=body, auth=("lab-client", "lab-client-secret"), headers={"DPoP": once})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_dpop_proof")
    lab.provider.server().dpop.require_nonce()
    try:
        first = dpop_token(lab)
        assert (first.status_code, first.json()["error"]) == (400, "use_dpop_nonce")
        assert dpop_token(lab, nonce=first.headers["dpop-nonce"]).json()["token_type"] == "DPoP"
    finally:
        lab.provider.server().dpop.require_nonce(False)


def test_the_agent_asks_for_its_nonce(lab: Lab) -> None:
    lab.reload(config(require_dpop=True, dpop_nonce=True))
    try:
        token = dpop_token(lab).json()["access_token"]
        first = mcp(lab, token, proof_for(lab, token))
        assert first.status_code == 401 and 'error="use_dpop_nonce"' in first.headers["www-authenticate"]
        second = mcp(lab, token, proof_for(lab, token, nonce=first.headers["dpop-nonce"]))
        assert second.status_code == 200
    finally:
        lab.reload(config(require_dpop=True))
