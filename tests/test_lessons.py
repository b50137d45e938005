from __future__ import annotations

import asyncio

import pytest

from labkit.errors import AuthError
from labkit.lab import Lab
from labkit.lessons import LabClock, audit_table, call_table, inspect_token, mask, run


def test_clock_and_run() -> None:
    clock = LabClock()
    assert clock() == 1_767_225_600 and clock.advance(10) == 1_767_225_610 == clock()

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert run(answer()) == 42 and run(answer()) == 42  # one shared background loop


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
