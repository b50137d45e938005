"""The official MCP TypeScript SDK client against a running lab's agent, at the root and at a tenant: discovery
(RFC 9728 and RFC 8414, path-inserted well-known URLs), registration, authorization code + PKCE with the lab's
headless approval, refresh, client_credentials and private_key_jwt, each ending in tools/list and tools/call; the
same against a private lab (``labkit.capability``), whose URLs carry its secret: the SDK carries it unaware."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from labkit.lab import Lab

from .conftest import NodeFlows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=[False, True], ids=["open", "private"])
def running(request: pytest.FixtureRequest) -> Iterator[Lab]:
    with Lab(capture_logs=False, private=request.param) as lab:  # its own: the SDK registers clients
        yield lab


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_mcp_sdk_client_against_the_agent(node_flows: NodeFlows, running: Lab, tenant: str | None) -> None:
    secret = urlsplit(running.agent_url).path  # "" for an open lab, "/<secret>" for a private one
    agent = f"{running.agent_url}/t/{tenant}" if tenant else running.agent_url
    issuer = f"{running.provider_url}/{tenant}" if tenant else running.provider_url
    steps = node_flows("mcp_sdk_flows.mjs", running.agent_url, running.provider_url, tenant or "-")
    discovery = steps["discovery"]
    assert (discovery["resource"], discovery["authorization_servers"], discovery["issuer"]) == (
        f"{agent}/mcp", [issuer], issuer)
    well_known = f"/.well-known/oauth-protected-resource{secret}{'/t/' + tenant if tenant else ''}/mcp"
    assert discovery["fetched"][0] == f"200 {well_known}"  # RFC 9728 §3.1, found first
    assert discovery["fetched"][1] == (
        f"200 /.well-known/oauth-authorization-server{secret}{'/' + tenant if tenant else ''}")
    code = steps["authorization_code"]
    assert code["first_call_unauthorized"] and code["registered"] and code["public_client"] and code["has_refresh"]
    assert (code["authorize_endpoint"], code["resource"], code["pkce"], code["iss"]) == (
        f"{issuer}/authorize", f"{agent}/mcp", "S256", issuer)
    assert "echo" in code["tools"] and code["echo_error"] is False
    assert steps["refresh"]["result"] == "AUTHORIZED" and steps["refresh"]["rotated"] and steps["refresh"]["new_access"]
    for machine in ("client_credentials", "private_key_jwt"):
        assert "echo" in steps[machine]["tools"] and steps[machine]["echo_error"] is False
