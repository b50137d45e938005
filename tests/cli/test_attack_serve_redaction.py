"""``labkit serve`` prints how the configuration's plugin ids met the sample agent's: a plugin or capability id
taken from ``${VAR}`` is named there, never shown (``SecurityConfig.redact``, the rule's one home). Before, a
hostile ``agentup.yml`` with ``plugin_id: ${GH_TOKEN}`` had the token printed on every start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..helpers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.name != "posix", reason="POSIX process groups")]

SECRETS = {"LAB_ATTACK_PLUGIN": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
           "LAB_ATTACK_CAPABILITY": "xoxb_263594206564_FGqddMF8t08v8N7Oq4i57vs1"}


def test_serve_names_the_variable_of_a_plugin_id_never_its_value(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "sample_agent" / "agentup.yml").read_text(encoding="utf-8"))
    document["plugins"].append({"plugin_id": "${LAB_ATTACK_PLUGIN}"})
    files = next(plugin for plugin in document["plugins"] if plugin["plugin_id"] == "files")
    files["capabilities"].append({"capability_id": "${LAB_ATTACK_CAPABILITY}", "required_scopes": ["files:read"]})
    config = tmp_path / "agentup.yml"
    config.write_text(json.dumps(document))  # JSON is YAML
    env = {**os.environ, **SECRETS, "HOME": str(tmp_path)}  # the admin secret file goes to this test's home
    process = subprocess.Popen([sys.executable, "-m", "labkit", "serve", "--config", str(config)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               process_group=0)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while not any("Ctrl-C stops." in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)[-2000:]  # it exited before it was ready
            lines.append(line)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
    said = "".join(lines)
    for variable, value in SECRETS.items():
        assert value.lower() not in said.lower() and value[:12].lower() not in said.lower(), said
        assert "${" + variable + "}" in said, said
