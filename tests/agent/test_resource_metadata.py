"""RFC 9728 §3.1: a resource's metadata is at the host's ``/.well-known/oauth-protected-resource`` followed by the
resource's path, public, and its ``resource`` is that resource identifier, for the root and for every tenant."""

from __future__ import annotations

import httpx
import pytest

from labkit.lab import Lab

pytestmark = pytest.mark.integration

WELL_KNOWN = "/.well-known/oauth-protected-resource"


@pytest.mark.parametrize("path", ["", "/", "/mcp", "/t/acme", "/t/acme/", "/t/acme/mcp", "/t/globex/mcp"])
def test_metadata_at_the_path_inserted_after_the_host(lab: Lab, path: str) -> None:
    resource = lab.agent_url + path
    response = httpx.get(lab.agent_url + WELL_KNOWN + path)  # no token: public, like the root's
    assert response.status_code == 200, (path, response.text)
    meta = response.json()
    if path in ("", "/"):
        assert meta["resource"] in (lab.agent_url, lab.agent_url + "/")  # the root's one document
    else:
        assert meta["resource"] == resource  # RFC 9728 §3.3: identical to the identifier the URL was built from
    tenant = path.split("/")[2] if path.startswith("/t/") else None
    issuer = f"{lab.provider_url}/{tenant}" if tenant else lab.provider_url
    assert meta["authorization_servers"] == [issuer]


@pytest.mark.parametrize("path", ["/t/initech/mcp", "/t/initech", "/t/acme/other", "/t/acme/mcp/x"])
def test_no_metadata_for_an_unknown_tenant_or_resource(lab: Lab, path: str) -> None:
    response = httpx.get(lab.agent_url + WELL_KNOWN + path)
    assert response.status_code in (401, 404), (path, response.status_code)
    assert "acme" not in response.text and "globex" not in response.text
