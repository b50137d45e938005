"""RFC 9449 (DPoP) at the resource server: the presentation, the proof against the token, replay, nonces.

``DPoPPolicy.check(principal, token, presentation)`` runs after the token is valid: a DPoP-bound token
(``cnf.jkt``) must come with ``Authorization: DPoP`` and exactly one ``DPoP`` proof for this method and URL,
signed by the bound key, hashing this token (``ath``), fresh (``iat``), never seen before (``jti``, per key),
with the server's nonce when nonces are on; a bound token presented as Bearer is refused (§7.2), and so is
every Bearer token when DPoP is required. Only valid tokens reach the replay cache, so it grows with bound
tokens, never with unauthenticated requests. Raises ``AuthError`` (``DPOP_PROOF``, ``DPOP_NONCE``,
``DPOP_REQUIRED``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from ..auth import Principal
from ..auth.dpop import DPOP_ALGORITHMS, Nonces, ReplayCache, bound_thumbprint, verify_proof
from ..errors import AuthError, Reason

__all__ = ["DPoPChallenge", "DPoPPolicy", "Presentation"]

MAX_PROOF = 8_192


@dataclass(frozen=True)
class Presentation:
    """How a request presented its token: ``scheme`` (``bearer`` or ``dpop``), its ``DPoP`` header values, and
    the method and URL the proof must name (the app's public URL, never the Host header alone)."""

    scheme: str = "bearer"
    proofs: tuple[bytes, ...] = ()
    method: str = ""
    url: str = ""


@dataclass(frozen=True)
class DPoPChallenge:
    """What a refusal's ``WWW-Authenticate: DPoP`` offers: the algorithms and, with nonces on, a fresh nonce."""

    algs: tuple[str, ...] = DPOP_ALGORITHMS
    nonce: str | None = None


class DPoPPolicy:
    """One tenant's DPoP rules: ``required`` (Bearer refused), ``nonce`` (server nonces demanded), the proof
    ``algorithms`` and the ``window`` for ``iat``; ``clock`` is the validator's."""

    def __init__(self, *, clock: Callable[[], float], required: bool = False, nonce: bool = False,
                 algorithms: tuple[str, ...] = DPOP_ALGORITHMS, window: float = 60,
                 replay: ReplayCache | None = None, nonces: Nonces | None = None) -> None:
        self.clock = clock
        self.required = required
        self.algorithms = algorithms
        self.window = window
        self.replay = replay or ReplayCache(clock)
        self.nonces = (nonces or Nonces(clock)) if nonce else None

    def challenge(self, presentation: Presentation | None) -> DPoPChallenge | None:
        """The DPoP challenge of a refusal: when DPoP is required or the request used it, else None (Bearer)."""
        if not self.required and (presentation is None or presentation.scheme != "dpop"):
            return None
        return DPoPChallenge(self.algorithms, self.nonces.current() if self.nonces else None)

    def check(self, principal: Principal, token: str, presentation: Presentation | None) -> None:
        """Hold a valid token's presentation to RFC 9449; raises ``AuthError``."""
        jkt = bound_thumbprint(principal.claims)
        if presentation is None or presentation.scheme != "dpop":
            # RFC 9449 §7.2: a DPoP-bound token presented as a Bearer token is refused
            if jkt is not None:
                raise AuthError(Reason.DPOP_REQUIRED, "a DPoP-bound token presented as Bearer")
            if self.required:
                raise AuthError(Reason.DPOP_REQUIRED, "this resource requires DPoP (require_dpop)")
            return
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
        if not self.replay.claim(jkt, proof.jti, max(proof.iat, now) + self.window + 1):
            raise AuthError(Reason.DPOP_PROOF, "jti already used with this key (replayed proof) or key over its cap")
