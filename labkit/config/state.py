"""``state:``: where replicas share what one process keeps in memory (Redis, a SQL database, one signing key).

Empty by default: every limit, cache and store lives in the process (the lessons, tests and ``labkit demo``).
``redis_url`` moves rate limits, the capability result cache, replay caches and per-principal quotas to Redis;
``database_url`` moves A2A tasks and push configurations to the a2a-sdk's SQL stores (PostgreSQL for replicas,
SQLite as the single-machine file); ``push_signing_key`` makes every replica sign push deliveries with one key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .messages import validate_model
from .models import StateConfig
from .problems import Place

__all__ = ["DATABASE_SCHEMES", "REDIS_SCHEMES", "build_state"]

REDIS_SCHEMES = ("redis", "rediss", "unix")
DATABASE_SCHEMES = ("postgresql+asyncpg", "sqlite+aiosqlite")


def build_state(raw: Any, place: Place) -> StateConfig:
    """``state``: the model, then each URL's scheme and each key file; problems name their path."""
    if raw is None:
        return StateConfig()
    state = validate_model(StateConfig, raw, place)
    if state is None:
        return StateConfig()
    if state.redis_url is not None:
        _check_url(state.redis_url, REDIS_SCHEMES, place.at("redis_url"), "redis://127.0.0.1:6379/0")
    if state.database_url is not None:
        _check_database(state.database_url, place.at("database_url"))
    for key, at in [(state.push_signing_key, place.at("push_signing_key")),
                    *((p, place.at("push_previous_keys").item(i)) for i, p in enumerate(state.push_previous_keys))]:
        if key is not None and not Path(key).is_file():
            at.add(f"no such file: {key!r} (a PEM or JWK file holding an EC P-256 private key)")
    return state


def _check_url(url: str, schemes: tuple[str, ...], place: Place, example: str) -> bool:
    """True when ``url`` parses with one of ``schemes``; else one problem saying what is expected."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        place.add(f"not a URL; expected e.g. {example}")
        return False
    if parts.scheme not in schemes:
        place.add(f"scheme {parts.scheme or 'missing'!r} is not one of {', '.join(schemes)}; e.g. {example}")
        return False
    return True


def _check_database(url: str, place: Place) -> None:
    """``postgresql+asyncpg://user@host:port/db`` or ``sqlite+aiosqlite:///path`` (async drivers only)."""
    example = "postgresql+asyncpg://user@127.0.0.1:5432/agent or sqlite+aiosqlite:///agent.db"
    if not _check_url(url, DATABASE_SCHEMES, place, example):
        return
    parts = urlsplit(url)
    if parts.scheme.startswith("postgresql") and (not parts.hostname or not parts.path.strip("/")):
        place.add(f"needs a host and a database name; e.g. {example}")
    if parts.scheme.startswith("sqlite") and (parts.netloc or not parts.path.strip("/")):
        place.add("use sqlite+aiosqlite:///relative.db or sqlite+aiosqlite:////absolute/path.db (three slashes)")
