"""RFC 9449 (DPoP) at the resource server: the presentation, the proof against the token, replay, nonces.

``DPoPPolicy.check(principal, token, presentation)`` runs after the token is valid: a DPoP-bound token
(``cnf.jkt``) must come with ``Authorization: DPoP`` and exactly one ``DPoP`` proof for this method and URL,
signed by the bound key, hashing this token (``ath``), fresh (``iat``), never seen before (``jti``, per key),
with the server's nonce when nonces are on; a bound token presented as Bearer is refused (§7.2), and so is
every Bearer token when DPoP is required. Only valid tokens reach the replay cache, so it grows with bound
tokens, never with unauthenticated requests; with ``shared`` (a ``labkit.state`` replay cache, Redis when
replicas run) a ``jti`` is spent on every replica at once. Raises ``AuthError`` (``DPOP_PROOF``, ``DPOP_NONCE``,
``DPOP_REQUIRED``).

``presented(scope, public_url)`` reads an ASGI request once for every front door (the ASGI guard, FastAPI,
Starlette, the MCP SDK): the token, its scheme, the ``DPoP`` headers, the method and the URL ``htu`` must name.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..auth import Principal
from ..auth.dpop import DPOP_ALGORITHMS, Nonces, ReplayCache, bound_thumbprint, verify_proof
from ..errors import AuthError, Reason
from ..state.protocols import ReplayCache as SharedReplayCache
from ..state.protocols import StateUnavailableError
from ..state.spent import SpentIdsFullError
from .rfc6750 import credentials

__all__ = ["MAX_PROOF", "DPoPChallenge", "DPoPPolicy", "Presentation", "presented", "replay_key", "request_url"]

MAX_PROOF = 8_192


@dataclass(frozen=True)
class Presentation:
    """How a request presented its token: ``scheme`` (``bearer`` or ``dpop``), its ``DPoP`` header values, and
    the method and URL the proof must name (the app's public URL, never the Host header alone)."""

    scheme: str = "bearer"
    proofs: tuple[bytes, ...] = ()
    method: str = ""
    url: str = ""


def request_url(scope: Mapping[str, Any], public_url: str | None = None) -> str:
    """The URL a DPoP proof's ``htu`` must name (RFC 9449 §4.3 (9)) for an ASGI request.

    ``public_url``: the app's public origin, plus any path prefix a proxy strips without telling the server;
    without it, the scheme and address the ASGI server reports. Never the ``Host`` header (a client chooses
    it). The path is the one the server received (``raw_path``): ASGI servers include their ``root_path``
    in it (uvicorn ``--root-path``), and a Starlette ``Mount`` keeps it whole, so a mounted app names the
    same URL the client called.
    """
    origin = public_url.rstrip("/") if public_url else None
    if origin is None:
        host, port = (scope.get("server") or ("127.0.0.1", None))[:2]
        host = f"[{host}]" if ":" in str(host) else host
        origin = f"{scope.get('scheme', 'http')}://{host}" + (f":{port}" if port else "")
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path", "/"))
    return origin + path.split("?", 1)[0]


def presented(scope: Mapping[str, Any], public_url: str | None = None) -> tuple[str | None, Presentation]:
    """The token of an ASGI request (by the strict RFC 6750 / RFC 9449 §7.1 parser, or None) and how it came."""
    headers = scope.get("headers") or ()
    found = credentials(value for key, value in headers if key == b"authorization")
    scheme, token = found or ("bearer", None)
    proofs = tuple(value for key, value in headers if key == b"dpop")
    return token, Presentation(scheme, proofs, str(scope.get("method", "GET")), request_url(scope, public_url))


def replay_key(jkt: str, jti: str) -> str:
    """The key of one proof in a shared replay cache: a hash of the key thumbprint and the ``jti``."""
    return "dpop:" + hashlib.sha256(f"{len(jkt)}:{jkt}|{jti}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class DPoPChallenge:
    """What a refusal's ``WWW-Authenticate: DPoP`` offers: the algorithms and, with nonces on, a fresh nonce."""

    algs: tuple[str, ...] = DPOP_ALGORITHMS
    nonce: str | None = None


class DPoPPolicy:
    """One tenant's DPoP rules: ``required`` (Bearer refused), ``nonce`` (server nonces demanded), the proof
    ``algorithms`` and the ``window`` for ``iat``; ``clock`` is the validator's. Seen ``jti`` values live in
    ``replay`` (this process, capped per key) or, when given, in ``shared`` (every replica: ``labkit.state``)."""

    def __init__(self, *, clock: Callable[[], float], required: bool = False, nonce: bool = False,
                 algorithms: tuple[str, ...] = DPOP_ALGORITHMS, window: float = 60,
                 replay: ReplayCache | None = None, nonces: Nonces | None = None,
                 shared: SharedReplayCache | None = None) -> None:
        self.clock = clock
        self.required = required
        self.algorithms = algorithms
        self.window = window
        self.replay = replay or ReplayCache(clock)
        self.shared = shared
        self.nonces = (nonces or Nonces(clock)) if nonce else None

    def challenge(self, presentation: Presentation | None) -> DPoPChallenge | None:
        """The DPoP challenge of a refusal: when DPoP is required or the request used it, else None (Bearer)."""
        if not self.required and (presentation is None or presentation.scheme != "dpop"):
            return None
        return DPoPChallenge(self.algorithms, self.nonces.current() if self.nonces else None)

    async def first_use(self, jkt: str, jti: str, expires_at: float) -> bool:
        """True the first time ``jti`` is seen with ``jkt`` (on every replica when ``shared``); False otherwise.

        Raises ``AuthError`` (``STATE_UNAVAILABLE``) when the cache is full of live ids or cannot answer.
        """
        try:
            if self.shared is not None:
                return await self.shared.first_use(replay_key(jkt, jti), expires_at)
            return self.replay.claim(jkt, jti, expires_at)
        except (SpentIdsFullError, StateUnavailableError) as full:
            # RFC 9449 §11.1: a cache that cannot remember this jti for its window refuses (503), never evicts
            detail = full.description if isinstance(full, SpentIdsFullError) else str(full)
            raise AuthError(Reason.STATE_UNAVAILABLE, f"DPoP replay cache: {detail}") from None

    def check_bearer(self, principal: Principal) -> None:
        """Hold a valid token presented as Bearer (no DPoP scheme) to RFC 9449; raises ``AuthError``."""
        # RFC 9449 §7.2: a DPoP-bound token presented as a Bearer token is refused
        if bound_thumbprint(principal.claims) is not None:
            raise AuthError(Reason.DPOP_REQUIRED, "a DPoP-bound token presented as Bearer")
        if self.required:
            raise AuthError(Reason.DPOP_REQUIRED, "this resource requires DPoP (require_dpop)")

    async def check(self, principal: Principal, token: str, presentation: Presentation | None) -> None:
        """Hold a valid token's presentation to RFC 9449; raises ``AuthError``."""
        if presentation is None or presentation.scheme != "dpop":
            self.check_bearer(principal)
            return
        jkt = bound_thumbprint(principal.claims)
        # RFC 9449 §4.3 (1): exactly one DPoP header
        if len(presentation.proofs) != 1 or len(presentation.proofs[0]) > MAX_PROOF:
            raise AuthError(Reason.DPOP_PROOF, f"{len(presentation.proofs)} DPoP headers; exactly one is needed")
        try:
            proof_text = presentation.proofs[0].decode("ascii")
        except UnicodeDecodeError:
            raise AuthError(Reason.DPOP_PROOF, "the DPoP header is not ASCII") from None
        # RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens
        if jkt is None:
            raise AuthError(Reason.DPOP_PROOF, "the token is not DPoP-bound (no cnf.jkt)")
        now = self.clock()
        proof = verify_proof(proof_text, method=presentation.method, url=presentation.url, now=now,
                             window=self.window, algorithms=self.algorithms, access_token=token,
                             nonce=self.nonces.valid if self.nonces else None)
        # RFC 9449 §4.3 (12): the proof's key is the key the token is bound to
        if not hmac.compare_digest(proof.jkt.encode("ascii"), jkt.encode("ascii", "replace")):
            raise AuthError(Reason.DPOP_PROOF, "the proof's key is not the key the token is bound to")
        # RFC 9449 §11.1: a proof is used once (jti, per key, for as long as its iat is acceptable)
        if not await self.first_use(jkt, proof.jti, max(proof.iat, now) + self.window + 1):
            raise AuthError(Reason.DPOP_PROOF, "jti already used with this key (replayed proof), or the shared "
                            "replay cache did not answer")
