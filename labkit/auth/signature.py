"""JWS signature checks (RFC 7518 §3, RFC 8037 §3.1, RFC 9864) with each key's ``cryptography`` object, loaded once.

joserfc imports and checks the keys (``keys.py``); verifying a signature is then one call into ``cryptography``
(or the standard library's HMAC, as joserfc itself does) with the key object cached on the ``TrustedKey``,
the padding and hash of the algorithm built once here. No cryptography is written here, only chosen.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..algorithms import TABLE

__all__ = ["Check", "verify_signature_bytes"]

Check = Callable[[Any, bytes, bytes], bool]  # (key object, signing input, signature) -> valid


def _hmac(digest: str) -> Check:
    def check(secret: Any, message: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.2: compare the MAC in constant time
        return hmac.compare_digest(hmac.digest(secret, message, digest), signature)

    return check


def _rsa(pad: padding.AsymmetricPadding, digest: hashes.HashAlgorithm) -> Check:
    def check(public: Any, message: bytes, signature: bytes) -> bool:
        try:
            public.verify(signature, message, pad, digest)
        except InvalidSignature:
            return False
        return True

    return check


def _pss(digest: hashes.HashAlgorithm) -> Check:
    # RFC 7518 §3.5: MGF1 with the same hash, a salt as long as the hash output
    return _rsa(padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)


def _ecdsa(digest: hashes.HashAlgorithm, size: int) -> Check:
    scheme = ECDSA(digest)

    def check(public: Any, message: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.4: R || S, each exactly the coordinate size, big-endian
        if len(signature) != 2 * size:
            return False
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        try:
            public.verify(encode_dss_signature(r, s), message, scheme)
        except InvalidSignature:
            return False
        return True

    return check


def _eddsa(public: Any, message: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


_HASHES = {"SHA-256": hashes.SHA256(), "SHA-384": hashes.SHA384(), "SHA-512": hashes.SHA512()}


def _check_for(name: str) -> Check:
    spec = TABLE[name]
    digest = _HASHES[spec.hash]
    if spec.kty == "oct":
        return _hmac(digest.name)
    if spec.kty == "RSA":
        return _pss(digest) if name.startswith("PS") else _rsa(padding.PKCS1v15(), digest)
    if spec.kty == "EC":
        return _ecdsa(digest, spec.coordinate_bytes)
    return _eddsa


_CHECKS: Mapping[str, Check] = {name: _check_for(name) for name in TABLE}


def verify_signature_bytes(alg: str, key: Any, signing_input: bytes, signature: bytes) -> bool:
    """True when ``signature`` is ``alg``'s signature of ``signing_input`` under ``key`` (a ``cryptography``
    public key, or the HMAC secret). ``alg`` must be in the algorithm table (``KeyError`` otherwise);
    ``TypeError``/``ValueError`` from ``cryptography`` pass through for a key that does not fit."""
    return _CHECKS[alg](key, signing_input, signature)
