"""AgentUp's on-disk format: every auth type and provider choice, plugins mapping, overrides, MCP tool scopes."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.config import SecurityConfig, load_config, validate_security_config
from labkit.errors import ConfigError
from labkit.middleware import select_middleware
from sample_agent.plugins import CAPABILITIES, capability_scopes, map_plugins, merge_plugins

from ..helpers import DATA, ROOT

AGENTUP = DATA / "agentup"
PROVIDER = "http://127.0.0.1:8100"
ENV = {
    "LAB_PROVIDER_URL": PROVIDER,
    "GITHUB_CLIENT_ID": "Iv1.lab-github-app", "GITHUB_CLIENT_SECRET": "lab-github-secret",
    "GOOGLE_CLIENT_ID": "google-client", "GOOGLE_CLIENT_SECRET": "google-secret",
    "KEYCLOAK_CLIENT_ID": "api://oauth2-lab-agent", "KEYCLOAK_CLIENT_SECRET": "keycloak-secret",
    "KEYCLOAK_BASE_URL": PROVIDER, "KEYCLOAK_REALM": "lab",
    "OAUTH2_CLIENT_ID": "lab-client", "OAUTH2_CLIENT_SECRET": "lab-client-secret",
    "OAUTH2_JWKS_URL": f"{PROVIDER}/jwks", "OAUTH2_JWT_ISSUER": PROVIDER, "OAUTH2_JWT_AUDIENCE": "api://oauth2-lab-agent",
}
SECRET = "Zq4nV8xK2pW7rT1yL6bH9dF3sJ5mC0gA8uE2iO4kN7vR1tY6"


def load(name: str, **env: str) -> SecurityConfig:
    return load_config(AGENTUP / name, env={**ENV, **env})


def errors_of(raw: Any, **env: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        validate_security_config(raw, env={**ENV, **env})
    return info.value.errors


def doc(oauth2: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    block = oauth2 or {"validation_strategy": "jwt", "jwks_url": f"{PROVIDER}/jwks", "jwt_audience": "a"}
    return {"security": {"enabled": True, "auth": {"oauth2": block}}, **top}


@pytest.mark.parametrize(("name", "strategy"), [
    ("oauth2_github.yml", "introspection"), ("oauth2_google.yml", "jwt"), ("oauth2_keycloak.yml", "jwt"),
    ("oauth2_generic.yml", "jwt"), ("bearer_jwt.yml", "jwt"),
])
def test_each_agentup_shape_loads(name: str, strategy: str) -> None:
    cfg = load(name)
    assert cfg.oauth2.validation_strategy == strategy
    assert "api:write" in cfg.scope_hierarchy.mapping
    assert cfg.sanitization_enabled is True and cfg.max_string_length == 100_000
    assert "apiVersion" in cfg.ignored_sections


def test_client_registration_is_kept() -> None:
    cfg = load("oauth2_keycloak.yml")
    assert cfg.oauth2.authorization_url == f"{PROVIDER}/realms/lab/protocol/openid-connect/auth"
    assert cfg.oauth2.token_url == f"{PROVIDER}/realms/lab/protocol/openid-connect/token"
    assert cfg.oauth2.redirect_uri == "http://localhost:8000/auth/callback"
    assert cfg.oauth2.scopes == ["openid", "profile", "email"]
    assert cfg.oauth2.issuers == (f"{PROVIDER}/realms/lab",)
    github = load("oauth2_github.yml")
    assert github.oauth2.dialect == "github" and github.oauth2.client_id == "Iv1.lab-github-app"


def test_unset_variable_fails_closed_with_its_path() -> None:
    env = {k: v for k, v in ENV.items() if k != "KEYCLOAK_BASE_URL"}
    with pytest.raises(ConfigError) as info:
        load_config(AGENTUP / "oauth2_keycloak.yml", env=env)
    paths = {p for p, _ in info.value.errors}
    assert "security.auth.oauth2.jwks_url" in paths and "security.auth.oauth2.authorization_url" in paths
    assert all("KEYCLOAK_BASE_URL" in m for _, m in info.value.errors)


@pytest.mark.parametrize("key", ["authorization_url", "token_url", "redirect_uri"])
def test_client_urls_need_https_outside_loopback(key: str) -> None:
    block = {"validation_strategy": "jwt", "jwks_url": f"{PROVIDER}/jwks", key: "http://idp.example.com/x"}
    assert any(p == f"security.auth.oauth2.{key}" and "https" in m for p, m in errors_of(doc(block)))
    block[key] = "http://127.0.0.1:9/x"
    assert getattr(validate_security_config(doc(block), env={}).oauth2, key) == "http://127.0.0.1:9/x"


def test_api_key_gets_one_clear_message() -> None:
    with pytest.raises(ConfigError) as info:
        load("api_key.yml")
    assert len(info.value.errors) == 1
    path, message = info.value.errors[0]
    assert path == "security.auth.api_key" and "OAuth2" in message and "auth.oauth2" in message


def test_bearer_maps_onto_the_jwt_strategy() -> None:
    cfg = load("bearer_jwt.yml")
    assert cfg.oauth2.algorithms == ("HS256",)
    assert cfg.oauth2.issuers == ("jwt_agent",) and cfg.oauth2.audiences == ("a2a-clients",)
    assert cfg.oauth2.jwt_secret is not None and cfg.oauth2.jwt_secret.get_secret_value() == SECRET
    assert cfg.path_of("oauth2", "jwt_algorithm") == "security.auth.bearer.algorithm"


def test_bearer_errors_name_the_keys_the_user_wrote() -> None:
    raw = {"security": {"auth": {"bearer": {"jwt_secret": SECRET, "algorithm": "HS257", "issuer": "x",
                                            "tokens": [], "secret": "y"}}}}
    errors = dict(errors_of(raw))
    assert "unknown algorithm" in errors["security.auth.bearer.algorithm"]
    assert "static bearer tokens" in errors["security.auth.bearer.tokens"]
    assert "did you mean" in errors["security.auth.bearer.secret"]


def test_two_token_kinds_at_once_is_an_error() -> None:
    raw = {"security": {"auth": {"bearer": {"jwt_secret": SECRET}, "oauth2": {"validation_strategy": "jwt"}}}}
    assert any(p == "security.auth" and "keep one" in m for p, m in errors_of(raw))


def test_unknown_keys_inside_modelled_sections_stay_errors() -> None:
    block = {"validation_strategy": "jwt", "jwks_url": f"{PROVIDER}/jwks", "token_ur": "https://x.example/t"}
    errors = dict(errors_of(doc(block, plugins={"files": {"capabilities": {"read_file": {"requred_scopes": []}}}})))
    assert "did you mean 'token_url'" in errors["security.auth.oauth2.token_ur"]
    assert "did you mean 'required_scopes'" in errors["plugins.files.capabilities.read_file.requred_scopes"]


def test_top_level_typo_is_an_error_other_sections_are_accepted() -> None:
    errors = dict(errors_of(doc(pluggins={}, observability={"x": 1})))
    assert "did you mean 'plugins'" in errors["pluggins"]
    assert "observability" not in errors
    cfg = validate_security_config(doc(observability={"x": 1}), env={})
    assert cfg.ignored_sections == ("observability",)


def test_plugins_mapping_and_list_normalise_alike() -> None:
    mapping = doc(plugins={"files": {"plugin_override": [{"name": "timed", "config": {}}], "capabilities": {
        "write_file": {"required_scopes": ["files:admin"], "capability_override": [
            {"name": "rate_limited", "config": {"requests_per_minute": 30, "burst_size": 2}}]}}}})
    listed = doc(plugins=[{"plugin_id": "files", "package": "files", "plugin_override": [{"name": "timed"}],
                           "capabilities": [{"capability_id": "write_file", "required_scopes": ["files:admin"],
                                             "capability_override": [{"name": "rate_limited", "params": {
                                                 "requests_per_minute": 30, "burst": 2}}]}]}])
    a = validate_security_config(mapping, env={}).plugins[0]
    b = validate_security_config(listed, env={}).plugins[0]
    assert a == b
    assert a.middleware is not None and [m.name for m in a.middleware] == ["timed"]
    capability = a.capability("write_file")
    assert capability is not None and capability.middleware is not None
    assert capability.middleware[0].params == {"requests_per_minute": 30, "burst": 2}


@pytest.mark.parametrize(("plugins", "path", "fragment"), [
    ({"files": {"plugin_id": "other"}}, "plugins.files.plugin_id", "differs"),
    ({"files": {"plugin_override": [{"name": "cachd"}]}}, "plugins.files.plugin_override[0].name", "'cached'"),
    ({"files": {"plugin_override": [{"name": "cached", "config": {"ttl": -1}}]}},
     "plugins.files.plugin_override[0].config.ttl", "from 0"),
    ({"files": {"capabilities": {"read_file": {"required_scopes": ["bad scope"]}}}},
     "plugins.files.capabilities.read_file.required_scopes[0]", "RFC 6749"),
    ({"files": {"capabilities": {"read_file": {"enabled": "yes"}}}},
     "plugins.files.capabilities.read_file.enabled", "true or false"),
    ({"files": ["x"]}, "plugins.files", "expected a mapping"),
    ("files", "plugins", "expected a list, or a mapping"),
])
def test_plugin_errors_name_the_path(plugins: Any, path: str, fragment: str) -> None:
    errors = errors_of(doc(plugins=plugins))
    assert any(p == path and fragment in m for p, m in errors), errors


def test_plugin_defaults_normalise_agentup_spellings() -> None:
    cfg = load("oauth2_generic.yml")
    assert cfg.plugin_defaults is not None
    by_name = {m.name: m.params for m in cfg.plugin_defaults}
    assert by_name["rate_limited"] == {"requests_per_minute": 60, "burst": 72}
    assert by_name["cached"]["ttl"] == 120 and by_name["cached"]["backend_type"] == "valkey"
    assert by_name["retryable"]["max_attempts"] == 3


@pytest.mark.parametrize(("defaults", "path", "fragment"), [
    ({"middleware": {"cached": {"backend_type": "redis"}}}, "plugin_defaults.middleware.cached.backend_type",
     "memory, valkey"),
    ({"middleware": {"cached": {"valkey_url": "http://x"}}}, "plugin_defaults.middleware.cached.valkey_url", "valkey"),
    ({"middleware": {"rate_limitd": {}}}, "plugin_defaults.middleware.rate_limitd", "'rate_limited'"),
    ({"middleware": {"rate_limited": {"burst": 1, "burst_size": 2}}},
     "plugin_defaults.middleware.rate_limited.burst_size", "twice"),
    ({"middlewares": {}}, "plugin_defaults.middlewares", "did you mean 'middleware'"),
])
def test_plugin_defaults_errors(defaults: Any, path: str, fragment: str) -> None:
    errors = errors_of(doc(plugin_defaults=defaults))
    assert any(p == path and fragment in m for p, m in errors), errors


def test_plugin_defaults_and_a_middleware_list_conflict() -> None:
    raw = doc(plugin_defaults={"middleware": {"timed": {}}}, middleware=[{"name": "timed"}])
    assert any(p == "plugin_defaults" for p, _ in errors_of(raw))


def test_agentup_middleware_mapping_form() -> None:
    assert validate_security_config(doc(middleware={"enabled": False}), env={}).middleware == ()
    cfg = validate_security_config(doc(middleware={"enabled": True, "rate_limiting": {
        "enabled": True, "requests_per_minute": 10, "burst_size": 5}, "caching": {"enabled": False}}), env={})
    assert [(m.name, m.params) for m in cfg.middleware] == [("rate_limited", {"requests_per_minute": 10, "burst": 5})]


def test_middleware_order_capability_then_plugin_then_defaults_then_type() -> None:
    cfg = load("oauth2_generic.yml")
    plugins = merge_plugins(cfg.plugins, cfg.mcp_servers)
    names = lambda specs: [m.name for m in specs]  # noqa: E731
    assert names(select_middleware(cfg, plugins["files"], "write_file")) == ["rate_limited"]  # capability_override
    assert names(select_middleware(cfg, plugins["files"], "read_file")) == ["timed"]  # plugin_override
    assert names(select_middleware(cfg, plugins["external_api"])) == ["rate_limited", "cached", "retryable"]
    seed = validate_security_config(doc(middleware=[{"name": "cached"}, {"name": "rate_limited"}]), env={})
    seed_plugins = merge_plugins(seed.plugins)
    assert names(select_middleware(seed, seed_plugins["external_api"])) == ["rate_limited"]  # by type (seed)
    assert names(select_middleware(seed, seed_plugins["files"])) == ["cached"]


def test_mcp_tool_scopes_and_expose_as_skills() -> None:
    cfg = load("oauth2_keycloak.yml")
    (server,) = cfg.mcp_servers
    assert server.expose_as_skills is True
    assert server.tool_scopes == {"stdio:get_alerts": ("alerts:read",), "stdio:get_forecast": ("weather:read",)}
    bare = doc(mcp={"servers": [{"name": "s", "tool_scopes": {"get_time": ["t:r"]}}]})
    assert validate_security_config(bare, env={}).mcp_servers[0].tool_scopes == {"s:get_time": ("t:r",)}


@pytest.mark.parametrize(("mcp", "path", "fragment"), [
    ({"servers": [{"name": "s", "tool_scopes": {"other:x": []}}]}, 'mcp.servers[0].tool_scopes."other:x"', '"s:x"'),
    ({"servers": [{"name": "s", "tool_scope": {}}]}, "mcp.servers[0].tool_scope", "'tool_scopes'"),
    ({"servers": [{"name": "s", "expose_as_skills": "yes"}]}, "mcp.servers[0].expose_as_skills", "true or false"),
    ({"servers": [{"tool_scopes": {}}]}, "mcp.servers[0].name", "needs a name"),
    ({"servers": {"name": "s"}}, "mcp.servers", "a list"),
])
def test_mcp_errors(mcp: Any, path: str, fragment: str) -> None:
    errors = errors_of(doc(mcp=mcp))
    assert any(p == path and fragment in m for p, m in errors), errors


def test_ids_map_onto_the_sample_agent() -> None:
    cfg = load("oauth2_generic.yml")
    mapping = map_plugins(cfg.plugins, cfg.mcp_servers)
    assert mapping.plugins == {"system_tools": "system_tools", "agentup-files": "files"}
    assert mapping.unmatched_plugins == ("brave_search",)
    assert mapping.unmatched_capabilities == ("agentup-files.delete_everything",)
    assert mapping.tools == {"lab:get_time": "get_time"} and mapping.unmatched_tools == ("lab:get_forecast",)
    assert not mapping.complete
    plugins = merge_plugins(cfg.plugins, cfg.mcp_servers)
    assert plugins["files"].plugin_type == "local" and plugins["external_api"].plugin_type == "network"
    assert capability_scopes(plugins["files"], CAPABILITIES["write_file"]) == ("files:admin",)
    assert capability_scopes(plugins["system_tools"], CAPABILITIES["echo"]) == ("api:read", "echo:use")
    assert capability_scopes(plugins["system_tools"], CAPABILITIES["get_time"]) == ("api:read", "time:read")


def test_seed_examples_still_load() -> None:
    seed = ROOT / "sample_agent" / "agentup.yml"
    cfg = load_config(seed, env={"LAB_PROVIDER_URL": PROVIDER})
    assert cfg.plugin("files") is not None and cfg.plugin_defaults is None
