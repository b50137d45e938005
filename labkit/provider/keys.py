"""The provider's signing keys: fixed lab keys by default, rotation with a grace period for retired keys."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from ..algorithms import PROVIDER_ALGORITHMS, TABLE

__all__ = ["SIGNING_ALGORITHMS", "KeyRing", "generate_key", "lab_keys"]

SIGNING_ALGORITHMS = PROVIDER_ALGORITHMS  # what the lab's provider signs with (one key each)


def generate_key(alg: str) -> Key:
    """A new signing key for ``alg``: the smallest size the algorithm table allows, or its first curve."""
    spec = TABLE[alg]
    if spec.kty == "RSA":
        return RSAKey.generate_key(spec.min_key_bytes * 8, auto_kid=True)
    if spec.kty == "EC":
        return ECKey.generate_key(spec.curves[0], auto_kid=True)
    if spec.kty == "OKP":
        return OKPKey.generate_key(spec.curves[0], auto_kid=True)  # type: ignore[arg-type]
    raise KeyError(f"{alg}: the provider signs with asymmetric keys only")


def lab_keys(tenant: str = "default") -> list[dict[str, Any]] | None:
    """The committed lab keys of a tenant (PUBLIC, LAB-ONLY), or None when it has none."""
    text = resources.files("labkit.provider").joinpath("lab_keys.json").read_text(encoding="utf-8")
    keys: list[dict[str, Any]] | None = json.loads(text).get(tenant)
    return keys


@functools.cache
def _committed(tenant: str) -> tuple[tuple[Key, str], ...]:
    """The committed lab keys of ``tenant`` with their algorithms, imported once a process (an RSA private key's
    import checks it: ~30 ms, which every provider and ``Lab()`` paid again); keys are never changed in place."""
    return tuple((_import(jwk), str(jwk["alg"])) for jwk in lab_keys(tenant) or ())


@dataclass
class _Entry:
    key: Key
    alg: str
    retired_at: float | None = None


class KeyRing:
    """One active signing key per algorithm plus retired keys still published for ``grace`` seconds."""

    def __init__(self, tenant: str, clock: Callable[[], float], grace: float = 3600) -> None:
        self.clock = clock
        self.grace = grace
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        fixed = _committed(tenant)
        if fixed:
            self._entries.extend(_Entry(key, alg) for key, alg in fixed)
        else:
            for alg in SIGNING_ALGORITHMS:
                self._entries.append(_Entry(_with_params(generate_key(alg), alg), alg))

    def active(self, alg: str) -> Key:
        """The current signing key for ``alg``; raises ``KeyError`` for an unknown algorithm."""
        with self._lock:
            for entry in self._entries:
                if entry.alg == alg and entry.retired_at is None:
                    return entry.key
        raise KeyError(f"no active key for {alg}")

    def rotate(self, algorithms: tuple[str, ...] = SIGNING_ALGORITHMS) -> list[str]:
        """Retire the active keys of ``algorithms`` and make new ones; returns the new kids."""
        now = self.clock()
        new: list[str] = []
        with self._lock:
            for entry in self._entries:
                if entry.alg in algorithms and entry.retired_at is None:
                    entry.retired_at = now
            for alg in algorithms:
                key = _with_params(generate_key(alg), alg)
                self._entries.append(_Entry(key, alg))
                new.append(str(key.kid))
        return new

    def jwks(self, *, omit_active: bool = False) -> dict[str, Any]:
        """The public JWK Set: active keys and retired ones within the grace period."""
        now = self.clock()
        with self._lock:
            self._entries = [e for e in self._entries if e.retired_at is None or now - e.retired_at < self.grace]
            keys = [
                e.key.as_dict(private=False)
                for e in self._entries
                if not (omit_active and e.retired_at is None)
            ]
        return {"keys": keys}


def _import(jwk: dict[str, Any]) -> Key:
    kty = jwk["kty"]
    cls: Any = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}[kty]
    key: Key = cls.import_key(jwk)
    return key


def _with_params(key: Key, alg: str) -> Key:
    data = key.as_dict(private=True)
    data.update(alg=alg, use="sig")
    return _import(data)
