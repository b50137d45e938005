"""Middleware sections: the seed's ``middleware`` list, AgentUp's mapping and ``plugin_defaults``, with parameters.

A parameter rule is ``("int"|"number", low, high)``, ``("choice", options)``, ``("url",)`` or ``("str",)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .models import MiddlewareSpec
from .problems import Place, did_you_mean, type_name

__all__ = ["build_middleware", "build_plugin_defaults", "middleware_list"]

_MIDDLEWARE_PARAMS: dict[str, dict[str, tuple[Any, ...]]] = {
    "timed": {},
    "cached": {"ttl": ("int", 0, 86_400), "max_size": ("int", 1, 1_000_000),
               "backend_type": ("choice", ("memory", "valkey")), "valkey_url": ("url",),
               "valkey_db": ("int", 0, 1000), "key_prefix": ("str",)},
    "rate_limited": {"requests_per_minute": ("int", 1, 1_000_000), "burst": ("int", 1, 1_000_000)},
    "retryable": {"max_attempts": ("int", 1, 100), "initial_delay": ("number", 0, 3600),
                  "max_delay": ("number", 0, 86_400), "backoff_factor": ("number", 1, 100)},
    "oauth2_introspection_cache": {"cache_ttl": ("int", 0, 86_400), "max_cache_size": ("int", 1, 10_000_000)},
}
# AgentUp's spellings of the same parameters.
_PARAM_ALIASES = {"default_ttl": "ttl", "burst_size": "burst", "max_retries": "max_attempts"}
_VALKEY_SCHEMES = ("valkey", "valkeys", "redis", "rediss")
# AgentUp's mapping form: section -> middleware
_MIDDLEWARE_SECTIONS = {"caching": "cached", "rate_limiting": "rate_limited", "retry": "retryable"}


def _check_param(rule: tuple[Any, ...], value: Any) -> str | None:
    kind = rule[0]
    if kind in ("int", "number"):
        ok_type = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if not ok_type or isinstance(value, bool) or not rule[1] <= value <= rule[2]:
            return f"expected {'a whole number' if kind == 'int' else 'a number'} from {rule[1]} to {rule[2]}"
    elif kind == "choice":
        if value not in rule[1]:
            return f"use one of {', '.join(rule[1])}"
    elif kind == "url":
        if not isinstance(value, str) or urlsplit(value).scheme not in _VALKEY_SCHEMES or not urlsplit(value).hostname:
            return f"expected a {'/'.join(_VALKEY_SCHEMES)}:// URL with a host"
    elif not isinstance(value, str):
        return "expected a string"
    return None


def _middleware_entry(name: Any, params: Any, place: Place, name_place: Place | None = None) -> MiddlewareSpec | None:
    """One middleware by name with its parameters (aliases normalised); None when it is wrong."""
    if not isinstance(name, str) or name not in _MIDDLEWARE_PARAMS:
        (name_place or place).add(f"unknown middleware {name!r}; use one of {', '.join(_MIDDLEWARE_PARAMS)}"
                                  + did_you_mean(str(name), _MIDDLEWARE_PARAMS))
        return None
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        place.add(f"expected a mapping of parameters, got {type_name(params)}")
        return None
    allowed = _MIDDLEWARE_PARAMS[name]
    normalised: dict[str, Any] = {}
    mark = place.problems.mark()
    for key, value in params.items():
        at_key = place.at(str(key))
        target = _PARAM_ALIASES.get(str(key), str(key))
        if target not in allowed:
            hint = did_you_mean(str(key), [*allowed, *(a for a, t in _PARAM_ALIASES.items() if t in allowed)])
            at_key.add(f"unknown parameter for {name}" + hint
                       + (f"; it takes {', '.join(allowed)}" if allowed else "; it takes none"))
        elif target in normalised:
            at_key.add(f"given twice (as {target!r} and an alias); keep one")
        elif (problem := _check_param(allowed[target], value)) is not None:
            at_key.add(problem)
        else:
            normalised[target] = value
    return MiddlewareSpec(name=name, params=normalised) if place.problems.mark() == mark else None


def middleware_list(raw: Any, place: Place) -> list[MiddlewareSpec] | None:
    """A list of ``{name, params}`` (or AgentUp's ``{name, config}``) entries; None when not given."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        place.add(f"expected a list of {{name, params}} entries, got {type_name(raw)}")
        return []
    specs: list[MiddlewareSpec] = []
    for i, entry in enumerate(raw):
        at_entry = place.item(i)
        if not isinstance(entry, Mapping):
            at_entry.add(f"expected a mapping with name and params, got {type_name(entry)}")
            continue
        at_entry.unknown_keys(entry, ("name", "params", "config"))
        if "params" in entry and "config" in entry:
            at_entry.add("give either params or config (the same thing), not both")
            continue
        key = "config" if "config" in entry else "params"
        if "name" not in entry:
            at_entry.at("name").add("missing: this setting is required")
            continue
        spec = _middleware_entry(entry["name"], entry.get(key), at_entry.at(key), at_entry.at("name"))
        if spec is not None:
            specs.append(spec)
    return specs


def build_middleware(raw: Any, place: Place) -> tuple[MiddlewareSpec, ...]:
    """Top-level ``middleware``: the seed's list, or AgentUp's mapping (enabled, rate_limiting, caching, retry)."""
    if isinstance(raw, Mapping):
        return _middleware_mapping(raw, place)
    return tuple(middleware_list(raw, place) or ())


def _middleware_mapping(raw: Mapping[str, Any], place: Place) -> tuple[MiddlewareSpec, ...]:
    if "name" in raw:
        place.add("expected a list of {name, params} entries (a '- ' before name), or AgentUp's "
                  "mapping of enabled, rate_limiting, caching, retry")
        return ()
    place.unknown_keys(raw, ("enabled", *_MIDDLEWARE_SECTIONS))
    if raw.get("enabled", True) is False:
        return ()
    specs: list[MiddlewareSpec] = []
    for section, name in _MIDDLEWARE_SECTIONS.items():
        body = raw.get(section)
        if body is None:
            continue
        at_section = place.at(section)
        if not isinstance(body, Mapping):
            at_section.add(f"expected a mapping, got {type_name(body)}")
            continue
        params = {("backend_type" if k == "backend" else k): v for k, v in body.items() if k != "enabled"}
        if body.get("enabled", True) is not False:
            spec = _middleware_entry(name, params, at_section)
            if spec is not None:
                specs.append(spec)
    return tuple(specs)


def build_plugin_defaults(raw: Any, place: Place) -> tuple[MiddlewareSpec, ...] | None:
    """AgentUp's ``plugin_defaults.middleware``: a mapping of middleware name to its parameters."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        place.add(f"expected a mapping with middleware, got {type_name(raw)}")
        return None
    place.unknown_keys(raw, ("middleware",))
    middleware = raw.get("middleware") or {}
    if not isinstance(middleware, Mapping):
        place.at("middleware").add("expected a mapping of middleware name to its parameters")
        return None
    specs = [_middleware_entry(name, params, place.at(f"middleware.{name}")) for name, params in middleware.items()]
    return tuple(spec for spec in specs if spec is not None)
