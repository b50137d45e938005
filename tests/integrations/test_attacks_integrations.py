"""An outsider's attacks on the integrations (issue #16): what each front door reads from a request's headers.

Every integration must read the token the way the ASGI guard does (``labkit.guard.dpop.presented``): the same
request gets the same answer from each, and a request the guard refuses never reaches a handler.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from labkit.audit import AuditLog

from ..helpers import Keys, mint
from .test_integrations import KINDS, served
from .test_integrations_dpop import BASE, LIST, MCP_HEADERS, bound_token, proof, readme_apps, target

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, dict[str, Any]]:
    return readme_apps(tmp_path_factory.mktemp("attacks"), keys)


async def send(client: httpx.AsyncClient, kind: str, headers: list[tuple[str, str]]) -> httpx.Response:
    method, path = target(kind)
    if kind == "mcp":
        return await client.request(method, path, json=LIST, headers=[*MCP_HEADERS.items(), *headers])
    return await client.request(method, path, headers=headers)


def plain_token(keys: Keys) -> str:
    now = int(time.time())
    return mint(keys.rsa, iat=now - 60, nbf=now - 60, exp=now + 3600, scope="api:write")


# Finding 3: with two Authorization headers the guard reads no token (RFC 6750 ambiguity), but the mcp SDK's
# BearerAuthBackend took the first one and GateTokenVerifier admitted it: one request, two readings.
@pytest.mark.parametrize("kind", KINDS)
async def test_two_authorization_headers_are_refused_by_every_integration(apps: dict[str, dict[str, Any]],
                                                                          keys: Keys, kind: str) -> None:
    namespace = apps[kind]
    audit: AuditLog = namespace["audit"]
    token, bound = plain_token(keys), bound_token(keys)
    async with served(kind, namespace) as client:
        alone = await send(client, kind, [("Authorization", f"Bearer {token}")])
        assert alone.status_code == 200, (kind, alone.status_code)
        variants = [
            [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")],
            [("Authorization", f"Bearer {token}"), ("Authorization", "Basic YTpi")],
            [("Authorization", f"Bearer {token}"), ("Authorization", f"DPoP {bound}"),
             ("DPoP", proof(BASE, kind, bound))],
            [("Authorization", f"DPoP {bound}"), ("Authorization", f"DPoP {bound}"),
             ("DPoP", proof(BASE, kind, bound))],
        ]
        for headers in variants:
            before = audit.total
            response = await send(client, kind, headers)
            assert response.status_code == 401, (kind, [h[1][:12] for h in headers], response.status_code)
            assert audit.total >= before
