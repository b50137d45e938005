"""Capability middleware named in config: ``timed``, ``cached``, ``rate_limited``, ``oauth2_introspection_cache``.

Chosen as AgentUp describes, the first that is given: a capability's ``capability_override``, its plugin's
``plugin_override`` (the seed's ``plugins[].middleware``), ``plugin_defaults.middleware`` (every plugin);
otherwise the seed's top-level ``middleware`` list applies by plugin type — network plugins get rate
limiting (not caching), local plugins get caching (not rate limiting), hybrid ones both; ``timed`` applies to all.
``oauth2_specific.cache_override: true`` turns caching off for that plugin.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from .config import MiddlewareSpec, PluginSpec, SecurityConfig
from .state import Limiter, MemoryResultStore, ResultStore, SharedState

__all__ = ["CapabilityMiddleware", "PluginMiddleware", "RateLimiter", "ResultCache", "select_middleware"]


class RateLimiter:
    """A token bucket per key: ``requests_per_minute`` refill, ``burst`` capacity; bounded number of keys.

    ``acquire(key)`` returns None when admitted, else the seconds to wait (for ``Retry-After``).
    """

    def __init__(self, requests_per_minute: int, burst: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.rate = requests_per_minute / 60.0
        self.capacity = float(burst or requests_per_minute)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> float | None:
        """Take one token for ``key``; None if admitted, else seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                admitted = True
            else:
                self._buckets[key] = (tokens, now)
                admitted = False
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        if admitted:
            return None
        return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf

    def __len__(self) -> int:
        return len(self._buckets)


class ResultCache:
    """Capability results by (tenant, principal, plugin, capability, arguments): never shared between users.

    The entries live in a ``ResultStore``: in this process by default, in Redis for replicas (``state.redis_url``).
    """

    def __init__(self, ttl: float, max_size: int = 10_000, clock: Callable[[], float] = time.time,
                 store: ResultStore | None = None) -> None:
        self.ttl = ttl
        self.store: ResultStore = store if store is not None else MemoryResultStore(clock, max_size)

    @staticmethod
    def key(tenant: str | None, principal: str, plugin: str, capability: str, arguments: Any) -> str:
        """The cache key; arguments are canonical JSON so equal arguments share an entry."""
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
        return json.dumps([tenant, principal, plugin, capability, canonical])

    async def get(self, key: str) -> Any:
        """A cached result or None."""
        return await self.store.get(key)

    async def put(self, key: str, value: Any) -> None:
        """Remember ``value`` for ``ttl`` seconds."""
        await self.store.put(key, value, self.ttl)

    def __len__(self) -> int:
        """Entries held in this process (0 when they live in Redis)."""
        return len(self.store) if isinstance(self.store, MemoryResultStore) else 0

    @property
    def hits(self) -> int:
        """How many lookups found a live entry in this process."""
        return self.store.hits if isinstance(self.store, MemoryResultStore) else 0


def select_middleware(
    cfg: SecurityConfig, plugin: PluginSpec | None, capability_id: str | None = None
) -> tuple[MiddlewareSpec, ...]:
    """The middleware that applies to ``plugin`` (or one of its capabilities; see the module docstring)."""
    capability = plugin.capability(capability_id) if plugin is not None and capability_id else None
    if capability is not None and capability.middleware is not None:
        chosen = list(capability.middleware)  # AgentUp's capability_override
    elif plugin is not None and plugin.middleware is not None:
        chosen = list(plugin.middleware)  # plugin_override (or the seed's per-plugin list)
    elif cfg.plugin_defaults is not None:
        chosen = list(cfg.plugin_defaults)  # AgentUp: every plugin inherits, whatever its type
    else:
        kind = plugin.plugin_type if plugin is not None else "local"
        skip = {"local": {"rate_limited"}, "network": {"cached"}, "hybrid": set()}[kind]
        chosen = [m for m in cfg.middleware if m.name not in skip and m.name != "oauth2_introspection_cache"]
    if plugin is not None and plugin.oauth2_specific.cache_override:
        chosen = [m for m in chosen if m.name != "cached"]
    return tuple(chosen)


@dataclass
class PluginMiddleware:
    """The live middleware objects of one plugin."""

    plugin_id: str
    timed: bool = False
    cache: ResultCache | None = None
    limiter: Limiter | None = None  # in this process (a RateLimiter, exact under a frozen clock) or in Redis


def _live(plugin_id: str, chosen: Iterable[MiddlewareSpec], clock: Callable[[], float],
          monotonic: Callable[[], float], state: SharedState, name: str) -> PluginMiddleware:
    """The live objects for a chosen middleware list (``retryable`` is accepted; the lab does not retry)."""
    live = PluginMiddleware(plugin_id)
    for mw in chosen:
        if mw.name == "timed":
            live.timed = True
        elif mw.name == "cached":
            max_size = int(mw.params.get("max_size", 10_000))
            live.cache = ResultCache(float(mw.params.get("ttl", 300)), max_size, clock, state.results(max_size))
        elif mw.name == "rate_limited":
            rate, burst = int(mw.params.get("requests_per_minute", 60)), mw.params.get("burst")
            live.limiter = state.limiter(name, rate, burst, RateLimiter(rate, burst, clock=monotonic))
    return live


class CapabilityMiddleware:
    """Builds and holds each plugin's middleware; ``run`` applies cache and timing to a capability call."""

    def __init__(self, cfg: SecurityConfig, plugins: Iterable[PluginSpec], *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, state: SharedState | None = None) -> None:
        state = state if state is not None else SharedState(clock=clock)
        self._plugins: dict[str, PluginMiddleware] = {}
        self._capabilities: dict[tuple[str, str], PluginMiddleware] = {}  # capability_override only
        for spec in plugins:
            plugin_id = spec.plugin_id
            self._plugins[plugin_id] = _live(plugin_id, select_middleware(cfg, spec), clock, monotonic, state,
                                             plugin_id)
            for capability in spec.capabilities:
                if capability.middleware is not None:
                    chosen = select_middleware(cfg, spec, capability.capability_id)
                    self._capabilities[(plugin_id, capability.capability_id)] = _live(
                        plugin_id, chosen, clock, monotonic, state, f"{plugin_id}/{capability.capability_id}")

    def for_plugin(self, plugin_id: str | None) -> PluginMiddleware | None:
        """The middleware of ``plugin_id`` (None for an unknown plugin)."""
        return self._plugins.get(plugin_id) if plugin_id else None

    def for_capability(self, plugin_id: str | None, capability: str | None) -> PluginMiddleware | None:
        """The middleware of one capability: its own override, else its plugin's."""
        if plugin_id and capability and (plugin_id, capability) in self._capabilities:
            return self._capabilities[(plugin_id, capability)]
        return self.for_plugin(plugin_id)

    async def run(self, plugin_id: str, capability: str, *, tenant: str | None, principal: str, arguments: Any,
                  call: Callable[[], Awaitable[Any]], timings: dict[str, float] | None = None) -> Any:
        """Run ``call`` through the plugin's cache and timer; records ``capability_ms`` and ``cache`` in timings."""
        live = self.for_capability(plugin_id, capability)
        key = None
        if live is not None and live.cache is not None:
            key = ResultCache.key(tenant, principal, plugin_id, capability, arguments)
            hit = await live.cache.get(key)
            if hit is not None:
                if timings is not None:
                    timings["cache_hit"] = 1.0
                return hit
        started = time.perf_counter()
        result = await call()
        if live is not None and live.timed and timings is not None:
            timings["capability_ms"] = (time.perf_counter() - started) * 1000
        if key is not None and live is not None and live.cache is not None:
            await live.cache.put(key, result)
        return result
