"""Signature checks with cached ``cryptography`` keys agree with joserfc's algorithms, valid or not."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from labkit.algorithms import TABLE
from labkit.auth.claims import ClaimPolicy
from labkit.auth.keys import KeySet
from labkit.auth.principal import Principal, principal_from, principal_key
from labkit.auth.signature import verify_signature_bytes
from labkit.errors import AuthError, Reason

from ..helpers import examples

NOW = 1_767_225_600
MESSAGE = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"


@cache
def signing_key(alg: str) -> Key:
    spec = TABLE[alg]
    if spec.kty == "oct":
        return OctKey.import_key(b"s" * spec.min_key_bytes)
    if spec.kty == "RSA":
        return RSAKey.generate_key(2048)
    if spec.kty == "EC":
        return ECKey.generate_key(spec.curves[0])
    return OKPKey.generate_key("Ed25519")


def trusted(alg: str) -> Any:
    key = signing_key(alg)
    keyset = KeySet.from_jwks({"keys": [key.as_dict(private=key.key_type == "oct")]})
    return keyset.select(alg, None)


def joserfc_says(alg: str, signature: bytes) -> bool:
    model = JWSRegistry.algorithms[alg]
    return bool(model.verify(MESSAGE, signature, signing_key(alg)))


@pytest.mark.parametrize("alg", sorted(TABLE))
def test_agrees_with_joserfc_on_good_and_broken_signatures(alg: str) -> None:
    key = trusted(alg)
    good = JWSRegistry.algorithms[alg].sign(MESSAGE, signing_key(alg))
    assert verify_signature_bytes(alg, key.public, MESSAGE, good) is True
    broken = [b"", good[:-1], good + b"\x00", bytes([good[0] ^ 1]) + good[1:], good[::-1], b"\x00" * len(good)]
    half = len(good) // 2
    broken.append(good[half:] + good[:half])  # ECDSA: S || R
    for signature in broken:
        assert verify_signature_bytes(alg, key.public, MESSAGE, signature) is joserfc_says(alg, signature) is False
    assert verify_signature_bytes(alg, key.public, MESSAGE + b"x", good) is False


@settings(max_examples=examples(60), deadline=None)
@given(alg=st.sampled_from(sorted(TABLE)), signature=st.binary(max_size=600))
def test_agrees_with_joserfc_on_any_bytes(alg: str, signature: bytes) -> None:
    assert verify_signature_bytes(alg, trusted(alg).public, MESSAGE, signature) is joserfc_says(alg, signature)


def test_principal_from_fills_every_field_and_the_key_once() -> None:
    claims: dict[str, Any] = {"exp": NOW + 60, "sub": "s", "iss": "i", "client_id": "c", "scope": "a b"}
    built = principal_from(claims, ClaimPolicy(), now=NOW, strategy="jwt", fingerprint="f", tenant="t")
    by_hand = Principal(subject="s", scopes=frozenset({"a", "b"}), client_id="c", issuer="i", claims=claims,
                        tenant="t", strategy="jwt", fingerprint="f", expires_at=float(NOW + 60))
    assert replace(built, key="") == by_hand
    assert built.key == principal_key(built) == principal_key(by_hand) == "t|i|s"
    assert set(vars(built)) == {f.name for f in fields(Principal)}  # nothing kept beside the fields


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_numeric_date_beyond_a_float_is_refused_not_a_crash(name: str) -> None:
    claims = {"exp": NOW + 60, name: 10**400}
    with pytest.raises(AuthError) as info:
        principal_from(claims, ClaimPolicy(), now=NOW, strategy="jwt", fingerprint="f")
    assert info.value.reason is Reason.CLAIMS and name in info.value.detail
