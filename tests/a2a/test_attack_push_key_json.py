"""A push signing key file that is JSON nesting deeply is "not an EC key" (``ValueError`` naming the file, turned
into a ``ConfigError`` by the loader), never a ``RecursionError`` traceback out of ``json.loads``."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.a2a.push import load_signing_key


@pytest.mark.parametrize("content", [b'{"kty": ' + b"[" * 100_000, b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"])
def test_a_deeply_nested_key_file_is_not_a_key(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "push.jwk"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not an EC key"):
        load_signing_key(path)
