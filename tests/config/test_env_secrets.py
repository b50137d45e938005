"""A hostile ``agentup.yml`` cannot print the environment: an error about a value substituted from ``${VAR}`` names
the variable and the config path, never the value (nor its lower-case, escaped or cut-up forms), through
``ConfigError``, ``labkit validate-config``, ``labkit explain`` and ``labkit serve``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.cli import main
from labkit.config import load_config, validate_security_config
from labkit.errors import ConfigError

from ..helpers import ROOT, examples

VAR = "AWS_SECRET_ACCESS_KEY"
REF = "${" + VAR + "}"
JWT = {"validation_strategy": "jwt", "jwt_secret": "k" * 48}


def oauth2(**extra: Any) -> dict[str, Any]:
    return {"security": {"oauth2": {**JWT, **extra}}}


# Each kind puts the variable where a different check fails (or may fail) on it, wholly or as part of a value.
KINDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "type": lambda r: {"security": {"type": r, "oauth2": JWT}},
    "strategy": lambda r: {"security": {"oauth2": {"validation_strategy": r}}},
    "algorithm": lambda r: oauth2(jwt_algorithm=r),
    "algorithms": lambda r: oauth2(jwt_algorithms=["HS256", r]),
    "dpop_algorithms": lambda r: oauth2(dpop={"required": True, "algorithms": [r]}),
    "dialect": lambda r: oauth2(introspection_dialect=r),
    "jwks_url": lambda r: oauth2(validation_strategy="jwt", jwt_secret=None, jwks_url=r),
    "issuer_url_part": lambda r: oauth2(jwks_url=f"ftp://{r}/keys"),
    "leeway": lambda r: oauth2(leeway=r),
    "short_secret": lambda r: oauth2(jwt_secret=r),
    "scope": lambda r: oauth2(required_scopes=[f"{r} x"]),
    "scope_whole": lambda r: oauth2(required_scopes=[r], allowed_scopes=["api:read"]),
    "hierarchy": lambda r: {"security": {"oauth2": JWT, "scope_hierarchy": {"admin": [f"{r} y"]}}},
    "redis_scheme": lambda r: {**oauth2(), "state": {"redis_url": f"{r}://127.0.0.1/0"}},
    "redis_url": lambda r: {**oauth2(), "state": {"redis_url": r}},
    "database_url": lambda r: {**oauth2(), "state": {"database_url": f"postgresql://{r}"}},
    "signing_key": lambda r: {**oauth2(), "state": {"push_signing_key": f"/no/{r}.pem"}},
    "key_prefix": lambda r: {**oauth2(), "state": {"key_prefix": f"{r} z"}},
    "middleware": lambda r: {**oauth2(), "middleware": [{"name": r}]},
    "middleware_param": lambda r: {**oauth2(), "middleware": [{"name": "timed", "params": {"unit": r}}]},
    "plugin": lambda r: {**oauth2(), "plugins": [{"plugin_id": "a", "required_scopes": [f"{r} w"]},
                                                 {"plugin_id": "a"}]},
    "plugin_type": lambda r: {**oauth2(), "plugins": [{"plugin_id": "p", "plugin_type": r}]},
    "mcp_server": lambda r: {**oauth2(), "mcp": {"servers": [{"name": r}, {"name": r}]}},
    "tenant": lambda r: {**oauth2(), "tenants": {"acme": {"oauth2": {"validation_strategy": r}}}},
    "enabled": lambda r: {"security": {"enabled": r, "oauth2": JWT}},
}


def forms(secret: str) -> set[str]:
    """What the secret looks like when a message quotes it: itself, escaped, in either case, and its long parts."""
    found = {secret, secret.lower(), secret.upper(), repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    found |= {secret[i:i + 8] for i in range(len(secret) - 7)}
    return {form for form in found if len(form.strip()) >= 6}


def leaked(secret: str, text: str) -> set[str]:
    folded = text.lower()
    return {form for form in forms(secret) if form.lower() in folded}


# The words a message is made of: a secret that contains one is not told apart from the message by a window of it.
VOCABULARY = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "labkit").rglob("*.py")).lower()


def plausible(secret: str) -> bool:
    return not any(secret[i:i + 8].lower() in VOCABULARY for i in range(len(secret) - 7))


SECRETS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=12, max_size=40).filter(
    lambda s: len(s.strip()) >= 12 and plausible(s))


@settings(max_examples=examples(300), deadline=None)
@given(secret=SECRETS, kind=st.sampled_from(sorted(KINDS)))
def test_a_config_error_never_repeats_a_substituted_value(secret: str, kind: str) -> None:
    try:
        validate_security_config(KINDS[kind](REF), env={VAR: secret})
    except ConfigError as exc:
        text = str(exc) + repr(exc.errors)
        assert not leaked(secret, text), text
        # the one problem about it names the variable (and its path, as every problem does)
        assert VAR in text, text


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_error_kind_is_met_and_names_the_variable(kind: str) -> None:
    secret = "Xq7-vulnerable-SECRET-9Lz"
    with pytest.raises(ConfigError) as caught:
        validate_security_config(KINDS[kind](REF), env={VAR: secret})
    assert not leaked(secret, str(caught.value)), str(caught.value)
    assert any(VAR in message for _, message in caught.value.errors), caught.value.errors


def test_a_value_used_without_error_is_kept_and_an_unset_one_is_named() -> None:
    cfg = validate_security_config(oauth2(jwt_issuer=REF), env={VAR: "https://issuer.example"})
    assert cfg.oauth2.issuers == ("https://issuer.example",)
    with pytest.raises(ConfigError, match=f"{VAR} is not set"):
        validate_security_config(oauth2(jwt_issuer=REF), env={})


@pytest.mark.parametrize("command", ["validate-config", "explain", "serve"])
@pytest.mark.parametrize("kind", ["strategy", "redis_scheme", "scope", "middleware"])
def test_the_commands_name_the_variable_never_its_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str,
        kind: str) -> None:
    secret = "AKIAvulnerableSecret-7"
    path = tmp_path / "agentup.yml"
    path.write_text(json.dumps(KINDS[kind](REF)))  # JSON is YAML
    monkeypatch.setenv(VAR, secret)
    argv = [command, "--config", str(path)] if command == "serve" else [command, str(path)]
    assert main(argv) == 1
    out = capsys.readouterr()
    assert not leaked(secret, out.out + out.err), out
    assert VAR in out.err and "Traceback" not in out.err
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=dict(os.environ))
    assert not leaked(secret, str(caught.value))


def test_explain_of_a_valid_config_names_the_variable_never_its_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # a valid scope name, so the config is valid
    document = {"security": {"oauth2": {**JWT, "jwt_audience": REF, "required_scopes": [REF]}},
                "plugins": [{"plugin_id": "p", "required_scopes": [REF]}]}
    path = tmp_path / "agentup.yml"
    path.write_text(json.dumps(document))
    monkeypatch.setenv(VAR, secret)
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr()
    assert not leaked(secret, out.out + out.err), out.out
    assert REF in out.out
    assert load_config(path).oauth2.required_scopes == [secret]  # the value itself is used, only never shown
