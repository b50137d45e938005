"""The integrations against the lab provider over real HTTP: the README's four apps, one token table.

Each README example runs on its own uvicorn server on 127.0.0.1, validating tokens with the provider's
JWKS fetched over HTTP; tokens come from the provider's token endpoint (client credentials, code + PKCE
for the refresh token) or its ``mint`` (expired, wrong audience, a malformed scope claim).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from labkit.lab.calls import request_token
from labkit.provider import MockProvider, persona_client
from labkit.servers import ServerThread

from .test_integrations import KINDS, build_apps, call, check, table, write_config

pytestmark = pytest.mark.integration
AUDIENCE = "api://oauth2-lab-agent"
REDIRECT = "http://127.0.0.1:8765/callback"


def client_credentials(url: str, scope: str, resource: str | None = None) -> str:
    return request_token(f"{url}/token", *persona_client("default"), scope, resource=resource)


def refresh_token(url: str) -> str:
    """A refresh token from the code + PKCE flow (headless login as alice)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with httpx.Client(timeout=10) as http:
        authorized = http.get(f"{url}/authorize", params={
            "response_type": "code", "client_id": "lab-web", "redirect_uri": REDIRECT, "scope": "api:read",
            "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
        code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
        tokens = http.post(f"{url}/token", auth=("lab-web", "lab-web-secret"), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["refresh_token"])


@contextlib.contextmanager
def readme_servers(directory: Path) -> Iterator[dict[str, Any]]:
    """The provider and the four README apps (in ``directory``), each on its own loopback server."""
    provider = MockProvider()
    provider_server = ServerThread(provider.app, name="provider")
    provider.base_url = url = provider_server.url
    write_config(directory, {"validation_strategy": "jwt", "jwks_url": f"{url}/jwks", "jwt_issuer": url,
                             "jwt_audience": AUDIENCE, "jwt_algorithms": ["RS256", "ES256", "EdDSA"]})
    servers = {kind: ServerThread(name=f"readme-{kind}") for kind in KINDS}
    spaces = build_apps(directory, {kind: server.url for kind, server in servers.items()})
    started: list[ServerThread] = []
    try:
        for server in (provider_server, *servers.values()):
            if server is not provider_server:
                server.app = spaces[server.name.removeprefix("readme-")]["app"]
            server.start()
            started.append(server)
        yield {"provider": provider, "url": url, "servers": servers, "spaces": spaces}
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The README apps over real HTTP, and tokens of every kind from the provider."""
    with readme_servers(tmp_path_factory.mktemp("readme-http")) as running:
        url, provider = running["url"], running["provider"]
        tokens = {
            "valid": client_credentials(url, "api:read"),
            "hierarchy": client_credentials(url, "api:write"),
            "wildcard": client_credentials(url, "admin"),
            "expired": provider.mint("api:read", lifetime=-60),
            "wrong_audience": provider.mint("api:read", audience="api://someone-else"),
            "missing_scope": client_credentials(url, "files:read"),
            "malformed_scope": provider.mint("api:read", claims={"scope": 5}),
            "refresh": refresh_token(url),
        }
        yield {**running, "tokens": tokens}


@pytest.mark.parametrize("kind", KINDS)
def test_every_integration_answers_the_token_table_like_the_guard(lab: dict[str, Any], kind: str) -> None:
    with httpx.Client(base_url=lab["servers"][kind].url, timeout=10) as client:
        for case in table(lab["tokens"].__getitem__):
            check(kind, case, call(client, kind, case.authorization), lab["servers"][kind].url)


def test_the_mcp_server_advertises_a_resource_its_verifier_accepts(lab: dict[str, Any]) -> None:
    base = lab["servers"]["mcp"].url
    with httpx.Client(base_url=base, timeout=10) as client:
        refused = call(client, "mcp", None)
        metadata_url = refused.headers["www-authenticate"].split('resource_metadata="')[1].split('"')[0]
        assert metadata_url == f"{base}/.well-known/oauth-protected-resource/mcp"
        metadata = client.get(metadata_url).json()
        assert metadata["resource"] == f"{base}/mcp" and metadata["authorization_servers"] == [lab["url"]]
        # RFC 8707: a client asks for a token for the advertised resource; that becomes its aud.
        token = client_credentials(lab["url"], "api:read", resource=metadata["resource"])
        assert call(client, "mcp", f"Bearer {token}").status_code == 200
        verifier = lab["spaces"]["mcp"]["verifier"]
        assert verifier.last.principal.claims["aud"] == metadata["resource"]
    # The other apps accept only the configured audience: the advertised MCP resource is not theirs.
    with httpx.Client(base_url=lab["servers"]["fastapi"].url, timeout=10) as client:
        assert call(client, "fastapi", f"Bearer {token}").status_code == 401


def test_decisions_are_audited_without_tokens(lab: dict[str, Any]) -> None:
    expired = lab["tokens"]["expired"]
    for kind in KINDS:
        audit = lab["spaces"][kind]["audit"]
        with httpx.Client(base_url=lab["servers"][kind].url, timeout=10) as client:
            call(client, kind, f"Bearer {expired}")
        event = audit.events()[-1]
        assert event.decision == "deny" and event.reason == "expired", (kind, event)
        assert all(expired not in event.to_json() for event in audit.events()), kind
