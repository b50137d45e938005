"""Trusted verification keys: a JWK Set under the lab's key policy (RFC 7517, RFC 7518, RFC 8725).

Policy, stricter than joserfc, PyJWT and authlib by default:

- only public members are imported; ``use`` other than ``sig`` or ``key_ops`` without ``verify`` → key ignored;
- RSA at least 2048 bits with an odd public exponent 3 ≤ e < 2^256; EC on P-256/384/521 with canonical
  coordinates (the point is checked on the curve); OKP only Ed25519; HMAC keys at least as long as the hash;
- a set mixing symmetric and asymmetric keys, or holding one ``kid`` twice, is refused as a whole;
- a JWK's own ``alg``, when present, must equal the token's; the key type must fit the algorithm.

Nothing here raises anything but ``AuthError`` (at selection); problems are kept for the audit log.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

from ..algorithms import RSA_MIN_BITS, TABLE, algorithms_for_curve
from ..errors import AuthError, Reason
from .jws import b64url_decode

__all__ = ["KeySet", "TrustedKey"]

_SELECTED_MAX = 64
_PUBLIC_MEMBERS = {
    "RSA": ("n", "e"),
    "EC": ("crv", "x", "y"),
    "OKP": ("crv", "x"),
    "oct": ("k",),
}


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One verification key that passed the policy."""

    kid: str | None
    kty: str
    alg: str | None
    key: Key = field(repr=False)
    curve_algs: tuple[str, ...] = ()  # the algorithms an EC or OKP key's curve allows
    secret_len: int = 0  # for oct keys
    # The ``cryptography`` public key (the secret, for oct), loaded once: what ``signature.py`` verifies with.
    public: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.public is None:
            object.__setattr__(self, "public", self.key.get_op_key("verify"))

    def fits(self, alg: str) -> str | None:
        """Why this key cannot verify ``alg`` (None when it can)."""
        if self.alg is not None and self.alg != alg:
            return f"the key's alg is {self.alg}, the token's {alg}"
        spec = TABLE.get(alg)
        if spec is None:
            return f"{alg[:32]} is not a known algorithm"
        if spec.kty != self.kty:
            return f"{alg} needs a {spec.kty} key, this one is {self.kty}"
        if self.curve_algs and alg not in self.curve_algs:
            return f"{alg} does not match the key's curve"
        # RFC 7518 §3.2: an HMAC key at least as long as the hash output
        if self.kty == "oct" and self.secret_len < spec.min_key_bytes:
            return f"HMAC key of {self.secret_len} bytes is too short for {alg} (RFC 7518 §3.2)"
        return None


@dataclass(frozen=True)
class KeySet:
    """Trusted keys and the problems met importing them (for the audit log, never for clients)."""

    keys: tuple[TrustedKey, ...] = ()
    refused: str | None = None
    ignored: tuple[str, ...] = ()
    # Successful selections by (alg, kid): the set never changes, and only trusted kids get in (bounded).
    _selected: dict[tuple[str, str | None], TrustedKey] = field(default_factory=dict, init=False, repr=False,
                                                                  compare=False)

    @classmethod
    def from_jwks(cls, jwks: object, *, allow_symmetric: bool = True) -> KeySet:
        """Import a JWK Set under the policy; never raises (a refused set selects nothing)."""
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            return cls(refused="not a JWK Set (a mapping with a 'keys' list)")
        keys: list[TrustedKey] = []
        ignored: list[str] = []
        for index, jwk in enumerate(jwks["keys"]):
            try:
                keys.append(_import(jwk, allow_symmetric))
            except _Ignored as why:
                ignored.append(f"keys[{index}]: {why}")
        kids = [k.kid for k in keys if k.kid is not None]
        duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
        if duplicates:
            return cls(refused=f"duplicate kid {duplicates[0]!r}: ambiguous key set", ignored=tuple(ignored))
        kinds = {k.kty == "oct" for k in keys}
        if len(kinds) == 2:
            return cls(refused="mixes symmetric and asymmetric keys (key confusion risk)", ignored=tuple(ignored))
        return cls(keys=tuple(keys), ignored=tuple(ignored))

    @classmethod
    def from_secret(cls, secret: bytes) -> KeySet:
        """A set holding one kid-less HMAC key (``jwt_secret``)."""
        key = _oct({"k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii")})
        return cls(keys=(TrustedKey(None, "oct", None, key, secret_len=len(secret)),))

    def has_kid(self, kid: str) -> bool:
        """True when a trusted key carries this ``kid``."""
        return any(k.kid == kid for k in self.keys)

    def select(self, alg: str, kid: str | None) -> TrustedKey:
        """The one key that may verify a token with this ``alg`` and ``kid``; raises ``AuthError(KEY)``."""
        found = self._selected.get((alg, kid))
        if found is None:
            found = self._select(alg, kid)
            if len(self._selected) < _SELECTED_MAX:
                self._selected[(alg, kid)] = found
        return found

    def _select(self, alg: str, kid: str | None) -> TrustedKey:
        if self.refused:
            raise AuthError(Reason.KEY, f"key set refused: {self.refused}")
        if kid is not None and any(k.kid is not None for k in self.keys):
            matches = [k for k in self.keys if k.kid == kid]
            if not matches:
                raise AuthError(Reason.KEY, f"no trusted key with kid {kid[:64]!r}")
            reason = matches[0].fits(alg)
            if reason:
                raise AuthError(Reason.KEY, f"kid {kid[:64]!r}: {reason}")
            return matches[0]
        candidates = [k for k in self.keys if k.fits(alg) is None]
        if len(candidates) != 1:
            why = "no" if not candidates else f"{len(candidates)}"
            detail = "; ".join(filter(None, (k.fits(alg) for k in self.keys)))
            suffix = f" ({detail})" if detail else ""
            raise AuthError(Reason.KEY, f"{why} trusted keys fit {alg} without a kid{suffix}")
        return candidates[0]


class _Ignored(Exception):
    pass


def _import(jwk: object, allow_symmetric: bool) -> TrustedKey:
    if not isinstance(jwk, Mapping):
        raise _Ignored("not a JWK object")
    kty = jwk.get("kty")
    if kty not in _PUBLIC_MEMBERS:
        raise _Ignored(f"unsupported kty {str(kty)[:16]!r}")  # RFC 7517 §5: ignore what is not understood
    use, ops = jwk.get("use"), jwk.get("key_ops")
    if use is not None and use != "sig":
        raise _Ignored(f"use is {str(use)[:16]!r}, not 'sig'")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise _Ignored("key_ops does not allow 'verify'")
    kid, alg = jwk.get("kid"), jwk.get("alg")
    if kid is not None and not isinstance(kid, str):
        raise _Ignored("kid is not a string")
    if alg is not None and not isinstance(alg, str):
        raise _Ignored("alg is not a string")
    public: dict[str, str] = {}
    for member in _PUBLIC_MEMBERS[kty]:
        value = jwk.get(member)
        if not isinstance(value, str):
            raise _Ignored(f"{kty} key with a missing or non-string {member!r}")
        public[member] = value
    try:
        if kty == "oct":
            if not allow_symmetric:
                raise _Ignored("symmetric key in a published key set (HMAC secrets are never published)")
            secret = b64url_decode(public["k"])
            if not secret:
                raise _Ignored("empty HMAC key")
            return TrustedKey(kid, kty, alg, _oct(public), secret_len=len(secret))
        if kty == "RSA":
            return TrustedKey(kid, kty, alg, _rsa(public))
        if kty == "EC":
            return TrustedKey(kid, kty, alg, _ec(public), curve_algs=algorithms_for_curve(public["crv"]))
        return TrustedKey(kid, kty, alg, _okp(public), curve_algs=algorithms_for_curve(public["crv"]))
    except (ValueError, TypeError, JoseError) as exc:
        raise _Ignored(f"invalid {kty} key ({exc.__class__.__name__})") from None


def _oct(public: dict[str, str]) -> Key:
    # The length policy is ours and depends on the algorithm (TrustedKey.fits); joserfc's warning is moot.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return OctKey.import_key({"kty": "oct", **public})


def _rsa(public: dict[str, str]) -> Key:
    n = int.from_bytes(b64url_decode(public["n"]), "big")
    e = int.from_bytes(b64url_decode(public["e"]), "big")
    # RFC 7518 §3.3: 2048 bits or more
    if n.bit_length() < RSA_MIN_BITS:
        raise _Ignored(f"RSA key of {n.bit_length()} bits; at least {RSA_MIN_BITS} are required")
    if e < 3 or e % 2 == 0 or e.bit_length() > 256:
        raise _Ignored("RSA public exponent is not sane (odd, 3 <= e < 2^256)")
    return RSAKey.import_key({"kty": "RSA", **public})


def _curve(curve: str, kty: str) -> int:
    """The coordinate size of a curve the table allows for ``kty``; raises ``_Ignored``."""
    specs = [TABLE[alg] for alg in algorithms_for_curve(curve) if TABLE[alg].kty == kty]
    if not specs:
        raise _Ignored(f"unsupported curve {curve[:16]!r}" if kty == "EC" else
                       f"unsupported OKP curve {curve[:16]!r}; only Ed25519")
    return specs[0].coordinate_bytes


def _ec(public: dict[str, str]) -> Key:
    curve = public["crv"]
    size = _curve(curve, "EC")
    if len(b64url_decode(public["x"])) != size or len(b64url_decode(public["y"])) != size:
        raise _Ignored(f"{curve} coordinates must be exactly {size} bytes")
    # cryptography refuses a point that is not on the curve when the key is loaded.
    key = ECKey.import_key({"kty": "EC", **public})
    key.public_key  # noqa: B018 - forces the load (and the on-curve check) now
    return key


def _okp(public: dict[str, str]) -> Key:
    size = _curve(public["crv"], "OKP")
    if len(b64url_decode(public["x"])) != size:
        raise _Ignored(f"{public['crv']} public key must be {size} bytes")
    return OKPKey.import_key({"kty": "OKP", **public})
