"""The JOSE algorithm table: every entry known to joserfc, and the one place the algorithm lists are spelled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from joserfc.jws import JWSRegistry

import labkit
from labkit import algorithms

ROOT = Path(labkit.__file__).parent
# Names only a full list of algorithms would spell (the lab's provider signs with RS256, ES256 and EdDSA).
ONLY_IN_A_LIST = ("HS384", "HS512", "RS384", "RS512", "PS256", "PS384", "PS512", "ES384", "ES512")
USERS = ("config/keys.py", "auth/jwt.py", "auth/keys.py", "auth/build.py", "provider/keys.py", "explain.py")


@pytest.mark.parametrize("name", algorithms.ALL)
def test_every_entry_is_known_to_joserfc(name: str) -> None:
    entry = algorithms.TABLE[name]
    assert entry.name == name
    assert name in JWSRegistry.algorithms
    # joserfc's own key type for the algorithm agrees with ours
    assert JWSRegistry.algorithms[name].key_type == entry.kty


def test_sizes_follow_rfc_7518() -> None:
    assert {name: algorithms.TABLE[name].min_key_bytes for name in algorithms.HMAC} == {
        "HS256": 32, "HS384": 48, "HS512": 64}  # RFC 7518 §3.2
    assert all(algorithms.TABLE[n].min_key_bytes * 8 == algorithms.RSA_MIN_BITS == 2048
               for n in algorithms.ASYMMETRIC if algorithms.family(n) == "RSA")  # RFC 7518 §3.3
    assert algorithms.algorithms_for_curve("P-521") == ("ES512",)
    assert algorithms.algorithms_for_curve("Ed25519") == ("EdDSA", "Ed25519")
    assert algorithms.algorithms_for_curve("secp256k1") == ()


def test_families_and_lists() -> None:
    assert algorithms.ALL == (*algorithms.HMAC, *algorithms.ASYMMETRIC)
    assert {algorithms.family(n) for n in algorithms.HMAC} == {"oct"}
    assert [algorithms.family(n) for n in ("RS256", "PS512", "ES384", "EdDSA")] == ["RSA", "RSA", "EC", "OKP"]
    for refused in ("none", "None", "HS1024", "ES256K"):
        with pytest.raises(KeyError):
            algorithms.family(refused)


def test_no_other_module_spells_the_algorithm_lists() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "algorithms.py":
            continue
        text = path.read_text(encoding="utf-8")
        spelled = [name for name in ONLY_IN_A_LIST if re.search(rf"[\"']{name}[\"']", text)]
        if spelled or re.search(r"[\"']HS256[\"']\s*:\s*32", text):
            offenders.append(f"{path.relative_to(ROOT)}: {spelled or 'HMAC sizes'}")
    assert offenders == []


@pytest.mark.parametrize("module", USERS)
def test_every_place_uses_the_table(module: str) -> None:
    text = (ROOT / module).read_text(encoding="utf-8")
    assert re.search(r"from \.\.?(algorithms)? import .*\b(algorithms|TABLE|HMAC)\b", text), module
