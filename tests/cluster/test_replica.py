"""``labkit.cluster.replica.main`` on a bad configuration: one line logged, exit 1 (library code logs, never prints)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from labkit.cluster.replica import main


def test_a_bad_configuration_is_logged_not_printed(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agentup.yml"
    config.write_text("security:\n  oauth2:\n    validation_strategy: nonsense\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="labkit.cluster.replica"):
        status = main(["--config", str(config), "--port", "1", "--public-url", "http://127.0.0.1:1"])
    assert status == 1
    records = [r for r in caplog.records if r.name == "labkit.cluster.replica"]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert "invalid configuration" in records[0].getMessage() and "\n" not in records[0].getMessage()
    assert capsys.readouterr() == ("", "")  # the record goes where logging is configured to send it
