"""Challenge 01, "Pin the algorithm": wrong answers (insecure first) fail and say why; the reference solves it."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab

from .reference import run_solution

pytestmark = pytest.mark.integration


def hs256(secret: str, **extra: Any) -> dict[str, Any]:
    return {"oauth2": {"jwt_secret": secret, "jwt_algorithm": "HS256", **extra}}


# (name, config, words the refusal must contain). The first four were "not guessable" to the old entropy estimate;
# token_hex(16) was refused for "entropy" instead of its length.
WRONG: list[tuple[str, Any, str]] = [
    ("the alphabet", hs256(string.ascii_lowercase + string.ascii_uppercase), "follow the alphabet"),
    ("a keyboard walk", hs256("qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM"), "keyboard row"),
    ("a passphrase", hs256("correct horse battery staple and a long tail"), "RFC 8725 §3.5"),
    ("a hyphenated passphrase", hs256("correct-horse-battery-staple-orange-bicycle-lamp"), "uses only lowercase"),
    ("token_hex(16)", hs256(secrets.token_hex(16)), "16 random bytes (4 bits a character); RFC 7518 §3.2"),
    ("a 32-byte password", hs256("password" * 4), "RFC 7518 §3.2"),
    ("HS384 allowed too", {"oauth2": {"jwt_secret": secrets.token_urlsafe(64), "jwt_algorithms": ["HS256", "HS384"]}},
     "RFC 8725 §3.1"),
    ("HS512 allowed, 32 random bytes", {"oauth2": {"jwt_secret": secrets.token_hex(32),
                                                   "jwt_algorithms": ["HS256", "HS512"]}}, "at least 64 bytes"),
    # the algorithm pinned and the secret random, but expiry switched off: each solved the check before it probed exp
    ("a leeway of five minutes", hs256(secrets.token_urlsafe(32), leeway=300), "RFC 7519 §4.1.4"),
    ("exp not required", hs256(secrets.token_urlsafe(32), required_claims=[]), "RFC 7519 §4.1.4"),
    # random, but printed in lesson 01's own cell: everyone who read the lesson holds it (solved the check before)
    ("the lesson's printed secret", hs256("s1cRt2iVl9DPm6DB7rK_l8vZW50BvT5cCoawHuPdNKk"), "printed in the lessons"),
    ("a secret too short to load", hs256("short"), "oauth2.jwt_secret: the secret is 5 bytes"),
    ("no shared secret", {"oauth2": {"jwks_url": "https://keys.example.com/jwks", "jwt_algorithm": "RS256"}},
     "shared secret"),
    ("not a mapping", "HS256 only", "mapping"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.mark.parametrize(("config", "reason"), [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_fails_with_its_reason(lab: Lab, tmp_path: Path, config: Any, reason: str) -> None:
    verdict = start("01", lab, progress=tmp_path / "p.json").check(config=config)
    assert not verdict.solved and reason in verdict.message, verdict
    secret = config["oauth2"].get("jwt_secret") if isinstance(config, dict) else None
    assert not secret or secret not in verdict.message  # never echo the secret


def test_the_reference_solves_it(lab: Lab, tmp_path: Path) -> None:
    attempt = start("01", lab, progress=tmp_path / "p.json")
    verdict = run_solution("01", {"lab": lab, "challenge": attempt})
    assert verdict.solved and "up to you" in verdict.message, verdict
