"""RFC 9449 (DPoP) at the provider's token endpoint: the proof checked, the token bound to its key.

A token request with one ``DPoP`` header gets a proof check (``labkit.auth.dpop.verify_proof``: ``htm``
POST, ``htu`` the token endpoint, ``iat`` window, nonce when ``require_nonce``); once the client has
authenticated, its ``jti`` is spent (``spend``), refused or not what follows: a proof the server has seen never
authorizes another request (RFC 9449 §11.1). Spent ids are kept until the proof's window ends, each client's share
bounded; when the cache is full of live ids the request is refused with 503 ``temporarily_unavailable``, never by
forgetting a live id. An unauthenticated request spends nothing;
the access token then carries ``cnf.jkt`` (also in introspection) and ``token_type: DPoP``, and a refresh
token remembers the key, so that only a proof by the same key can use it (RFC 9449 §5). Errors are RFC 9449
§5's: 400 ``invalid_dpop_proof``, 400 ``use_dpop_nonce`` with a ``DPoP-Nonce`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error

from ..auth.dpop import DPOP_ALGORITHMS, DPoPProof, Nonces, verify_proof
from ..errors import AuthError, Reason
from ..state.spent import SpentIds
from .responses import SpentIdsUnavailableError

__all__ = ["MAX_PROOF", "OWNER_CAPACITY", "InvalidDPoPProofError", "TokenEndpointDPoP", "UseDPoPNonceError",
           "bound_key", "confirmation", "require_proof_of"]

MAX_PROOF = 8192
OWNER_CAPACITY = 10_000  # live proof ids of one client: a proof lives ~60 s, so ~160 token requests a second
_log = logging.getLogger("labkit.provider")


class InvalidDPoPProofError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §5: the DPoP proof of a token request is invalid (400 ``invalid_dpop_proof``)."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonceError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §8: the proof must carry this nonce (400 ``use_dpop_nonce`` with ``DPoP-Nonce``)."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, nonce: str) -> None:
        super().__init__("send a DPoP proof with the server nonce")
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("DPoP-Nonce", self.nonce)]


class TokenEndpointDPoP:
    """One tenant's DPoP state at the token endpoint: seen ``jti`` per key and, when required, nonces."""

    def __init__(self, clock: Callable[[], float], *, window: float = 60) -> None:
        self.clock = clock
        self.window = window
        self.algorithms = DPOP_ALGORITHMS
        # RFC 9449 §11.1: every jti kept until its proof's window ends; full: 503, never an early eviction
        self.replay = SpentIds(clock, owner_capacity=OWNER_CAPACITY, what="DPoP proof id",
                               full=SpentIdsUnavailableError)
        self.nonces: Nonces | None = None

    def require_nonce(self, on: bool = True) -> None:
        """Demand (or stop demanding) a server nonce in token-endpoint proofs."""
        self.nonces = Nonces(self.clock) if on else None

    def check(self, headers: Mapping[str, str], proofs: list[str], token_url: str) -> DPoPProof | None:
        """The request's proof, verified and not spent before (``spend`` spends it); None without a ``DPoP`` header.

        Raises ``InvalidDPoPProofError`` or ``UseDPoPNonceError``.
        """
        if not proofs:
            return None
        # RFC 9449 §4.3 (1): exactly one DPoP header
        if len(proofs) != 1 or len(proofs[0]) > MAX_PROOF:
            raise InvalidDPoPProofError("exactly one DPoP header is needed")
        try:
            proof = verify_proof(proofs[0], method="POST", url=token_url, now=self.clock(), window=self.window,
                                 algorithms=self.algorithms, nonce=self.nonces.valid if self.nonces else None)
        except AuthError as error:
            if error.reason is Reason.DPOP_NONCE and self.nonces is not None:
                raise UseDPoPNonceError(self.nonces.current()) from None
            raise InvalidDPoPProofError("the DPoP proof is invalid") from None
        # RFC 9449 §11.1: a proof is used once
        if _replay_key(proof) in self.replay:
            raise InvalidDPoPProofError("the DPoP proof was already used")
        return proof

    def spend(self, proof: DPoPProof, client_id: str) -> None:
        """Spend the proof's ``jti`` for good, on ``client_id``'s share, once the client has authenticated.

        Raises ``InvalidDPoPProofError`` on replay, ``SpentIdsFullError`` (503) when the share or the cache is full.
        """
        # RFC 9449 §11.1: a proof the server has seen is never accepted again, whatever became of its request
        if not self.replay.claim(_replay_key(proof), max(proof.iat, self.clock()) + self.window + 1,
                                 owner=f"client:{client_id}"):
            raise InvalidDPoPProofError("the DPoP proof was already used")


def _replay_key(proof: DPoPProof) -> str:
    return f"{len(proof.jkt)}:{proof.jkt}|{proof.jti}"


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The key thumbprint a token is bound to (its ``cnf.jkt``, RFC 9449 §6.1), or None."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) and jkt else None


def require_proof_of(claims: Mapping[str, Any], proof: DPoPProof | None, what: str) -> None:
    """Hold a presented token bound to a key (``cnf.jkt``) to a proof by that key at the token endpoint.

    Raises ``InvalidDPoPProofError`` (generic to the client; the log says which case it was).
    """
    jkt = bound_key(claims)
    # RFC 9449 §5, §6.1: a DPoP-bound token is usable only with a proof of possession of its key
    if jkt is not None and (proof is None or proof.jkt != jkt):
        _log.warning("token endpoint: %s is DPoP-bound; refused: %s", what,
                     "no DPoP proof" if proof is None else "the DPoP proof is by another key")
        raise InvalidDPoPProofError(f"the {what} is DPoP-bound: send a DPoP proof by its key")


def confirmation(jkt: str | None) -> dict[str, Any]:
    """The claims that bind a token to a key (RFC 9449 §6.1), or none."""
    return {"cnf": {"jkt": jkt}} if jkt else {}
