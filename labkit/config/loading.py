"""Loading: an ``agentup.yml`` file (strict YAML, ``.env`` beside it, ``${VAR}``) into a ``SecurityConfig``.

``validate_security_config`` places every part (``placement``), builds and checks each section, and raises one
``ConfigError`` listing every problem with the dotted path the user wrote.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .._files import UnsafeFileError, read_regular
from .._yaml import MAX_BYTES, check_shape, parse_yaml
from ..errors import ConfigError, ConfigFileError
from .agentup import top_level_sections
from .env import Substitutions, substitute_env
from .middleware import build_middleware, build_plugin_defaults
from .models import AuditConfig, SecurityConfig
from .oauth2 import build_oauth2
from .placement import Placement, place_document
from .plugins import build_mcp, build_plugins
from .problems import Problems, join, type_name
from .sections import build_audit, build_push, build_tenants
from .state import build_state

__all__ = ["load_config", "validate_security_config"]

_SECURITY_KEYS = (
    "enabled", "type", "oauth2", "scope_hierarchy", "auth", "sanitization_enabled", "max_string_length",
)


def _plain(exc: OSError) -> str:
    """An I/O error in plain words: "no such file", "permission denied", "is a directory"..."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return (exc.strerror or exc.__class__.__name__).lower()


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> SecurityConfig:
    """Read an ``agentup.yml``-style file, with a ``.env`` beside it, and validate it.

    The process environment wins over ``.env``. Raises ``ConfigError`` (file missing, malformed
    YAML with line and column, or every validation problem with its path).
    """
    file = Path(path)
    try:  # a regular file only: a FIFO or a device never blocks the reader (labkit._files)
        data = read_regular(file, MAX_BYTES, follow=True)  # never more than the cap, whatever the file's size
    except UnsafeFileError as exc:
        raise ConfigFileError(str(file), f"cannot read the file: {exc.problem}") from None
    except OSError as exc:
        raise ConfigFileError(str(file), f"cannot read the file: {_plain(exc)}") from None
    if data is None:
        raise ConfigFileError(str(file), "no such file")
    if len(data) > MAX_BYTES:
        raise ConfigError([(str(file), f"the file is larger than {MAX_BYTES:,} bytes, the limit for a "
                            "configuration file; refused unread")])  # read, but not a configuration: invalid
    document, errors = parse_yaml(data, str(file))
    if errors:
        raise ConfigError(errors)
    merged: dict[str, str] = {}
    dotenv = file.parent / ".env"
    if dotenv.is_file():
        try:
            text = read_regular(dotenv, MAX_BYTES, follow=True) or b""
        except OSError as exc:
            raise ConfigError([(str(dotenv), f"cannot read the file: {getattr(exc, 'problem', type(exc).__name__)}")]
                              ) from None
        if len(text) > MAX_BYTES:
            raise ConfigError([(str(dotenv), f"larger than {MAX_BYTES:,} bytes; refused unread")])
        values = dotenv_values(stream=io.StringIO(text.decode("utf-8", errors="replace")))
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(os.environ if env is None else env)
    return validate_security_config(document, env=merged)


def validate_security_config(
    mapping: Mapping[str, Any] | Any, *, env: Mapping[str, str] | None = None
) -> SecurityConfig:
    """Validate a configuration mapping; raises ``ConfigError`` listing every problem at once."""
    if not isinstance(mapping, Mapping):
        raise ConfigError([("", f"expected a mapping of settings, got {type_name(mapping)}")])
    # Hostile input: bounded depth and size before any recursive pass (load_config's parser checks too).
    refused = check_shape(mapping)
    if refused:
        raise ConfigError(refused)
    problems = Problems()
    made = Substitutions()  # errors never repeat a value taken from the environment (labkit.config.env)
    document = substitute_env(dict(mapping), os.environ if env is None else env, problems.at(""), made)
    from_env = problems.mark()
    unresolved = {path for path, _ in problems}
    result = _assemble(place_document(document, problems), problems, made)
    if problems or result is None:
        # An unresolved ${VAR} is reported once, not again as the empty value it left behind.
        later = [error for error in problems.since(from_env) if error[0] not in unresolved]
        raise ConfigError(made.redact(problems.errors[:from_env] + later))
    return result


def _assemble(placement: Placement, problems: Problems, made: Substitutions) -> SecurityConfig | None:
    """Build and check every section; the config, or None when anything is wrong."""
    security, sections, prefix = placement.security, placement.sections, placement.prefix
    at_security = problems.at(prefix)
    at_security.unknown_keys(security, _SECURITY_KEYS)
    enabled = security.get("enabled", True)
    if not isinstance(enabled, bool):
        at_security.at("enabled").add(f"expected true or false, got {type_name(enabled)}")
    kind = security.get("type", "oauth2")
    if kind not in ("oauth2", "bearer", "jwt"):
        at_security.at("type").add(f"{kind!r} is not supported by this lab; use type: \"oauth2\"")
    sanitization = security.get("sanitization_enabled", True)
    if not isinstance(sanitization, bool):
        at_security.at("sanitization_enabled").add("expected true or false")
    max_length = security.get("max_string_length", 100_000)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or not (max_length == -1 or max_length >= 1):
        at_security.at("max_string_length").add("expected a whole number of characters (-1: unlimited)")
    at_oauth2 = at_security.at("oauth2")
    if "oauth2" not in security:
        if not placement.auth.reported:
            at_oauth2.add("missing: add an oauth2 block with at least validation_strategy")
        oauth2 = None
    else:
        mark = problems.mark()
        oauth2 = build_oauth2(security["oauth2"], at_oauth2, placement.hierarchy_at)
        placement.auth.relocate(problems, mark, at_oauth2.path)
    ignored = top_level_sections(sections, problems)
    middleware = build_middleware(sections.get("middleware"), problems.at("middleware"))
    plugin_defaults = build_plugin_defaults(sections.get("plugin_defaults"), problems.at("plugin_defaults"))
    if plugin_defaults is not None and middleware:
        problems.add("plugin_defaults", "give either plugin_defaults.middleware (AgentUp) or a top-level "
                     "middleware list (seed), not both: they decide the same thing")
    plugins = build_plugins(sections.get("plugins"), problems.at("plugins"))
    mcp_servers = build_mcp(sections.get("mcp"), problems.at("mcp"))
    tenants = build_tenants(sections.get("tenants"), problems.at("tenants"))
    push = build_push(sections.get("push"), problems.at("push"))
    audit = build_audit(sections.get("audit"), problems.at("audit"))
    state = build_state(sections.get("state"), problems.at("state"))
    if oauth2 is None or problems:
        return None
    return SecurityConfig(
        enabled=enabled, oauth2=oauth2, middleware=middleware, plugins=plugins, tenants=tenants, push=push,
        audit=audit or AuditConfig(), plugin_defaults=plugin_defaults, mcp_servers=mcp_servers,
        sanitization_enabled=sanitization, max_string_length=max_length, ignored_sections=ignored,
        config_paths=_written_paths(placement), state=state, env_values=tuple(made.made),
    )


def _written_paths(placement: Placement) -> dict[str, str]:
    """Where the user wrote the normalised parts (for messages that name a config path)."""
    where = placement.oauth2_at
    paths = {"oauth2": where, "scope_hierarchy": placement.hierarchy_at or join(where, "scope_hierarchy")}
    for key, written in placement.auth.renames.items():
        paths[f"oauth2:{key}"] = join(where, written)
    plugins = placement.sections.get("plugins")
    if isinstance(plugins, Mapping):
        paths.update({f"plugin:{key}": join("plugins", str(key)) for key in plugins})
    elif isinstance(plugins, list):
        paths.update({f"plugin:{p.get('plugin_id')}": f"plugins[{i}]" for i, p in enumerate(plugins)
                      if isinstance(p, Mapping)})
    return paths
