"""AgentUp-shaped configs run through the sample agent with tokens from the lab provider (real HTTP)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from labkit.errors import ConfigError
from labkit.lab import Lab

from .test_agentup_format import AGENTUP, ENV, SECRET

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENV.items():
            if key not in ("LAB_PROVIDER_URL", "KEYCLOAK_BASE_URL", "OAUTH2_JWKS_URL", "OAUTH2_JWT_ISSUER"):
                patch.setenv(key, value)
        with Lab() as running:
            patch.setenv("KEYCLOAK_BASE_URL", running.provider_url)
            patch.setenv("OAUTH2_JWKS_URL", running.provider_url + "/jwks")
            patch.setenv("OAUTH2_JWT_ISSUER", running.provider_url)
            yield running


def execute(lab: Lab, token: str, capability: str, path: str = "/") -> int:
    if path == "/mcp":
        params: dict[str, Any] = {"name": capability, "arguments": {"text": "hi", "path": "a.txt"}}
        return lab.rpc("tools/call", params, token=token, path="/mcp").status_code
    args = {"text": "hi", "path": "a.txt", "content": "x"}
    return lab.rpc("execute", {"capability": capability, "arguments": args}, token=token).status_code


# (file, persona, granted scopes, {capability: expected status on execute})
CASES = [
    ("oauth2_github.yml", "github", ["api:read"], {"echo": 200, "list_files": 403, "write_operation": 403}),
    ("oauth2_github.yml", "github", ["api:write"], {"echo": 200, "write_operation": 200, "admin_status": 403}),
    # Google's tokens carry no scope claim: only what needs no scope passes
    ("oauth2_google.yml", "google", ["api:read"], {"echo": 403, "list_files": 403}),
    ("oauth2_keycloak.yml", "keycloak", ["api:read", "files:read"], {"echo": 200, "list_files": 200,
                                                                    "write_file": 403}),
    ("oauth2_keycloak.yml", "keycloak", ["files:write"], {"echo": 403, "read_file": 200, "write_file": 200}),
    # generic: echo needs api:read + echo:use, write_file files:admin, get_time time:read (MCP tool_scopes)
    ("oauth2_generic.yml", "default", ["api:read", "files:read"], {"echo": 403, "list_files": 200,
                                                                  "write_file": 403}),
    ("oauth2_generic.yml", "default", ["api:admin"], {"echo": 403, "write_operation": 200, "write_file": 403}),
    ("oauth2_generic.yml", "default", ["admin"], {"echo": 200, "write_file": 200, "admin_status": 200,
                                                 "get_time": 200}),
]


@pytest.mark.parametrize(("name", "persona", "scopes", "expected"), CASES)
def test_agentup_config_runs_with_lab_tokens(lab: Lab, name: str, persona: str, scopes: list[str],
                                             expected: dict[str, int]) -> None:
    lab.reload(AGENTUP / name)
    token = lab.token(scopes, persona=persona)
    assert lab.rpc("capabilities", token=token).status_code == 200
    assert lab.rpc("capabilities").status_code == 401
    assert lab.rpc("capabilities", token=token[:-2] + "xx").status_code == 401
    for capability, status in expected.items():
        assert execute(lab, token, capability) == status, (capability, "POST /")
        assert execute(lab, token, capability, "/mcp") == status, (capability, "POST /mcp")


# The agent builds its policy with sample_agent.plugins.endpoint_policy: MCP tool scopes and disabled
# capabilities reach the running agent.
def test_mcp_tool_scopes_reach_the_running_agent(lab: Lab) -> None:
    lab.reload(AGENTUP / "oauth2_generic.yml")
    assert execute(lab, lab.token(["api:read"]), "get_time") == 403  # "lab:get_time": ["time:read"]



def test_a_disabled_capability_is_not_served(lab: Lab) -> None:
    lab.reload({"security": {"auth": {"oauth2": {"validation_strategy": "jwt", "jwks_url": lab.provider_url + "/jwks",
                                                 "jwt_issuer": lab.provider_url}}},
                "plugins": {"system_tools": {"capabilities": {"echo": {"enabled": False}}}}})
    token = lab.token(["api:read"])
    body = lab.rpc("execute", {"capability": "echo", "arguments": {"text": "hi"}}, token=token).json()
    assert "error" in body


def test_bearer_config_runs_with_hs256_tokens(lab: Lab) -> None:
    lab.reload(AGENTUP / "bearer_jwt.yml")

    def token(scope: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": "jwt_agent", "aud": "a2a-clients", "sub": "alice", "iat": now, "exp": now + 300,
                "scope": scope, **claims}
        return jwt.encode({"alg": "HS256"}, body, OctKey.import_key(SECRET.encode()))

    assert execute(lab, token("api:write"), "echo") == 200
    assert execute(lab, token("api:read"), "write_operation") == 403
    assert execute(lab, token("api:write", aud="someone-else"), "echo") == 401
    assert lab.rpc("capabilities", token=lab.token(["api:read"])).status_code == 401  # RS256 from the provider


def test_reload_refuses_a_hostile_file_and_keeps_running(lab: Lab, tmp_path: Any) -> None:
    lab.reload(AGENTUP / "oauth2_generic.yml")
    bomb = tmp_path / "agentup.yml"
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="alias"):
        lab.reload(bomb)
    assert lab.rpc("capabilities", token=lab.token(["api:read"])).status_code == 200
