"""Algorithm and key checks of an oauth2 block: pinned algorithms from the table, key sources, secret sizes.

Inline JWK Sets are checked for structure only: the key policy (sizes, ``use``, mixing) is applied to every
key set at validation time, the same for inline and fetched keys, and reported in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import algorithms
from .models import OAuth2Config
from .problems import Place, did_you_mean

__all__ = ["check_algorithms", "check_inline_jwks"]

_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def check_algorithms(oauth2: OAuth2Config, place: Place, *, uses_jwt: bool) -> None:
    """The algorithm allow-list, and the keys each pinned algorithm needs when the strategy uses JWTs."""
    if oauth2.jwt_algorithm is not None and oauth2.jwt_algorithms is not None:
        place.at("jwt_algorithms").add("give either jwt_algorithm or jwt_algorithms, not both")
    algorithm_key = "jwt_algorithms" if oauth2.jwt_algorithms is not None else "jwt_algorithm"
    at_algorithms = place.at(algorithm_key)
    for alg in oauth2.algorithms:
        # RFC 8725 §3.1: 'none' never passes, whatever the configuration says
        if alg.lower() == "none":
            at_algorithms.add("'none' is never allowed: unsigned tokens would authenticate (RFC 8725 §3.1)")
        elif alg not in algorithms.TABLE:
            at_algorithms.add(f"unknown algorithm {alg!r}; use one of {', '.join(algorithms.ALL)}"
                              + did_you_mean(alg, algorithms.ALL, case_insensitive=True))
    if oauth2.jwt_algorithms is not None and not oauth2.jwt_algorithms:
        place.at("jwt_algorithms").add("empty list; name at least one algorithm")

    secret = oauth2.jwt_secret.get_secret_value() if oauth2.jwt_secret is not None else None
    if secret is not None and not secret:
        place.at("jwt_secret").add("empty secret; set a random value of at least 32 bytes")
    if not uses_jwt:
        return
    hmac_algs = [a for a in oauth2.algorithms if a in algorithms.HMAC]
    asym_algs = [a for a in oauth2.algorithms if a in algorithms.ASYMMETRIC]
    if not oauth2.algorithms:
        place.at("jwt_secret").add(
            "strategy jwt needs a key source: jwt_secret (HS*), jwks_url or jwks (RS/PS/ES/EdDSA)")
    if hmac_algs and secret is None and oauth2.jwks is None:
        at_algorithms.add(f"{hmac_algs[0]} needs jwt_secret (or oct keys in an inline jwks)")
    if asym_algs and not oauth2.jwks_url and oauth2.jwks is None:
        at_algorithms.add(f"{asym_algs[0]} needs jwks_url or an inline jwks with public keys")
    if secret:
        size = len(secret.encode("utf-8"))
        for alg in hmac_algs:
            needed = algorithms.TABLE[alg].min_key_bytes
            # RFC 7518 §3.2: an HMAC key at least as long as the hash output
            if size < needed:
                place.at("jwt_secret").add(f"the secret is {size} bytes; {alg} needs at least {needed} "
                                           "(RFC 7518 §3.2): use a longer random secret")


def check_inline_jwks(jwks: Mapping[str, Any], place: Place) -> None:
    """An inline JWK Set: a non-empty ``keys`` list of JWKs, public members only."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        place.at("keys").add("an inline JWK Set needs a non-empty 'keys' list")
        return
    for i, key in enumerate(keys):
        at_key = place.at("keys").item(i)
        if not isinstance(key, Mapping) or not isinstance(key.get("kty"), str):
            at_key.add("each key must be a JWK mapping with a 'kty'")
        # a resource server verifies: it never holds private key material
        elif key["kty"] != "oct" and any(m in key for m in _PRIVATE_JWK_MEMBERS):
            at_key.add("private key material: a resource server holds only public keys")
