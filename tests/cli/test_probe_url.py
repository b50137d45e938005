"""``labkit probe URL`` against three real targets over HTTP: the sample agent (Lab), a FastAPI A2A-style app
behind ``labkit.integrations.fastapi``, and an MCP server on the official SDK's auth with ``GateTokenVerifier``;
and a broken agent, which the probe must catch (exit 1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Security

from labkit.audit import AuditLog
from labkit.cli import main
from labkit.config import SecurityConfig, validate_security_config
from labkit.integrations import closing, gate_for
from labkit.integrations.fastapi import BearerGuard
from labkit.integrations.mcp import GateTokenVerifier
from labkit.lab import Lab
from labkit.probe.fetch import Fetcher
from labkit.probe.matrix import probe_url
from labkit.probe.tokens import KINDS, LabProvider, TokenFile
from labkit.servers import ServerThread

pytestmark = pytest.mark.integration


def security(provider: str) -> SecurityConfig:
    return validate_security_config({"security": {"oauth2": {
        "validation_strategy": "jwt", "jwks_url": f"{provider}/jwks", "jwt_issuer": provider,
        "jwt_audience": "api://oauth2-lab-agent", "jwt_algorithms": ["RS256", "ES256", "EdDSA"]}}})


def fastapi_agent(provider: str, public: str, *, broken: bool = False) -> FastAPI:
    """An A2A-style agent on FastAPI: a card, RFC 9728 metadata, one JSON-RPC route needing api:read."""
    resource = f"{public}/a2a"
    gate = gate_for(security(provider), resources=[resource])
    guard = BearerGuard(gate, audit=AuditLog(),
                        resource_metadata=f"{public}/.well-known/oauth-protected-resource/a2a")
    app = FastAPI(lifespan=closing(gate))

    @app.get("/.well-known/agent-card.json")
    async def card() -> dict[str, Any]:
        flows = {"clientCredentials": {"tokenUrl": f"{provider}/token", "scopes": {"api:read": "read"}}}
        return {"name": "fastapi agent", "url": resource, "protocolVersion": "0.3",
                "securitySchemes": {"oauth2": {"type": "oauth2", "flows": flows}},
                "security": [{"oauth2": ["api:read"]}]}

    @app.get("/.well-known/oauth-protected-resource/a2a")
    async def metadata() -> dict[str, Any]:
        return {"resource": resource, "authorization_servers": [provider], "scopes_supported": ["api:read"]}

    not_found = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "Task not found"}}
    if broken:  # the bug the probe exists for: a route nobody protected
        @app.post("/a2a")
        async def open_rpc() -> dict[str, Any]:
            return not_found
    else:
        @app.post("/a2a", dependencies=[Security(guard, scopes=["api:read"])])
        async def rpc() -> dict[str, Any]:
            return not_found
    return app


def mcp_server(provider: str, public: str) -> Any:
    """The README's MCP server: the SDK's own auth settings, labkit's verifier."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    resource = f"{public}/mcp"
    gate = gate_for(security(provider), resources=[resource])
    verifier = GateTokenVerifier(gate, resource_server_url=resource, required_scopes=["api:read"])
    server = MCPServer("tools", lifespan=closing(gate), token_verifier=verifier, auth=AuthSettings(
        issuer_url=provider, resource_server_url=resource, required_scopes=["api:read"],
        validate_token_resource=False))

    @server.tool()
    def hello(name: str) -> str:
        return f"hello {name}"

    return server.streamable_http_app(stateless_http=True, json_response=True)



@pytest.fixture(scope="module")
def targets(lab: Lab) -> Iterator[dict[str, str]]:
    servers = {name: ServerThread(name=name) for name in ("fastapi", "broken", "mcp")}
    servers["fastapi"].app = fastapi_agent(lab.provider_url, servers["fastapi"].url)
    servers["broken"].app = fastapi_agent(lab.provider_url, servers["broken"].url, broken=True)
    servers["mcp"].app = mcp_server(lab.provider_url, servers["mcp"].url)
    for server in servers.values():
        server.start()
    try:
        yield {"fastapi": servers["fastapi"].url, "broken": servers["broken"].url,
               "mcp": servers["mcp"].url + "/mcp"}
    finally:
        for server in servers.values():
            server.stop()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_sample_agent_answers_every_kind_right(lab: Lab, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_ADMIN_TOKEN", lab.provider.admin_token)  # as labkit mint: expired tokens by /admin/mint
    code, out, _ = run(["probe", lab.agent_url, "--provider", lab.provider_url, "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"], out
    assert report["advertised"]["authorization_servers"] == [lab.provider_url]
    assert {"oauth2", "oauth2_user"} <= set(report["advertised"]["schemes"])
    ran = {(r["endpoint"], r["kind"]) for r in report["results"] if r["ok"]}
    assert {kind for _, kind in ran} == set(KINDS)  # every kind was built and answered right
    assert {endpoint for endpoint, _ in ran} == {"a2a 1.0 /", "a2a 0.3 /"}
    code, out, _ = run(["probe", f"{lab.agent_url}/mcp", "--provider", lab.provider_url], capsys)
    assert code == 0, out
    assert "mcp /mcp  valid" in out and "no required scope advertised" in out


def test_a_fastapi_agent_and_a_broken_one(lab: Lab, targets: dict[str, str], capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_ADMIN_TOKEN", lab.provider.admin_token)
    code, out, _ = run(["probe", targets["fastapi"], "--provider", lab.provider_url], capsys)
    assert code == 0, out
    assert "a2a 0.3 /a2a  missing scope    403       403     yes" in out
    code, out, _ = run(["probe", targets["broken"], "--provider", lab.provider_url, "--json"], capsys)
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    wrong = {r["kind"] for r in report["results"] if r["ok"] is False}
    assert wrong == {"none", "garbage", "expired", "wrong audience", "alg none", "key confusion", "missing scope"}


def test_an_mcp_server_on_the_official_sdk(lab: Lab, targets: dict[str, str]) -> None:
    with Fetcher(15) as fetcher:
        report = probe_url(targets["mcp"], LabProvider(lab.provider_url, fetcher, admin_token=lab.provider.admin_token),
                           fetcher=fetcher)
    assert report.ok, report.table()
    assert report.advertised.resources == [targets["mcp"]]
    verdicts = {r.kind: r.actual for r in report.results}
    assert verdicts["valid"] not in (401, 403) and verdicts["key confusion"] == 401


def test_client_credentials_and_a_token_file(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for trusted in (["--token-url", f"{lab.provider_url}/token"], ["--issuer", lab.provider_url]):
        code, out, _ = run(["probe", lab.agent_url, "--client-id", "lab-client", "--client-secret",
                            "lab-client-secret", *trusted], capsys)
        assert code == 0, out
        assert "expired          -         -       skip" in out  # a real AS issues no expired tokens: not passed
        assert "valid            accepted  200     yes" in out and "key confusion    401       401     yes" in out
    # the target's own token endpoint is not one the user chose: the secret goes nowhere, and the report says why
    code, out, _ = run(["probe", lab.agent_url, "--client-id", "lab-client", "--client-secret", "lab-client-secret"],
                       capsys)
    assert code == 1 and "REFUSED token source: credentials not sent" in out, out
    token = tmp_path / "token"
    token.write_text(lab.token(["api:read"]) + "\n")
    code, out, _ = run(["probe", lab.agent_url, "--token-file", str(token), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and {r["kind"] for r in report["results"] if r["ok"]} >= {"valid", "alg none", "key confusion"}
    with Fetcher(15) as fetcher:
        assert probe_url(lab.agent_url, TokenFile("x.y.z"), fetcher=fetcher).ok is False  # a bad "good" token is caught


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["probe", "ftp://example"], 2, "not an http(s) URL"),  # a usage error: exit 2
    (["probe", "http://127.0.0.1:9/"], 1, "labkit probe:"),
    (["probe", "http://x", "--provider", "http://p", "--token-file", "f"], 2, "give one of"),
    (["probe", "http://x", "--client-id", "c"], 2, "needs --client-secret"),
    (["probe", "http://x", "--token-url", "http://t/token"], 2, "go with --client-id"),
    (["probe", "http://x", "--client-id", "c", "--client-secret", "s", "--token-url", "http://t", "--issuer",
      "http://i"], 2, "give one of --token-url, --issuer"),
])
def test_bad_invocations_are_one_line_errors(argv: list[str], status: int, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == status and message in err and "Traceback" not in err + out
