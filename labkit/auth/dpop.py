"""RFC 9449 (DPoP): proof checks shared by the provider's token endpoint and the guard, and the client's proof.

``verify_proof(proof, method=..., url=..., now=...)`` applies RFC 9449 §4.3 to one ``DPoP`` header value:
strict compact JWS (``labkit.auth.jws``), ``typ`` ``dpop+jwt``, an asymmetric ``alg`` from the allow-list
(``labkit.algorithms``), a public ``jwk`` under the key policy (``keys``), the signature (joserfc), ``htm``,
``htu`` (normalised, query and fragment ignored), ``iat`` within the window, ``jti``, and, when given,
``nonce`` and ``ath``. It returns the proof's facts (the RFC 7638 key thumbprint by joserfc among them) or
raises ``AuthError(DPOP_PROOF)`` / ``AuthError(DPOP_NONCE)``. Replay (``jti``) is the caller's, with
``ReplayCache``; server nonces come from ``Nonces``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import Key

from ..algorithms import ASYMMETRIC
from ..errors import AuthError, Reason
from ..state.spent import DEFAULT_CAPACITY, SpentIds
from .jws import parse_compact
from .jwt import decode_payload, verify_jws
from .keys import KeySet

__all__ = [
    "DPOP_ALGORITHMS",
    "MAX_HTU",
    "MAX_JTI",
    "DPoPProof",
    "Nonces",
    "ReplayCache",
    "access_token_hash",
    "bound_thumbprint",
    "make_proof",
    "normalize_htu",
    "verify_proof",
]

DPOP_ALGORITHMS: tuple[str, ...] = ASYMMETRIC  # RFC 9449 §4.2: asymmetric only, never none or MAC
MAX_JTI = 256
MAX_HTU = 2048
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_KEY_BEARING = ("jku", "x5u", "x5c", "crit", "b64", "zip")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """What a verified proof says: the key's RFC 7638 thumbprint, ``jti``, ``iat`` and the nonce it carried."""

    jkt: str
    jti: str
    iat: float
    nonce: str | None = None


def _refuse(detail: str) -> AuthError:
    return AuthError(Reason.DPOP_PROOF, detail)


def normalize_htu(url: str) -> str:
    """``url`` for comparison (RFC 9449 §4.3, RFC 3986 §6.2.2-3): query and fragment dropped, scheme and host
    lower-cased, default port dropped, empty path as ``/``, percent-encoding canonical.

    Raises ``ValueError`` for a URL that is not absolute http(s) ASCII without user info.
    """
    if not url.isascii() or len(url) > MAX_HTU or any(c <= " " or c == "\x7f" for c in url):
        raise ValueError("not an ASCII URL without spaces or controls")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        raise ValueError("not an absolute http(s) URL without user info")
    port = parts.port  # raises ValueError on a bad port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"

    def canonical(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return f"{scheme}://{netloc}{_PERCENT.sub(canonical, parts.path) or '/'}"


def access_token_hash(token: str) -> str:
    """RFC 9449 §4.2 ``ath``: base64url of the SHA-256 of the access token's ASCII bytes, unpadded."""
    digest = hashlib.sha256(token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def bound_thumbprint(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` a token is bound to (RFC 9449 §6), or None; raises ``AuthError(CLAIMS)`` when malformed."""
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, Mapping):
        raise AuthError(Reason.CLAIMS, "cnf is not an object")
    jkt = cnf.get("jkt")
    if jkt is None:
        return None  # another confirmation method (x5t#S256, ...): not DPoP
    if not isinstance(jkt, str) or not 0 < len(jkt) <= 128:
        raise AuthError(Reason.CLAIMS, "cnf.jkt is not a thumbprint string")
    return jkt


def _string(claims: Mapping[str, Any], name: str, limit: int) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _refuse(f"{name} is missing, not a string or longer than {limit}")
    return value


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    window: float = 60,
    algorithms: Collection[str] = DPOP_ALGORITHMS,
    access_token: str | None = None,
    nonce: Callable[[str], bool] | None = None,
) -> DPoPProof:
    """Check one DPoP proof against the request (``method``, ``url``) at ``now`` (RFC 9449 §4.3).

    ``window``: how far ``iat`` may be from ``now``, in seconds; ``access_token``: the token presented with
    it (``ath`` is then required); ``nonce``: when set, the proof's ``nonce`` must satisfy it. Raises
    ``AuthError(DPOP_PROOF)``, or ``AuthError(DPOP_NONCE)`` when only the nonce is missing or stale.
    """
    try:
        jws = parse_compact(proof)
    except AuthError as error:
        raise _refuse(f"not a compact JWS: {error.detail}") from None
    header = jws.header
    # RFC 9449 §4.3 (4): typ is dpop+jwt
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != "dpop+jwt":
        raise _refuse("typ is not dpop+jwt")
    # RFC 9449 §4.3 (5): an asymmetric algorithm from the allow-list; never none, never a MAC
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in DPOP_ALGORITHMS:
        raise _refuse(f"alg {str(alg)[:32]!r} is not an allowed asymmetric algorithm")
    for name in _KEY_BEARING:
        if name in header:
            raise _refuse(f"header carries {name!r}; a proof names its key only by jwk")
    jwk = header.get("jwk")
    # RFC 9449 §4.3 (7): the jwk is a public key
    if not isinstance(jwk, Mapping) or any(member in jwk for member in _PRIVATE_MEMBERS):
        raise _refuse("jwk is missing, not an object, or holds private or symmetric key material")
    keyset = KeySet.from_jwks({"keys": [dict(jwk)]}, allow_symmetric=False)
    try:
        key = keyset.select(alg, None)
        verify_jws(jws, alg, key)  # joserfc's algorithm verifies
        claims = decode_payload(jws)
    except AuthError as error:
        ignored = "; ".join(keyset.ignored)
        raise _refuse(f"{error.detail}{' (' + ignored + ')' if ignored else ''}") from None
    jti = _string(claims, "jti", MAX_JTI)
    # RFC 9449 §4.3 (8): htm is the request's method
    if _string(claims, "htm", 16) != method:
        raise _refuse("htm does not match the request method")
    # RFC 9449 §4.3 (9): htu is the request's URI, query and fragment ignored
    try:
        same = normalize_htu(_string(claims, "htu", MAX_HTU)) == normalize_htu(url)
    except ValueError:
        same = False
    if not same:
        raise _refuse("htu does not match the request URI")
    iat = claims.get("iat")
    # RFC 9449 §4.3 (11): iat within an acceptable window
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or not math.isfinite(iat):
        raise _refuse("iat is missing or not a NumericDate")
    if abs(now - iat) > window:
        raise _refuse(f"iat {iat:.0f} is outside the {window:.0f}s window around {now:.0f}")
    if access_token is not None:
        # RFC 9449 §4.3 (12): ath is the hash of the access token presented with the proof
        ath = claims.get("ath")
        if not isinstance(ath, str) or not secrets.compare_digest(ath.encode("ascii", "replace"),
                                                                   access_token_hash(access_token).encode("ascii")):
            raise _refuse("ath is missing or is not the hash of the access token")
    given = claims.get("nonce")
    if given is not None and (not isinstance(given, str) or len(given) > MAX_JTI):
        raise _refuse("nonce is not a short string")
    # RFC 9449 §4.3 (10), §8, §9: a server-provided nonce, when the server asks for one
    if nonce is not None and (given is None or not nonce(given)):
        raise AuthError(Reason.DPOP_NONCE, "the proof has no current server nonce")
    return DPoPProof(key.key.thumbprint(), jti, float(iat), given)


class ReplayCache:
    """Seen ``jti`` values per key thumbprint, each kept until its proof's window ends (``labkit.state.spent``):
    at most ``per_key`` live ones a key and ``capacity`` in all; nothing live is ever forgotten early.

    ``claim`` is check-and-set; it raises ``SpentIdsFullError`` when the key's share or the whole cache is full.
    """

    def __init__(self, clock: Callable[[], float], *, per_key: int = 1024, capacity: int = DEFAULT_CAPACITY) -> None:
        self.clock = clock
        self.spent = SpentIds(clock, capacity=capacity, owner_capacity=per_key, what="DPoP proof id")

    def claim(self, jkt: str, jti: str, expires_at: float) -> bool:
        """True the first time ``jti`` is seen for ``jkt`` before ``expires_at``; False for a replay.

        Raises ``SpentIdsFullError`` when ``jkt``'s share or the cache is full of live ids (fail closed).
        """
        return self.spent.claim(f"{jkt}|{jti}", expires_at, owner=jkt)

    def release(self, jkt: str, jti: str) -> None:
        """Forget a claim whose request was refused later (the provider: no side effect from a refused request)."""
        self.spent.release(f"{jkt}|{jti}")

    def __len__(self) -> int:
        return len(self.spent)


class Nonces:
    """Server nonces (RFC 9449 §8): an HMAC of the current time slot under a process secret; the current and the
    previous slot's nonce are accepted, so a nonce lives between ``lifetime`` and twice that."""

    def __init__(self, clock: Callable[[], float], *, lifetime: float = 300, secret: bytes | None = None) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._secret = secret or secrets.token_bytes(32)

    def _for(self, slot: int) -> str:
        mac = hmac.new(self._secret, str(slot).encode("ascii"), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode("ascii")

    def current(self) -> str:
        """The nonce to hand out now."""
        return self._for(int(self.clock() // self.lifetime))

    def valid(self, nonce: str) -> bool:
        """True for the current or the previous slot's nonce (constant-time comparison)."""
        slot = int(self.clock() // self.lifetime)
        given = nonce.encode("ascii", "replace")
        return any(hmac.compare_digest(given, self._for(s).encode("ascii")) for s in (slot, slot - 1))


def make_proof(
    key: Key,
    *,
    method: str,
    url: str,
    iat: float,
    alg: str = "ES256",
    access_token: str | None = None,
    nonce: str | None = None,
    jti: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A DPoP proof signed by ``key`` (a client's side, with joserfc), for lessons, the probe and tests.

    Raises joserfc's errors for a key that does not fit ``alg``.
    """
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    claims: dict[str, Any] = {"jti": jti or secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(iat)}
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    claims.update(extra or {})
    return jwt.encode(header, claims, key, algorithms=[alg])
