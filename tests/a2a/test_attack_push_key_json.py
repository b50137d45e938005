"""A push signing key file that is JSON nesting deeply is "not an EC key" (``ValueError`` naming the file, turned
into a ``ConfigError`` by the loader), never a ``RecursionError`` traceback out of ``json.loads``."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.a2a.push import load_signing_key


@pytest.mark.parametrize("content", [b'{"kty": ' + b"[" * 60_000, b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"])
def test_a_deeply_nested_key_file_is_not_a_key(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "push.jwk"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not an EC key"):
        load_signing_key(path)


def test_a_fifo_or_an_endless_file_named_as_the_key_is_refused_without_blocking(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "push.pem"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_signing_key(fifo)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # blocked in open(): release it (a writer appears), then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("load_signing_key blocked on a FIFO")
    assert isinstance(outcome[0], ValueError) and "regular file" in str(outcome[0])
    with pytest.raises(ValueError, match="regular file"):
        load_signing_key("/dev/zero")  # a device: never read to the end


def test_an_oversized_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "push.pem"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 1_000_000)
    with pytest.raises(ValueError, match="larger than"):
        load_signing_key(path)
