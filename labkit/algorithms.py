"""The one JOSE algorithm table (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864): what each JWS algorithm needs of a key.

Config checks, key policy, JWT validation and the provider's key generation all read this table; nothing
else spells the list. ``family(alg)`` raises ``KeyError`` for a name that is not in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ALL",
    "ASYMMETRIC",
    "HMAC",
    "PROVIDER_ALGORITHMS",
    "RSA_MIN_BITS",
    "TABLE",
    "Algorithm",
    "KeyType",
    "algorithms_for_curve",
    "family",
]

KeyType = Literal["oct", "RSA", "EC", "OKP"]
RSA_MIN_BITS = 2048  # RFC 7518 §3.3 / §3.5: a key of 2048 bits or larger MUST be used


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One JWA name: its key type, smallest acceptable key, curves (EC, OKP) and hash."""

    name: str
    kty: KeyType
    hash: str
    min_key_bytes: int = 0  # HMAC: the key is at least the hash size (RFC 7518 §3.2); RSA: the modulus
    curves: tuple[str, ...] = ()  # EC: the one curve the algorithm names; OKP: the curves it allows
    coordinate_bytes: int = 0  # EC: the size of x and y; OKP: the size of x


def _hmac(bits: int) -> Algorithm:
    return Algorithm(f"HS{bits}", "oct", f"SHA-{bits}", min_key_bytes=bits // 8)


def _rsa(prefix: str, bits: int) -> Algorithm:
    return Algorithm(f"{prefix}{bits}", "RSA", f"SHA-{bits}", min_key_bytes=RSA_MIN_BITS // 8)


_ENTRIES = (
    _hmac(256), _hmac(384), _hmac(512),
    _rsa("RS", 256), _rsa("RS", 384), _rsa("RS", 512),
    _rsa("PS", 256), _rsa("PS", 384), _rsa("PS", 512),
    Algorithm("ES256", "EC", "SHA-256", curves=("P-256",), coordinate_bytes=32),
    Algorithm("ES384", "EC", "SHA-384", curves=("P-384",), coordinate_bytes=48),
    Algorithm("ES512", "EC", "SHA-512", curves=("P-521",), coordinate_bytes=66),
    # RFC 8037's EdDSA (the lab allows Ed25519 only) and RFC 9864's fully-specified name for the same.
    Algorithm("EdDSA", "OKP", "SHA-512", curves=("Ed25519",), coordinate_bytes=32),
    Algorithm("Ed25519", "OKP", "SHA-512", curves=("Ed25519",), coordinate_bytes=32),
)

TABLE: Mapping[str, Algorithm] = MappingProxyType({entry.name: entry for entry in _ENTRIES})
HMAC: tuple[str, ...] = tuple(name for name, entry in TABLE.items() if entry.kty == "oct")
ASYMMETRIC: tuple[str, ...] = tuple(name for name, entry in TABLE.items() if entry.kty != "oct")
ALL: tuple[str, ...] = (*HMAC, *ASYMMETRIC)
# What the lab's provider signs with (one key each) and accepts in client assertions: asymmetric only.
PROVIDER_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")


def family(alg: str) -> KeyType:
    """The JWK ``kty`` an algorithm needs (``oct``, ``RSA``, ``EC``, ``OKP``); raises ``KeyError`` if unknown."""
    return TABLE[alg].kty


def algorithms_for_curve(curve: str) -> tuple[str, ...]:
    """The algorithms a key on ``curve`` may verify (empty for a curve the table does not know)."""
    return tuple(name for name, entry in TABLE.items() if curve in entry.curves)
