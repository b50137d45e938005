"""The integrations, in process (``httpx.ASGITransport``): the README's four apps answer one token table alike.

The apps are the README's own examples, executed here (so the README cannot drift), over an
``agentup.yml`` with an inline JWK Set. ``test_integrations_http.py`` runs the same table against the lab
provider over real HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from labkit.audit import AuditLog
from labkit.integrations.mcp import GateTokenVerifier

from ..helpers import AUDIENCE, ISSUER, ROOT, Keys, mint

pytestmark = pytest.mark.anyio

KINDS = ("guard", "fastapi", "starlette", "mcp")
HIERARCHY = {"admin": ["*"], "api:write": ["api:read"], "api:read": [], "files:read": []}
REALM = "Bearer"  # RFC 6750 §3: realm is optional; an adopter's challenges name none unless given one
INVALID = f'{REALM} error="invalid_token"'
SECTION = "## Use the guard in your own app"
# <!-- readme-snippet: NAME --> then one fenced block: the snippets of the section, by name
SNIPPET = re.compile(r"<!-- readme-snippet: (\S+) -->\n```(\w+)\n(.*?)```", re.S)


def readme_section() -> str:
    """The README's "Use the guard in your own app" section."""
    return (ROOT / "README.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]


def readme_snippets() -> dict[str, tuple[str, str]]:
    """The section's marked snippets: name -> (language, code)."""
    found = SNIPPET.findall(readme_section())
    snippets = {name: (language, code) for name, language, code in found}
    assert len(snippets) == len(found), [name for name, _, _ in found]  # names are unique
    return snippets


def readme_examples() -> dict[str, str]:
    """The python snippets of the four front doors, by integration."""
    snippets = readme_snippets()
    assert all(snippets[kind][0] == "python" for kind in KINDS), {k: snippets.get(k, ("",))[0] for k in KINDS}
    return {kind: snippets[kind][1] for kind in KINDS}


def metadata_of(kind: str, public_url: str) -> str | None:
    """The ``resource_metadata=`` the README's ``kind`` app sends in its challenges (the SDK words MCP's)."""
    return None if kind == "mcp" else f"{public_url}/.well-known/oauth-protected-resource"


@dataclass(frozen=True)
class Case:
    """One row of the shared token table: what the ASGI guard answers (the reference for the others)."""

    name: str
    authorization: str | None
    status: int
    challenge: str | None


def table(token: Callable[[str], str]) -> list[Case]:
    """The shared token table; ``token(kind)`` makes each token (locally minted or from the lab provider)."""
    return [
        Case("valid", f"Bearer {token('valid')}", 200, None),
        Case("hierarchy", f"Bearer {token('hierarchy')}", 200, None),
        Case("wildcard", f"Bearer {token('wildcard')}", 200, None),
        Case("expired", f"Bearer {token('expired')}", 401, INVALID),
        Case("wrong audience", f"Bearer {token('wrong_audience')}", 401, INVALID),
        Case("missing scope", f"Bearer {token('missing_scope')}", 403,
             f'{REALM} error="insufficient_scope", scope="api:read"'),
        Case("malformed scope claim", f"Bearer {token('malformed_scope')}", 401, INVALID),
        Case("refresh token", f"Bearer {token('refresh')}", 401, INVALID),
        Case("not a token", "Bearer not-a-jwt", 401, INVALID),
        Case("no token", None, 401, REALM),
        Case("another scheme", "Basic bGFiOmxhYg==", 401, REALM),
    ]


def write_config(directory: Path, oauth2: dict[str, Any]) -> None:
    """The ``agentup.yml`` the README examples load (JSON is YAML)."""
    document = {"security": {"enabled": True, "type": "oauth2", "oauth2": oauth2, "scope_hierarchy": HIERARCHY}}
    (directory / "agentup.yml").write_text(json.dumps(document))


def build_apps(directory: Path, public_urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Execute each README example in ``directory`` (where its ``agentup.yml`` is); their namespaces by kind."""
    examples = readme_examples()
    spaces: dict[str, dict[str, Any]] = {}
    with contextlib.chdir(directory):
        for kind in KINDS:
            os.environ["PUBLIC_URL"] = public_urls.get(kind, "http://127.0.0.1:8000")
            try:
                namespace: dict[str, Any] = {"__name__": f"readme_{kind}"}
                exec(compile(examples[kind], f"README.md ({kind} example)", "exec"), namespace)  # noqa: S102
            finally:
                del os.environ["PUBLIC_URL"]
            spaces[kind] = namespace
    return spaces


def call(client: httpx.Client | httpx.AsyncClient, kind: str, authorization: str | None) -> Any:
    """The protected call of each example: ``GET /items``, or MCP ``tools/list`` on ``/mcp``."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    if kind == "mcp":
        headers |= {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        return client.post("/mcp", json=body, headers=headers)
    return client.get("/items", headers=headers)


def check(kind: str, case: Case, response: httpx.Response, public_url: str = "http://127.0.0.1:8000") -> None:
    """The answer of ``kind`` to ``case``: the guard's status and challenge, pointing at the app's RFC 9728
    metadata (MCP: as the SDK words it)."""
    challenge = response.headers.get("www-authenticate")
    assert response.status_code == case.status, (kind, case.name, response.status_code, challenge)
    if kind != "mcp":
        expected = case.challenge
        if expected is not None:
            expected += f'{"," if expected != REALM else ""} resource_metadata="{metadata_of(kind, public_url)}"'
        assert challenge == expected, (kind, case.name, challenge)
        return
    # The SDK writes MCP's refusals: no realm, error="invalid_token" even without a token, no scope=.
    if case.status == 200:
        assert challenge is None
        return
    assert challenge is not None and 'resource_metadata="' in challenge, case.name
    expected = "insufficient_scope" if case.status == 403 else "invalid_token"
    assert f'error="{expected}"' in challenge, (case.name, challenge)


# -- in process ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, Any]:
    """The README apps over an inline JWK Set, and locally minted tokens (exp relative to the wall clock,
    which the MCP SDK checks itself)."""
    directory = tmp_path_factory.mktemp("readme")
    write_config(directory, {"validation_strategy": "jwt", "jwks": keys.jwks(keys.rsa), "jwt_algorithms": ["RS256"],
                             "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE})
    now = int(time.time())
    fresh = {"iat": now - 60, "nbf": now - 60, "exp": now + 3600}
    tokens = {
        "valid": mint(keys.rsa, **fresh, scope="api:read"),
        "hierarchy": mint(keys.rsa, **fresh, scope="api:write"),
        "wildcard": mint(keys.rsa, **fresh, scope="admin"),
        "expired": mint(keys.rsa, iat=now - 7200, nbf=now - 7200, exp=now - 3600, scope="api:read"),
        "wrong_audience": mint(keys.rsa, **fresh, aud="api://someone-else", scope="api:read"),
        "missing_scope": mint(keys.rsa, **fresh, scope="files:read"),
        "malformed_scope": mint(keys.rsa, **fresh, scope=5),
        "refresh": mint(keys.rsa, **fresh, scope="api:read", header={"typ": "refresh+jwt"}),
    }
    return {"spaces": build_apps(directory, {}), "tokens": tokens}


@contextlib.asynccontextmanager
async def served(kind: str, namespace: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the example (the MCP session manager running, as its lifespan would)."""
    runs = namespace["server"].session_manager.run() if kind == "mcp" else contextlib.nullcontext()
    async with runs:
        transport = httpx.ASGITransport(namespace["app"])
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            yield client


@pytest.mark.parametrize("kind", KINDS)
async def test_every_integration_answers_the_token_table_like_the_guard(local: dict[str, Any], kind: str) -> None:
    namespace = local["spaces"][kind]
    audit: AuditLog = namespace["audit"]
    async with served(kind, namespace) as client:
        for case in table(local["tokens"].__getitem__):
            before = audit.total
            response = await call(client, kind, case.authorization)
            check(kind, case, response)
            if case.status == 200 and kind != "mcp":
                assert response.json()["hello"] == "alice"
            new = audit.total - before
            events = audit.events()[-new:] if new else []
            if kind == "mcp":
                # The SDK decides scopes and missing tokens itself; the verifier audits the tokens it refuses.
                refused = case.status == 401 and (case.authorization or "").startswith("Bearer ")
                assert [e.decision for e in events] == (["deny"] if refused else []), (case.name, events)
                continue
            assert [e.decision for e in events] == ["allow" if case.status == 200 else "deny"], (kind, case.name)


async def test_fastapi_declares_its_security_scheme_and_route_scopes(local: dict[str, Any]) -> None:
    async with served("fastapi", local["spaces"]["fastapi"]) as client:
        document = (await client.get("/openapi.json")).json()
    # Swagger UI's Authorize button: the client-credentials flow at the README's token URL
    flow = {"tokenUrl": "https://auth.example/token", "scopes": {"api:read": "Read items"}}
    assert document["components"]["securitySchemes"] == {"oauth2": {"type": "oauth2",
                                                                    "flows": {"clientCredentials": flow}}}
    assert document["paths"]["/items"]["get"]["security"] == [{"oauth2": ["api:read"]}]
    assert "/.well-known/oauth-protected-resource" not in document["paths"]


async def test_starlette_anonymous_passes_public_routes_and_bad_tokens_are_refused_everywhere(
        local: dict[str, Any]) -> None:
    async with served("starlette", local["spaces"]["starlette"]) as client:
        anonymous = await client.get("/health")
        assert anonymous.status_code == 200 and anonymous.json() == {"ok": True, "anonymous": True}
        bad = await client.get("/health", headers={"Authorization": "Bearer not-a-jwt"})
        metadata = metadata_of("starlette", "http://127.0.0.1:8000")
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == f'{INVALID}, resource_metadata="{metadata}"'

        valid = await client.get("/items", headers={"Authorization": f"Bearer {local['tokens']['hierarchy']}"})
        assert valid.json()["scopes"] == ["api:read", "api:write"]  # the effective scopes


async def test_mcp_access_token_carries_effective_scopes_and_resource(local: dict[str, Any]) -> None:
    verifier: GateTokenVerifier = local["spaces"]["mcp"]["verifier"]
    hierarchy = await verifier.verify_token(local["tokens"]["hierarchy"])
    assert hierarchy is not None and hierarchy.scopes == ["api:read", "api:write"]
    assert hierarchy.token != local["tokens"]["hierarchy"] and hierarchy.subject == "alice"
    assert hierarchy.resource is None  # its aud is the configured audience, not the MCP resource
    wildcard = await verifier.verify_token(local["tokens"]["wildcard"])
    assert wildcard is not None and "api:read" in wildcard.scopes  # a "*" grant names the required scopes
    for refused in ("expired", "wrong_audience", "malformed_scope", "refresh"):
        assert await verifier.verify_token(local["tokens"][refused]) is None, refused
    # What the SDK hands over after "Bearer " is held to RFC 6750's grammar.
    token = local["tokens"]["valid"]
    for mangled in (f"{token} extra", f"{token}\u00e9", f"{token}\x00", ""):
        assert await verifier.verify_token(mangled) is None


@pytest.mark.integration
def test_the_core_and_the_package_import_neither_fastapi_nor_mcp() -> None:
    code = ("import sys, labkit, labkit.config, labkit.scopes, labkit.errors, labkit.auth, labkit.guard, "
            "labkit.middleware, labkit.audit, labkit.integrations, labkit.integrations.starlette; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'mcp', 'a2a')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]", result.stdout
