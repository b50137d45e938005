"""DPoP checks of an oauth2 block (RFC 9449): proof algorithms asymmetric, from the one algorithm table."""

from __future__ import annotations

from .. import algorithms
from .models import OAuth2Config
from .problems import Place, did_you_mean

__all__ = ["check_dpop"]


def check_dpop(oauth2: OAuth2Config, place: Place) -> None:
    """``dpop_algorithms``: a non-empty list of asymmetric algorithms (RFC 9449 §4.2: never none, never a MAC)."""
    if oauth2.dpop_algorithms is None:
        return
    at = place.at("dpop_algorithms")
    if not oauth2.dpop_algorithms:
        at.add("empty list; name at least one asymmetric algorithm (or leave it out for all of them)")
    for i, alg in enumerate(oauth2.dpop_algorithms):
        # RFC 9449 §4.2: a DPoP proof is signed with an asymmetric algorithm; none and MACs never pass
        if alg in algorithms.HMAC or alg.lower() == "none":
            at.item(i).add(f"{alg!r} is not asymmetric; DPoP proofs need one of {', '.join(algorithms.ASYMMETRIC)}")
        elif alg not in algorithms.ASYMMETRIC:
            at.item(i).add(f"unknown algorithm {alg!r}; use one of {', '.join(algorithms.ASYMMETRIC)}"
                           + did_you_mean(alg, algorithms.ASYMMETRIC, case_insensitive=True))
