"""Where a running lab keeps its provider's admin secret, and who may read it (``labkit.provider.admin``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit.provider.admin import admin_secret_for, admin_secret_path, write_admin_secret


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LAB_ADMIN_TOKEN", raising=False)
    return tmp_path


def test_written_private_and_read_back_for_a_loopback_provider_only(home: Path) -> None:
    path = write_admin_secret("s3cret", 8123)
    assert path == home / ".labkit" / "admin" / "8123" == admin_secret_path(8123)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    for url in ("http://127.0.0.1:8123", "http://localhost:8123/", "http://[::1]:8123/acme"):
        assert admin_secret_for(url) == "s3cret", url
    for url in ("http://attacker.example:8123", "http://127.0.0.1:8124", "http://127.0.0.1.nip.io:8123", "nonsense",
                "http://127.0.0.1:99999"):
        assert admin_secret_for(url) is None, url
    write_admin_secret("rotated", 8123)  # a later lab on the same port replaces it atomically
    assert admin_secret_for("http://127.0.0.1:8123") == "rotated"
    assert [p.name for p in path.parent.iterdir()] == ["8123"]  # no temp file left


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    write_admin_secret("from-file", 8123)
    monkeypatch.setenv("LAB_ADMIN_TOKEN", "from-env")
    assert admin_secret_for("http://127.0.0.1:8123") == "from-env"


def test_a_planted_or_shared_file_is_not_read(home: Path) -> None:
    folder = home / ".labkit" / "admin"
    folder.mkdir(parents=True)
    target = home / "elsewhere"
    target.write_text("planted")
    target.chmod(0o600)
    (folder / "8123").symlink_to(target)
    assert admin_secret_for("http://127.0.0.1:8123") is None  # a symlink is not followed
    (folder / "8124").write_text("readable by others")
    (folder / "8124").chmod(0o644)
    assert admin_secret_for("http://127.0.0.1:8124") is None  # not private: not trusted
    os.mkfifo(folder / "8125", 0o600)
    assert admin_secret_for("http://127.0.0.1:8125") is None  # not a regular file (and no blocking read)


def test_writing_never_follows_a_planted_symlink(home: Path) -> None:
    folder = home / ".labkit" / "admin"
    folder.mkdir(parents=True)
    victim = home / "victim"
    victim.write_text("keep me")
    (folder / f".8123.{os.getpid()}.tmp").symlink_to(victim)
    write_admin_secret("s3cret", 8123)  # the link is removed, never written through
    assert victim.read_text() == "keep me" and admin_secret_for("http://127.0.0.1:8123") == "s3cret"
    other = home / "other"
    other.mkdir()
    (home / "second").mkdir()
    (home / "second" / ".labkit").mkdir()
    (home / "second" / ".labkit" / "admin").symlink_to(other)
    os.environ["HOME"] = str(home / "second")  # restored by the fixture's monkeypatch
    with pytest.raises(OSError):  # the folder itself a symlink: refused
        write_admin_secret("s3cret", 8123)
    assert list(other.iterdir()) == []
