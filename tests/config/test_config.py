from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit import ConfigError, SecurityConfig, load_config, validate_security_config
from labkit.errors import ConfigFileError

from ..helpers import DATA

SEED = sorted((DATA / "seed").glob("*.yml"))
SEED_ENV = {
    "OAUTH_CLIENT_ID": "lab-client",
    "OAUTH_CLIENT_SECRET": "lab-client-secret",
    "JWT_SECRET": "a-lab-secret-of-at-least-thirty-two-bytes",
    "GITHUB_CLIENT_ID": "Iv1.0123456789abcdef",
    "GITHUB_CLIENT_SECRET": "github-secret",
}
GOOD_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def test_seed_examples_are_all_here() -> None:
    assert len(SEED) == 12


@pytest.mark.parametrize("path", SEED, ids=lambda p: p.stem)
def test_every_seed_example_loads(path: Path) -> None:
    cfg = load_config(path, env=SEED_ENV)
    assert isinstance(cfg, SecurityConfig)
    assert "${" not in repr(cfg.oauth2.model_dump())


@pytest.mark.parametrize("path", [p for p in SEED if "${" in p.read_text()], ids=lambda p: p.stem)
def test_seed_example_with_unset_variable_names_it(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value)
    if "04_environment" in path.name:
        # ${JWT_SECRET:default-secret} falls back to a 14-byte default: too short for HS256.
        assert "OAUTH_CLIENT_ID" in text and "HS256 needs at least 32" in text
    else:
        names = [n for n in SEED_ENV if "${" + n in path.read_text()]
        assert any(n in text for n in names)
        assert all("not set" in m for _, m in info.value.errors if "environment variable" in m)


def test_method1_shapes() -> None:
    cfg = load_config(DATA / "seed" / "01_method1_jwt.yml", env={})
    assert cfg.oauth2.algorithms == ("RS256",)
    assert cfg.scope_hierarchy.satisfies({"admin"}, {"files:write", "anything"})
    assert cfg.scope_hierarchy.satisfies({"api:write"}, {"api:read"})
    assert [m.name for m in cfg.middleware] == ["timed", "cached", "rate_limited"]
    assert cfg.middleware[1].params == {"ttl": 300}
    assert [(p.plugin_id, p.plugin_type) for p in cfg.plugins] == [("system_tools", "local"), ("external_api", "network")]
    assert cfg.oauth2.claims_required == ("exp", "iss", "aud")


def test_method2_introspection_settings() -> None:
    cfg = load_config(DATA / "seed" / "02_method2_introspection.yml", env=SEED_ENV)
    assert cfg.oauth2.client_id == "lab-client"
    assert cfg.oauth2.client_secret is not None
    assert cfg.oauth2.client_secret.get_secret_value() == "lab-client-secret"
    assert cfg.oauth2.introspection_cache_ttl == 300
    assert cfg.plugins[0].oauth2_specific.introspection_required is True
    assert cfg.scope_hierarchy.explain({"api:admin"}, "api:read") == ["api:admin", "api:read"]


def test_github_endpoint_selects_github_dialect() -> None:
    cfg = load_config(DATA / "seed" / "11_github.yml", env=SEED_ENV)
    assert cfg.oauth2.dialect == "github"
    assert cfg.oauth2.introspection_endpoint == "https://api.github.com/applications/Iv1.0123456789abcdef/token"
    rfc = load_config(DATA / "seed" / "06_strategy_introspection.yml", env={})
    assert rfc.oauth2.dialect == "rfc7662"


def test_env_file_beside_config_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "agentup.yml").write_text((DATA / "seed" / "04_environment.yml").read_text())
    (tmp_path / ".env").write_text(
        "OAUTH_CLIENT_ID=from-dotenv\nOAUTH_CLIENT_SECRET=s3cret\nJWT_SECRET=" + GOOD_SECRET + "\n"
    )
    cfg = load_config(tmp_path / "agentup.yml", env={"OAUTH_CLIENT_ID": "from-env"})
    assert cfg.oauth2.client_id == "from-env"  # the process environment wins over .env
    assert cfg.oauth2.jwt_secret is not None and cfg.oauth2.jwt_secret.get_secret_value() == GOOD_SECRET
    assert cfg.oauth2.algorithms == ("HS256",)


def test_seed_python_dict_is_refused_for_its_short_secret() -> None:
    # SEED.md's "Validate Configuration" example: 'test-secret' is 11 bytes, HS256 needs 32 (RFC 7518 §3.2).
    raw = {"enabled": True, "type": "oauth2", "oauth2": {"validation_strategy": "jwt", "jwt_secret": "test-secret"}}
    with pytest.raises(ConfigError) as info:
        validate_security_config(raw)
    assert info.value.errors == [
        ("oauth2.jwt_secret", "the secret is 11 bytes; HS256 needs at least 32 (RFC 7518 §3.2): use a longer random secret")
    ]
    assert "test-secret" not in str(info.value)


def test_agentup_on_disk_shape_is_accepted() -> None:
    cfg = validate_security_config(
        {"security": {"enabled": True, "auth": {"oauth2": {"jwt_secret": GOOD_SECRET}}, "scope_hierarchy": {"a": ["b"]}}}
    )
    assert cfg.oauth2.algorithms == ("HS256",)
    assert cfg.scope_hierarchy.satisfies({"a"}, {"b"})


def test_scope_hierarchy_in_either_place_is_normalized() -> None:
    inside = validate_security_config({"oauth2": {"jwt_secret": GOOD_SECRET, "scope_hierarchy": {"x": ["y"]}}})
    outside = validate_security_config({"oauth2": {"jwt_secret": GOOD_SECRET}, "scope_hierarchy": {"x": ["y"]}})
    assert inside.scope_hierarchy == outside.scope_hierarchy


def test_secrets_never_in_repr_or_errors() -> None:
    secret = "super-secret-value-that-must-not-leak-anywhere-at-all-0123456789"
    cfg = validate_security_config({"oauth2": {"jwt_secret": secret, "jwt_algorithm": "HS256"}})
    assert secret not in repr(cfg) and secret not in str(cfg)
    with pytest.raises(ConfigError) as info:
        validate_security_config({"oauth2": {"jwt_secret": secret, "jwt_algorithm": "HS512", "leeway": "x"}})
    assert secret not in str(info.value) and secret not in repr(info.value.errors)
    with pytest.raises(ConfigError) as info:
        validate_security_config({"oauth2": {"jwt_secret": ["a", secret]}})
    assert secret not in str(info.value)


def test_tenants_are_standalone() -> None:
    cfg = validate_security_config(
        {
            "security": {"oauth2": {"jwt_secret": GOOD_SECRET}},
            "tenants": {
                "acme": {"oauth2": {"jwks_url": "https://acme.example/jwks"}, "scope_hierarchy": {"boss": ["*"]}},
                "globex": {"oauth2": {"jwt_secret": GOOD_SECRET, "jwt_issuer": "https://globex.example"}},
            },
        }
    )
    assert set(cfg.tenants) == {"acme", "globex"}
    assert cfg.tenants["acme"].scope_hierarchy.satisfies({"boss"}, {"x"})
    assert not cfg.tenants["globex"].scope_hierarchy.satisfies({"boss"}, {"x"})


def test_every_error_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        validate_security_config(
            {
                "security": {
                    "oauth2": {"validation_strategy": "jwtt", "jwt_audiance": "a", "leeway": "5"},
                    "scope_hierarchy": {"a b": []},
                },
                "middleware": [{"name": "cachd"}],
                "plugins": [{"plugin_id": "x", "plugin_type": "remote"}],
            }
        )
    assert set(info.value.paths) == {
        "security.oauth2.validation_strategy",
        "security.oauth2.jwt_audiance",
        "security.oauth2.leeway",
        "security.scope_hierarchy.a b",
        "middleware[0].name",
        "plugins[0].plugin_type",
    }


OK: dict[str, Any] = {"jwt_secret": GOOD_SECRET}
INTRO: dict[str, Any] = {
    "validation_strategy": "introspection",
    "introspection_endpoint": "https://idp.example/introspect",
    "client_id": "rs",
    "client_secret": "rs-secret",
}


def sec(**oauth2: Any) -> dict[str, Any]:
    return {"security": {"oauth2": oauth2}}


BAD: list[tuple[str, Any, str, str]] = [
    ("typo-audience", sec(**OK, jwt_audiance="x"), "security.oauth2.jwt_audiance", "did you mean 'jwt_audience'"),
    ("typo-issuer", sec(**OK, jwt_isuer="x"), "security.oauth2.jwt_isuer", "did you mean 'jwt_issuer'"),
    ("bad-strategy", sec(**OK, validation_strategy="jwks"), "security.oauth2.validation_strategy", "not a strategy"),
    ("strategy-type", sec(**OK, validation_strategy=3), "security.oauth2.validation_strategy", "expected a string"),
    ("jwt-no-key", sec(validation_strategy="jwt"), "security.oauth2.jwt_secret", "needs a key source"),
    ("intro-no-endpoint", sec(**{**INTRO, "introspection_endpoint": None}), "security.oauth2.introspection_endpoint",
     "needs the provider's introspection endpoint"),
    ("intro-no-client-id", sec(**{k: v for k, v in INTRO.items() if k != "client_id"}), "security.oauth2.client_id",
     "needs client_id"),
    ("intro-no-secret", sec(**{k: v for k, v in INTRO.items() if k != "client_secret"}),
     "security.oauth2.client_secret", "needs client_secret"),
    ("both-no-endpoint", sec(validation_strategy="both", jwks_url="https://idp.example/jwks", client_id="a",
                             client_secret="b"), "security.oauth2.introspection_endpoint", "strategy both needs"),
    ("alg-none", sec(**OK, jwt_algorithm="none"), "security.oauth2.jwt_algorithm", "'none' is never allowed"),
    ("alg-None-list", sec(**OK, jwt_algorithms=["HS256", "None"]), "security.oauth2.jwt_algorithms", "never allowed"),
    ("alg-unknown", sec(**OK, jwt_algorithm="HS1024"), "security.oauth2.jwt_algorithm", "unknown algorithm 'HS1024'"),
    ("alg-case", sec(**OK, jwt_algorithm="hs256"), "security.oauth2.jwt_algorithm", "names are case-sensitive"),
    ("alg-both-forms", sec(**OK, jwt_algorithm="HS256", jwt_algorithms=["HS256"]), "security.oauth2.jwt_algorithms",
     "either jwt_algorithm or jwt_algorithms"),
    ("alg-empty-list", sec(**OK, jwt_algorithms=[]), "security.oauth2.jwt_algorithms", "empty list"),
    ("hs-without-secret", sec(jwks_url="https://idp.example/jwks", jwt_algorithm="HS256"),
     "security.oauth2.jwt_algorithm", "HS256 needs jwt_secret"),
    ("rs-without-jwks", sec(jwt_secret=GOOD_SECRET, jwt_algorithm="RS256"), "security.oauth2.jwt_algorithm",
     "RS256 needs jwks_url"),
    ("es-without-jwks", sec(jwt_secret=GOOD_SECRET, jwt_algorithms=["HS256", "ES256"]),
     "security.oauth2.jwt_algorithms", "ES256 needs jwks_url"),
    ("hs256-short", sec(jwt_secret="x" * 31), "security.oauth2.jwt_secret", "31 bytes; HS256 needs at least 32"),
    ("hs384-short", sec(jwt_secret="x" * 32, jwt_algorithm="HS384"), "security.oauth2.jwt_secret",
     "HS384 needs at least 48"),
    ("hs512-short", sec(jwt_secret="x" * 63, jwt_algorithm="HS512"), "security.oauth2.jwt_secret",
     "HS512 needs at least 64"),
    ("empty-secret", sec(jwt_secret=""), "security.oauth2.jwt_secret", "empty secret"),
    ("required-outside-allowed", sec(**OK, required_scopes=["a", "b"], allowed_scopes=["a"]),
     "security.oauth2.required_scopes", "b not within allowed_scopes"),
    ("http-jwks", sec(jwks_url="http://idp.example/jwks"), "security.oauth2.jwks_url", "must use https://"),
    ("http-localhost-evil", sec(jwks_url="http://localhost.evil.example/jwks"), "security.oauth2.jwks_url",
     "must use https://"),
    ("http-introspection", sec(**{**INTRO, "introspection_endpoint": "http://10.0.0.1/introspect"}),
     "security.oauth2.introspection_endpoint", "must use https://"),
    ("ftp-url", sec(jwks_url="ftp://idp.example/jwks"), "security.oauth2.jwks_url", "expected an https:// URL"),
    ("url-with-credentials", sec(jwks_url="https://u:p@idp.example/jwks"), "security.oauth2.jwks_url",
     "credentials in the URL"),
    ("bad-port", sec(jwks_url="https://idp.example:99999/jwks"), "security.oauth2.jwks_url", "not a valid URL"),
    ("leeway-too-big", sec(**OK, leeway=301), "security.oauth2.leeway", "less than or equal to 300"),
    ("leeway-negative", sec(**OK, leeway=-1), "security.oauth2.leeway", "greater than or equal to 0"),
    ("leeway-string", sec(**OK, leeway="60"), "security.oauth2.leeway", "expected a whole number"),
    ("required-scopes-string", sec(**OK, required_scopes="a b"), "security.oauth2.required_scopes", "expected a list"),
    ("scope-with-space", sec(**OK, required_scopes=["a b"]), "security.oauth2.required_scopes[0]",
     "not a valid scope name"),
    ("scope-with-quote", sec(**OK, allowed_scopes=['a"b']), "security.oauth2.allowed_scopes[0]",
     "not a valid scope name"),
    ("hierarchy-bad-name", {"security": {"oauth2": OK, "scope_hierarchy": {"api read": []}}},
     "security.scope_hierarchy.api read", "not a valid scope name"),
    ("hierarchy-wildcard-key", {"security": {"oauth2": OK, "scope_hierarchy": {"*": ["a"]}}},
     "security.scope_hierarchy.*", "'*' cannot be a key"),
    ("hierarchy-not-list", {"security": {"oauth2": OK, "scope_hierarchy": {"a": "b"}}},
     "security.scope_hierarchy.a", "expected a list"),
    ("hierarchy-twice", {"security": {"oauth2": {**OK, "scope_hierarchy": {}}, "scope_hierarchy": {}}},
     "security.scope_hierarchy", "given twice"),
    ("enabled-string", {"security": {"enabled": "yes", "oauth2": OK}}, "security.enabled", "expected true or false"),
    ("type-apikey", {"security": {"type": "api_key", "oauth2": OK}}, "security.type", "not supported"),
    ("no-oauth2", {"security": {"enabled": True}}, "security.oauth2", "missing"),
    ("oauth2-list", {"security": {"oauth2": ["jwt"]}}, "security.oauth2", "expected a mapping"),
    ("unknown-security-key", {"security": {"oauth2": OK, "scopes_hierarchy": {}}}, "security.scopes_hierarchy",
     "did you mean 'scope_hierarchy'"),
    ("dialect-unknown", sec(**INTRO, introspection_dialect="okta"), "security.oauth2.introspection_dialect",
     "use 'rfc7662', 'github' or 'jupyterhub'"),
    ("timeout-zero", sec(**INTRO, introspection_timeout=0), "security.oauth2.introspection_timeout", "greater than 0"),
    ("jwks-no-keys", sec(jwks={"keys": []}), "security.oauth2.jwks.keys", "non-empty 'keys' list"),
    ("jwks-private", sec(jwks={"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]}),
     "security.oauth2.jwks.keys[0]", "private key material"),
    ("middleware-unknown", {"security": {"oauth2": OK}, "middleware": [{"name": "cachd"}]}, "middleware[0].name",
     "did you mean 'cached'"),
    ("middleware-bad-param", {"security": {"oauth2": OK}, "middleware": [{"name": "cached", "params": {"tll": 5}}]},
     "middleware[0].params.tll", "did you mean 'ttl'"),
    ("middleware-bad-rpm", {"security": {"oauth2": OK},
                            "middleware": [{"name": "rate_limited", "params": {"requests_per_minute": 0}}]},
     "middleware[0].params.requests_per_minute", "whole number from 1"),
    ("middleware-not-list", {"security": {"oauth2": OK}, "middleware": {"name": "timed"}}, "middleware",
     "expected a list"),
    ("plugin-type", {"security": {"oauth2": OK}, "plugins": [{"plugin_id": "p", "plugin_type": "remote"}]},
     "plugins[0].plugin_type", "use 'local', 'network' or 'hybrid'"),
    ("plugin-duplicate", {"security": {"oauth2": OK}, "plugins": [{"plugin_id": "p"}, {"plugin_id": "p"}]},
     "plugins[1].plugin_id", "duplicate plugin_id"),
    ("plugin-no-id", {"security": {"oauth2": OK}, "plugins": [{"plugin_type": "local"}]}, "plugins[0].plugin_id",
     "missing"),
    ("plugin-oauth2-typo", {"security": {"oauth2": OK},
                            "plugins": [{"plugin_id": "p", "oauth2_specific": {"introspection_requird": True}}]},
     "plugins[0].oauth2_specific.introspection_requird", "did you mean 'introspection_required'"),
    ("plugin-scope-bad", {"security": {"oauth2": OK}, "plugins": [{"plugin_id": "p", "required_scopes": ["a b"]}]},
     "plugins[0].required_scopes[0]", "not a valid scope name"),
    ("tenant-bad-name", {"security": {"oauth2": OK}, "tenants": {"Acme Corp": {"oauth2": OK}}}, "tenants.Acme Corp",
     "tenant names use lowercase"),
    ("tenant-no-oauth2", {"security": {"oauth2": OK}, "tenants": {"acme": {}}}, "tenants.acme.oauth2",
     "needs its own oauth2"),
    ("tenant-bad-oauth2", {"security": {"oauth2": OK}, "tenants": {"acme": {"oauth2": {"jwt_secret": "short"}}}},
     "tenants.acme.oauth2.jwt_secret", "HS256 needs at least 32"),
    ("unset-env", sec(jwt_secret="${NOT_SET_ANYWHERE_123}"), "security.oauth2.jwt_secret",
     "NOT_SET_ANYWHERE_123 is not set"),
    ("malformed-placeholder", sec(jwt_secret="${1BAD}"), "security.oauth2.jwt_secret", "malformed ${...}"),
    ("not-a-mapping", ["security"], "", "expected a mapping"),
]


@pytest.mark.parametrize(("raw", "path", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_is_named_by_path(raw: Any, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_security_config(raw, env={})
    matching = [m for p, m in info.value.errors if p == path]
    assert matching, f"no error at {path!r}: {info.value.errors}"
    assert any(message in m for m in matching), matching


def test_bad_table_is_large_enough() -> None:
    assert len(BAD) >= 30


ENV_CASES = [
    ("${A}", {"A": "x"}, "x"),
    ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
    ("${A:fallback}", {}, "fallback"),
    ("${A:fallback}", {"A": "set"}, "set"),
    ("${A}${B}", {"A": "1", "B": "2"}, "12"),
    ("$${A}", {"A": "x"}, "${A}"),
    ("no placeholders", {}, "no placeholders"),
    ("${A:with:colons}", {}, "with:colons"),
    ("${A:https://x.example/y}", {}, "https://x.example/y"),
]


@pytest.mark.parametrize(("template", "env", "expected"), ENV_CASES)
def test_env_substitution(template: str, env: dict[str, str], expected: str) -> None:
    cfg = validate_security_config({"oauth2": {**OK, "jwt_issuer": template}}, env=env)
    assert cfg.oauth2.jwt_issuer == expected


def test_empty_issuer_after_substitution_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        validate_security_config({"oauth2": {**OK, "jwt_issuer": "${A:}"}}, env={})
    assert info.value.errors == [("oauth2.jwt_issuer", "empty value")]


def test_substitution_reaches_nested_lists() -> None:
    cfg = validate_security_config({"oauth2": {**OK, "required_scopes": ["${S}"]}}, env={"S": "api:read"})
    assert cfg.oauth2.required_scopes == ["api:read"]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("security:\n  oauth2: [\n", ":3:1", "malformed YAML"),
        ("security:\n  oauth2:\n    jwt_secret: a\n    jwt_secret: b\n", ":4:5", "duplicate key 'jwt_secret'"),
        ("security:\n\toauth2: {}\n", ":2:1", "malformed YAML"),
    ],
)
def test_malformed_yaml_has_line_and_column(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = tmp_path / "agentup.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    (location, msg), *_ = info.value.errors
    assert location.endswith(where) and message in msg


def test_missing_file_is_a_config_file_error_in_plain_words(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as info:
        load_config(tmp_path / "nope.yml", env={})
    assert isinstance(info.value, ConfigError) and info.value.problem == "no such file"
    with pytest.raises(ConfigFileError, match="not a regular file"):
        load_config(tmp_path, env={})


def test_audit_section(tmp_path: Path) -> None:
    cfg = validate_security_config({"security": {"oauth2": OK}, "audit": {"path": str(tmp_path / "a.jsonl")}})
    assert cfg.audit.path == str(tmp_path / "a.jsonl") and cfg.audit.capacity == 10_000
    with pytest.raises(ConfigError) as info:
        validate_security_config({"security": {"oauth2": OK}, "audit": {"pth": "x", "capacity": 0}})
    assert set(info.value.paths) == {"audit.pth", "audit.capacity"}
