"""``labkit.secret_strength``: a string test refuses only what it can prove weak, and never a generator's output."""

from __future__ import annotations

import base64
import secrets
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.secret_strength import random_bytes, secret_problem

from ..helpers import examples

# each: (what it is, the secret, a word the reason must contain). The first three passed the old entropy estimate
# ("about 200 bits", "not guessable"): a string's variety says nothing about how it was made.
WEAK = [
    ("the alphabet", string.ascii_lowercase + string.ascii_uppercase, "follow the alphabet"),
    ("a keyboard walk", "qwertyuiopasdfghjklzxcvbnm" + "QWERTYUIOPASDFGHJKLZXCVBNM", "keyboard row"),
    ("a passphrase", "correct horse battery staple and a long tail", "not hex or base64"),
    ("a hyphenated passphrase", "correct-horse-battery-staple-orange-bicycle-lamp", "uses only lowercase"),
    ("token_hex(16): 16 bytes", "9f86d081884c7d659a2feaa0c55ad015", "at most 16 random bytes"),
    ("a password, repeated", "password" * 8, "uses only lowercase"),
    ("one character", "a" * 64, "uses only"),
    ("a generator's output, twice", "Yq3_dKf8LmN2pQrS7tUvW9xZa1Bc" * 2, "repeats itself every 28"),
    ("hex counting", "0123456789abcdef" * 4, "follow the alphabet"),
]


@pytest.mark.parametrize(("secret", "reason"), [w[1:] for w in WEAK], ids=[w[0] for w in WEAK])
def test_provably_weak_secrets_are_refused_with_the_reason(secret: str, reason: str) -> None:
    problem = secret_problem(secret, 32)
    assert problem is not None and reason in problem, problem
    assert secret not in problem  # never echo the secret


@settings(max_examples=examples(300))
@given(st.integers(min_value=32, max_value=96), st.sampled_from(["urlsafe", "hex", "openssl"]))
def test_a_generators_output_of_32_bytes_or_more_always_passes(size: int, kind: str) -> None:
    secret = {"urlsafe": lambda: secrets.token_urlsafe(size), "hex": lambda: secrets.token_hex(size),
              "openssl": lambda: base64.b64encode(secrets.token_bytes(size)).decode()}[kind]()
    assert random_bytes(secret) is not None and random_bytes(secret)[1] == size  # type: ignore[index]
    assert secret_problem(secret, 32) is None


def test_what_a_string_test_cannot_see() -> None:
    # a CamelCase passphrase is base64-shaped and shows no provable pattern: passing proves nothing about the source
    assert secret_problem("CorrectHorseBatteryStapleOrangeBicycleLampTree", 32) is None
    assert secret_problem(secrets.token_urlsafe(32), 64) is not None  # HS512 wants 64 bytes
