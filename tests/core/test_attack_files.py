"""The audit file is appended to only when it is our own file: a hard link planted at its path (to a file of the
user's, e.g. a shell profile) or a file another account made in a shared folder would receive the audit lines.

``labkit._files.open_regular`` refuses, for writing, a file with more than one link or another owner (the admin
secret file's rule, ``labkit.provider.admin``); reading stays as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit._files import UnsafeFileError, open_regular
from labkit.audit.files import AuditFileError, open_append_only


def test_a_hard_link_planted_at_the_audit_path_never_receives_the_lines(tmp_path: Path) -> None:
    victim = tmp_path / "profile"
    victim.write_text("precious\n")
    audit = tmp_path / "audit.jsonl"
    os.link(victim, audit)
    with pytest.raises(AuditFileError, match="link"):
        open_append_only(audit)
    assert victim.read_text() == "precious\n"


def test_a_hard_linked_file_can_still_be_read(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    os.link(tmp_path / "a", tmp_path / "b")
    os.close(open_regular(tmp_path / "b", os.O_RDONLY))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a file away")
def test_a_file_of_another_account_is_not_appended_to(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text("")
    os.chown(audit, 65534, 65534)
    with pytest.raises(UnsafeFileError, match="another user"):
        open_regular(audit, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def test_our_own_audit_file_is_appended_to(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with open_append_only(audit) as handle:
        handle.write("{}\n")
    with open_append_only(audit) as handle:
        handle.write("{}\n")
    assert audit.read_text() == "{}\n{}\n"
