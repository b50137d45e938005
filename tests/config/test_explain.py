"""``labkit explain``: the effective policy after the hierarchy, and weaknesses with their config paths."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.cli import main
from labkit.config import load_config, validate_security_config
from labkit.explain import Explanation, explain
from sample_agent.plugins import endpoint_policy

from ..helpers import ROOT
from .test_agentup_format import AGENTUP, ENV, PROVIDER, SECRET

SEED = ROOT / "sample_agent" / "agentup.yml"


def explained(raw: dict[str, Any]) -> Explanation:
    cfg = validate_security_config(raw, env=ENV)
    policy, plugins = endpoint_policy(cfg)
    return explain(cfg, policy, plugins)


def row(result: Explanation, call: str, endpoint: str = "POST /") -> Any:
    return next(r for r in result.rows if r.call == call and r.endpoint == endpoint)


def jwt_block(**extra: Any) -> dict[str, Any]:
    return {"validation_strategy": "jwt", "jwks_url": f"{PROVIDER}/jwks", "jwt_issuer": PROVIDER,
            "jwt_audience": "api://a", **extra}


def test_policy_rows_after_the_hierarchy() -> None:
    cfg = load_config(SEED, env={"LAB_PROVIDER_URL": PROVIDER})
    policy, plugins = endpoint_policy(cfg)
    result = explain(cfg, policy, plugins)
    write = row(result, "execute write_file")
    assert write.required == ("files:write",) and write.plugin == "files"
    assert write.granted_by == ("admin", "files:write")
    assert row(result, "tools/call read_file", "POST /mcp").granted_by == ("admin", "files:read", "files:write")
    assert row(result, "tasks/cancel").granted_by == ("admin", "api:admin", "api:write")
    assert row(result, "capabilities").required == ()
    assert "execute write_file" in result.table()


def test_required_scopes_apply_to_every_row() -> None:
    result = explained({"security": {"oauth2": jwt_block(required_scopes=["agent:access"])}})
    assert all(r.required[:1] == ("agent:access",) for r in result.rows)


def test_weaknesses_have_config_paths() -> None:
    raw = {
        "security": {"auth": {"bearer": {"jwt_secret": "ab" * 20, "algorithm": "HS256"}},
                     "scope_hierarchy": {"admin": ["*"], "root": ["admin"], "api:write": ["api:read"]},
                     "sanitization_enabled": False, "max_string_length": -1},
        "plugin_defaults": {"middleware": {"cached": {"default_ttl": 60}}},
        "mcp": {"servers": [{"name": "remote", "url": "http://mcp.example.com/mcp"}]},
    }
    found = {w.path: w.message for w in explained(raw).weaknesses}
    assert "RFC 7518 §3.2" in found["security.auth.bearer.jwt_secret"]  # "ab" * 20: 30 random bytes at most
    assert "audience" in found["security.auth.bearer.jwt_audience"]
    assert "issuer" in found["security.auth.bearer.jwt_issuer"]
    assert "root" in found["security.scope_hierarchy.admin"]
    assert "external_api" in found["plugin_defaults.middleware"]
    assert "plain http" in found["mcp.servers"]
    assert "security.sanitization_enabled" in found and "security.max_string_length" in found


def test_a_strong_config_has_no_weaknesses() -> None:
    raw = {"security": {"auth": {"bearer": {"jwt_secret": SECRET, "issuer": "i", "audience": "a"}},
                        "scope_hierarchy": {"api:write": ["api:read"]}},
           "plugin_defaults": {"middleware": {"rate_limited": {"requests_per_minute": 60}}}}
    assert explained(raw).weaknesses == ()


def test_long_introspection_cache_is_a_weakness() -> None:
    block = {"validation_strategy": "introspection", "introspection_endpoint": f"{PROVIDER}/introspect",
             "client_id": "c", "client_secret": "s", "introspection_cache_ttl": 3600}
    raw = {"security": {"oauth2": block}, "plugins": [{"plugin_id": "external_api", "plugin_type": "network",
                                                        "middleware": [{"name": "rate_limited"}]}]}
    found = {w.path: w.message for w in explained(raw).weaknesses}
    assert "3600 s" in found["security.oauth2.introspection_cache_ttl"]
    assert "plugins[0]" not in found  # rate limited: no warning


def test_a_large_hierarchy_explains_in_one_pass() -> None:
    chain = {f"s{i}": [f"s{i + 1}"] for i in range(5_000)}  # five times the recursion limit deep
    result = explained({"security": {"oauth2": jwt_block(), "scope_hierarchy": {**chain, "api:read": []}}})
    assert row(result, "tasks/get").granted_by == ("api:read",)


def test_cli_explain(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    assert main(["explain", str(AGENTUP / "oauth2_generic.yml"), "--sample-agent"]) == 0
    out = capsys.readouterr().out
    assert "execute write_file" in out and "files:admin" in out
    assert "plugin agentup-files -> files" in out and "not in the sample agent (ignored): plugin brave_search" in out
    assert "security.scope_hierarchy.admin:" in out
    assert main(["explain", str(AGENTUP / "api_key.yml")]) == 1
    err = capsys.readouterr().err
    assert err.count("security.auth.api_key") == 1 and "Traceback" not in err
