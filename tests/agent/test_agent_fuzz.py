"""No 5xx for any header, token or JSON-RPC body (hypothesis over real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.lab import Lab

from ..helpers import examples

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        running.valid = running.token(["admin"])  # type: ignore[attr-defined]
        yield running


_METHODS = st.sampled_from([
    "capabilities", "execute", "message/send", "tasks/get", "tasks/cancel", "SendMessage", "GetTask",
    "tasks/pushNotificationConfig/set", "GetExtendedAgentCard", "initialize", "tools/list", "tools/call", "ping",
    "nope",
])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_PARAMS = st.one_of(
    _JSON,
    st.fixed_dictionaries({"capability": st.sampled_from(["echo", "write_file", "read_file", "x", ""]),
                           "arguments": _JSON}),
    st.fixed_dictionaries({"name": st.sampled_from(["echo", "read_file", "write_file", "bad"]), "arguments": _JSON}),
    st.fixed_dictionaries({"message": _JSON}),
    st.fixed_dictionaries({"id": st.text(max_size=10)}),
)


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/", "/mcp", "/t/acme/", "/t/nope/mcp", "/mcp/"]),
    auth=st.one_of(st.none(), st.just("valid"), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                                         max_size=60).map(lambda s: ("Bearer " + s).strip())),
    method=_METHODS,
    params=_PARAMS,
    raw=st.one_of(st.none(), st.binary(max_size=80)),
    version=st.sampled_from([None, "1.0", "0.3", "9"]),
)
def test_agent_never_answers_5xx(lab: Lab, path: str, auth: str | None, method: str, params: Any,
                                 raw: bytes | None, version: str | None) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if auth == "valid":
        headers["Authorization"] = f"Bearer {lab.valid}"  # type: ignore[attr-defined]
    elif auth is not None:
        headers["Authorization"] = auth
    if version:
        headers["A2A-Version"] = version
    body = raw if raw is not None else json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    response = httpx.post(lab.agent_url + path, content=body, headers=headers, timeout=10)
    assert response.status_code < 500, (path, method, params, response.text[:300])
