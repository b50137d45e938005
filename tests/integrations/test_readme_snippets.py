"""Every snippet of the README's "Use the guard in your own app", as an adopter would use it.

The snippets are found by their ``<!-- readme-snippet: NAME -->`` marker. Here: every python block of the section
is marked, the python snippets pass ``mypy --strict``, and the apps, built from the section's own
``agentup.yml`` against the lab provider, run on loopback servers: RFC 9728 metadata from the config, CORS
outside the guard (preflights and 401s carry the CORS headers) and the ``admit=`` rate limit.
``test_integrations.py`` and ``test_integrations_http.py`` run the token table through the same apps.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from labkit import load_config
from labkit.integrations import closing
from labkit.integrations.starlette import BearerBackend, requires
from labkit.lab.calls import request_token
from labkit.provider import MockProvider, persona_client
from labkit.servers import ServerThread

from ..helpers import ROOT
from .test_integrations import KINDS, build_apps, call, readme_section, readme_snippets

AUDIENCE = "api://oauth2-lab-agent"  # the lab provider's default audience
ORIGIN = "https://app.example"
NAMES = ("agentup.yml", "guard", "fastapi", "starlette", "mcp", "limits")


def test_every_python_block_of_the_section_is_a_marked_snippet() -> None:
    snippets = readme_snippets()
    assert set(snippets) == set(NAMES)
    python = [name for name, (language, _) in snippets.items() if language == "python"]
    assert len(re.findall(r"```python\n", readme_section())) == len(python)  # none unmarked, none untested
    assert snippets["agentup.yml"][0] == "yaml"


def test_the_readme_config_is_a_minimal_jwks_config(tmp_path: Path) -> None:
    (tmp_path / "agentup.yml").write_text(readme_snippets()["agentup.yml"][1])
    env = {"JWKS_URL": "https://as.example/jwks", "ISSUER": "https://as.example", "AUDIENCE": AUDIENCE}
    oauth2 = load_config(tmp_path / "agentup.yml", env=env).oauth2
    assert (oauth2.validation_strategy, oauth2.jwks_url, oauth2.issuers) == ("jwt", env["JWKS_URL"], (env["ISSUER"],))
    assert oauth2.algorithms == ("RS256", "ES256") and oauth2.audiences == (AUDIENCE,)


@pytest.mark.integration
def test_the_python_snippets_pass_mypy_strict(tmp_path: Path) -> None:
    files = []
    for name, (language, code) in readme_snippets().items():
        if language == "python":
            files.append(tmp_path / f"readme_{name}.py")
            files[-1].write_text(code)
    # as an adopter runs it: --strict and no project settings (no pydantic plugin: constructors typed by fields)
    bare = tmp_path / "mypy.ini"
    bare.write_text("[mypy]\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file", str(bare),
                             "--cache-dir", str(ROOT / ".mypy_cache" / "readme"), *map(str, files)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def readme_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The provider, and the README's apps built from the README's ``agentup.yml``, each on a loopback server."""
    directory = tmp_path_factory.mktemp("readme-snippets")
    (directory / "agentup.yml").write_text(readme_snippets()["agentup.yml"][1])
    provider = MockProvider()
    provider_server = ServerThread(provider.app, name="provider")
    provider.base_url = url = provider_server.url
    servers = {kind: ServerThread(name=f"readme-{kind}") for kind in KINDS}
    with environment(JWKS_URL=f"{url}/jwks", ISSUER=url, AUDIENCE=AUDIENCE):
        spaces = build_apps(directory, {kind: server.url for kind, server in servers.items()})
        with contextlib.chdir(directory):
            limits: dict[str, Any] = {"__name__": "readme_limits"}
            exec(compile(readme_snippets()["limits"][1], "README.md (limits)", "exec"), limits)  # noqa: S102
    started: list[ServerThread] = []
    try:
        provider_server.start()
        started.append(provider_server)
        for kind, server in servers.items():
            server.app = spaces[kind]["app"]
            server.start()
            started.append(server)
        limited = ServerThread(limited_app(limits["gate"]), name="readme-limits")
        limited.start()
        started.append(limited)
        token = request_token(f"{url}/token", *persona_client("default"), "api:read")
        yield {"url": url, "servers": servers, "spaces": spaces, "limited": limited, "token": token}
    finally:
        for server in reversed(started):
            server.stop()


def limited_app(gate: Any) -> Starlette:
    """The README's rate-limited gate behind the README's Starlette front door."""
    @requires("api:read")
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.user.identity})

    backend = BearerBackend(gate)
    return Starlette(routes=[Route("/items", items)], lifespan=closing(gate),
                     middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)])


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_the_readme_apps_accept_the_providers_token(readme_lab: dict[str, Any], kind: str) -> None:
    with httpx.Client(base_url=readme_lab["servers"][kind].url, timeout=10) as client:
        assert call(client, kind, f"Bearer {readme_lab['token']}").status_code == 200
        assert call(client, kind, None).status_code == 401


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_rfc9728_metadata_comes_from_the_config_the_guard_uses(readme_lab: dict[str, Any], kind: str) -> None:
    base = readme_lab["servers"][kind].url
    with httpx.Client(base_url=base, timeout=10) as client:
        challenge = client.get("/items" if kind != "mcp" else "/mcp").headers["www-authenticate"]
        location = challenge.split('resource_metadata="')[1].split('"')[0]
        resource = base if kind != "mcp" else f"{base}/mcp"
        assert location == base + "/.well-known/oauth-protected-resource" + resource.removeprefix(base)
        document = client.get(location).json()  # public: no token
    # the issuer exactly as configured (RFC 8414 §3.3), the SDK's document too
    assert document["resource"] == resource and document["authorization_servers"] == [readme_lab["url"]]
    if kind != "mcp":  # the MCP SDK writes its own document
        assert document["scopes_supported"] == ["admin", "api:read", "api:write"]
        assert document["bearer_methods_supported"] == ["header"]
        # RFC 8707: a token asked for this resource is accepted (gate_for(cfg, resources=[resource]))
        token = request_token(f"{readme_lab['url']}/token", *persona_client("default"), "api:read",
                              resource=resource)
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/items", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["guard", "fastapi", "starlette"])
def test_cors_is_outside_the_guard(readme_lab: dict[str, Any], kind: str) -> None:
    with httpx.Client(base_url=readme_lab["servers"][kind].url, timeout=10) as client:
        preflight = client.options("/items", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                                      "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 200, (kind, preflight.status_code)  # never a 401: no token in a preflight
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        refused = client.get("/items", headers={"Origin": ORIGIN})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
        exposed = refused.headers["access-control-expose-headers"].lower()
        assert "www-authenticate" in exposed and "retry-after" in exposed
        foreign = client.get("/items", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.integration
def test_the_readme_rate_limit_answers_429_with_retry_after(readme_lab: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {readme_lab['token']}"}
    answers: list[httpx.Response] = []
    with httpx.Client(base_url=readme_lab["limited"].url, timeout=10) as client:
        while len(answers) < 40 and (not answers or answers[-1].status_code == 200):
            answers.append(client.get("/items", headers=headers))
    # burst=10, then one more a second: the eleventh (or, on a slow machine, a few later) is refused
    assert [r.status_code for r in answers[:10]] == [200] * 10 and answers[-1].status_code == 429
    assert int(answers[-1].headers["retry-after"]) >= 1
