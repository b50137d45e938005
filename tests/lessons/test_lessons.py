from __future__ import annotations

import pytest

from labkit.errors import AuthError
from labkit.lab import Lab, LabClock, audit_table, call_table, inspect_token, mask, validator, verdict


def test_clock() -> None:
    clock = LabClock()
    assert clock() == 1_767_225_600 and clock.advance(10) == 1_767_225_610 == clock()


@pytest.mark.integration
def test_helpers_against_a_lab() -> None:
    with Lab(clock=LabClock()) as lab:
        token = lab.token(["api:read"])
        seen = inspect_token(token, lab)
        assert seen["claims"]["iss"] == "{provider}" and seen["claims"]["jti"] == "..."
        assert inspect_token(token, keep_times=True)["claims"]["iat"] == 1_767_225_600
        assert mask(f"{lab.agent_url}/mcp and {lab.webhooks.url('x')}", lab) == "{agent}/mcp and {webhooks}/hooks/x"
        table = call_table(lab, [("ok", token, "capabilities", None, "/"), ("none", None, "capabilities", None, "/")])
        assert list(table["status"]) == [200, 401] and list(table["audit reason"]) == ["", "missing_token"]
        assert list(audit_table(lab)["decision"]) == ["allow", "deny"]
        with pytest.raises(AuthError):
            inspect_token("opaque-token")


@pytest.mark.integration
def test_verdict_and_validator_on_the_lab_clock() -> None:
    clock = LabClock()
    with Lab(clock=clock) as lab:
        expired_20s_ago = lab.provider.mint(["api:read"], lifetime=-20)
        assert verdict(lab, validator(lab), expired_20s_ago) == "refused: expired"
        assert verdict(lab, validator(lab, leeway=30), expired_20s_ago) == "accepted (jwt): api:read"
        assert verdict(lab, validator(lab, jwt_audience="api://another"), lab.token()) == "refused: audience"
        opaque = lab.token(["api:read"], persona="opaque")
        introspection = {"validation_strategy": "introspection", "introspection_endpoint": f"{lab.provider_url}/introspect",
                         "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": 0}
        assert verdict(lab, validator(lab, introspection), opaque) == "accepted (introspection): api:read"
        assert lab.revoke(opaque) == 200
        assert verdict(lab, validator(lab, introspection), opaque) == "refused: inactive"
        assert verdict(lab, validator(lab, introspection, client_secret="wrong"), opaque) == "refused: introspection_error"


@pytest.mark.integration
def test_lesson_04_curl_lines_work_against_the_servers_labkit_lab_exports() -> None:
    """The shell lines lesson 04 prints run as written, with the env ``labkit lab`` gives JupyterLab's terminals."""
    import ast
    import json
    import os
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("curl") is None or shutil.which("uv") is None:
        pytest.skip("curl and uv are needed to run the lesson's shell lines")
    notebook = json.loads((Path(__file__).parents[2] / "notebooks" / "04_endpoint_protection.ipynb").read_text())
    source = next("".join(c["source"]) for c in notebook["cells"] if "$LAB_AGENT_URL" in "".join(c["source"])
                  and c["cell_type"] == "code")
    printed = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                   and getattr(n.func, "id", "") == "print")
    script = ast.literal_eval(printed.args[0])
    with Lab() as lab:
        env = {**os.environ, "LAB_PROVIDER_URL": lab.provider_url, "LAB_AGENT_URL": lab.agent_url}
        done = subprocess.run([shutil.which("bash") or "/bin/bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True,
                              text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"capability"' in done.stdout or '"capabilities"' in done.stdout or '"result"' in done.stdout
    assert '"tools"' in done.stdout and "HTTP/1.1 200" in done.stdout
