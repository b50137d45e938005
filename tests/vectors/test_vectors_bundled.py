"""The bundled corpus is the verbatim copy its PROVENANCE.md names, and the shared one is picked up when present."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from ..helpers import ROOT
from .corpus import BUNDLED, sources


def test_bundled_files_match_their_provenance() -> None:
    listed = dict(re.findall(r"\| `([\w.]+)` \| `([0-9a-f]{64})` \|", (BUNDLED / "PROVENANCE.md").read_text()))
    assert set(listed) == {"README.md", "jwt_cases.json", "introspection_cases.json"}
    for name, digest in listed.items():
        assert hashlib.sha256((BUNDLED / name).read_bytes()).hexdigest() == digest, f"{name} was edited"


def test_sources_bundled_always_shared_when_there(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LABKIT_VECTORS", raising=False)
    found = sources()
    assert found["bundled"] == BUNDLED
    assert ("shared" in found) == (ROOT.parent / "shared" / "vectors").is_dir()
    monkeypatch.setenv("LABKIT_VECTORS", str(tmp_path))
    assert sources()["shared"] == tmp_path
