"""Multi-tenancy: /t/{tenant}/ and issuer-based choice at the root; no token crosses tenants."""

from __future__ import annotations

import httpx
import pytest

from labkit.lab import Lab

pytestmark = pytest.mark.integration



def call(lab: Lab, token: str | None, prefix: str = "", capability: str = "echo") -> httpx.Response:
    return lab.rpc("execute", {"capability": capability, "arguments": {"text": "t"}}, token=token,
                   path=f"{prefix}/")


def test_tenant_tokens_work_only_at_their_tenant(lab: Lab) -> None:
    acme = lab.token(["api:read"], tenant="acme")
    globex = lab.token(["api:read"], tenant="globex")
    default = lab.token(["api:read"])
    assert call(lab, acme, "/t/acme").status_code == 200
    assert call(lab, globex, "/t/globex").status_code == 200
    assert call(lab, acme, "/t/globex").status_code == 401
    assert call(lab, globex, "/t/acme").status_code == 401
    assert call(lab, default, "/t/acme").status_code == 401
    # at the root, the issuer (read unverified) picks the validator, which then checks everything
    assert call(lab, acme).status_code == 200
    assert call(lab, default).status_code == 200
    events = lab.audit.events()[-7:]
    assert [e.tenant for e in events] == ["acme", "globex", "globex", "acme", "acme", "acme", None]


def test_hierarchy_is_per_tenant(lab: Lab) -> None:
    # admin implies everything at acme; globex's hierarchy knows no such thing
    acme_admin = lab.token(["admin"], tenant="acme")
    globex_admin = lab.token(["admin"], tenant="globex")
    assert call(lab, acme_admin, "/t/acme", "write_operation").status_code == 200
    assert call(lab, globex_admin, "/t/globex", "write_operation").status_code == 403


def test_forged_issuer_at_the_root_is_still_verified(lab: Lab) -> None:
    # a token that names acme's issuer but is signed by the default tenant's key: acme's validator refuses it
    forged = lab.provider.mint(["admin"], claims={"iss": f"{lab.provider_url}/acme"})
    assert call(lab, forged).status_code == 401


def test_unknown_tenant_is_refused_without_leaking(lab: Lab) -> None:
    response = call(lab, lab.token(["api:read"]), "/t/initech")
    assert response.status_code == 401 and response.json()["error"]["message"] == "Unauthorized"
    assert lab.audit.events()[-1].reason == "tenant"
    assert "acme" not in response.text and "globex" not in response.text


def test_tenant_card_and_metadata_advertise_the_tenant_provider(lab: Lab) -> None:
    card = httpx.get(f"{lab.agent_url}/t/acme/.well-known/agent-card.json").json()
    flow = card["securitySchemes"]["oauth2"]["oauth2SecurityScheme"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"{lab.provider_url}/acme/token"
    assert card["supportedInterfaces"][0]["url"] == f"{lab.agent_url}/t/acme/"
    metadata = httpx.get(f"{lab.agent_url}/t/globex/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["authorization_servers"] == [f"{lab.provider_url}/globex"]
    assert metadata["resource"] == f"{lab.agent_url}/t/globex/mcp"
    mcp = lab.rpc("tools/list", {}, path="/t/globex/mcp")
    assert f'resource_metadata="{lab.agent_url}/t/globex/.well-known/oauth-protected-resource/mcp"' in \
        mcp.headers["www-authenticate"]


def test_caches_are_keyed_by_tenant(lab: Lab) -> None:
    live = lab.agent.middleware.for_plugin("system_tools")
    before = len(live.cache)
    for prefix, tenant in (("/t/acme", "acme"), ("/t/globex", "globex")):
        token = lab.provider.mint(["api:read"], subject="same-user", tenant=tenant)
        assert call(lab, token, prefix).status_code == 200
    assert len(live.cache) == before + 2  # same subject, same arguments, two tenants: two entries
