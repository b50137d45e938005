"""A2A v1.0 §9.5: a parameter the agent cannot honour is -32602 with a message naming it, never silently dropped.

The a2a-sdk parses params with ``ignore_unknown_fields=True``, which also turns an unknown enum value into 0: a
``ListTasks`` ``status`` of ``"INVALID_STATUS"`` listed every task instead of refusing. Unknown fields stay ignored
(forward compatibility); unknown enum values, a part with no content and params that are not an object are refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a.types import TaskState
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.config import validate_security_config
from sample_agent import create_app

from ..guard.guard_app import guard_config
from ..helpers import NOW, Keys, LifespanClient, examples, mint


class Agent:
    """The guarded sample agent in process, its lifespan running; ``call`` posts one JSON-RPC call."""

    def __init__(self, keys: Keys, sandbox: Path) -> None:
        app = create_app(validate_security_config(guard_config(keys)), clock=lambda: NOW, sandbox=sandbox)
        self.client = LifespanClient(app, app.starlette, "http://127.0.0.1:8000")
        self.headers = {"authorization": f"Bearer {mint(keys.rsa, scope='admin')}", "A2A-Version": "1.0"}

    def call(self, method: str, params: Any) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": "p-1", "method": method, "params": params}
        v03 = "/" in method  # the v0.3 names go without the v1.0 version header
        headers = {"authorization": self.headers["authorization"]} if v03 else self.headers
        response = self.client.post("/", json=body, headers=headers)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        assert answer["id"] == "p-1"
        return answer

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def agent(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    running = Agent(keys, tmp_path_factory.mktemp("sandbox"))
    yield running
    running.close()


def message(**fields: Any) -> dict[str, Any]:
    return {"message": {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": "hi"}], **fields}}


REFUSED = [
    ("ListTasks", {"status": "INVALID_STATUS"}, "status"),
    ("ListTasks", {"status": "working"}, "status"),
    ("ListTasks", {"status": 99}, "status"),
    ("ListTasks", {"status": True}, "status"),
    ("ListTasks", {"status": ["TASK_STATE_WORKING"]}, "status"),
    ("ListTasks", [], "object"),
    ("ListTasks", {"pageSize": 0}, "page size"),
    ("ListTasks", {"pageSize": 101}, "page size"),
    ("ListTasks", {"historyLength": -1}, "history length"),
    ("ListTasks", {"contextId": 5}, ""),
    ("GetTask", {"id": "x", "historyLength": -2}, "history length"),
    ("SendMessage", message(role="ROLE_BOGUS"), "role"),
    ("SendMessage", message(role="user"), "role"),
    ("SendMessage", message(parts=[{"bogus": 1}]), "part"),
    ("SendMessage", message(parts=[{}]), "part"),
    ("SendMessage", message(parts=[{"text": "a"}, {"kind": "file"}]), "parts[1]"),
    ("SendMessage", {**message(), "configuration": {"historyLength": -1}}, "history length"),
    ("CreateTaskPushNotificationConfig", {"taskId": "t", "url": 5}, ""),
    # the v0.3 names: the SDK's strict v0.3 models, answered -32602 (the SDK says -32600 Invalid Request)
    ("message/send", {"message": {"role": "bogus", "messageId": "m", "parts": [{"kind": "text", "text": "a"}],
                                  "kind": "message"}}, "role"),
    ("message/send", {"message": {"role": "user", "messageId": "m", "parts": [{"kind": "bogus"}],
                                  "kind": "message"}}, "parts"),
    ("tasks/get", {"id": 5}, "id"),
    ("tasks/get", {"id": "x", "historyLength": "many"}, "historyLength"),
    ("tasks/get", {"id": "x", "historyLength": -1}, "history length"),
    ("tasks/get", [], "object"),
    ("tasks/pushNotificationConfig/set", {"taskId": "x", "pushNotificationConfig": {"url": 5}}, "url"),
]


@pytest.mark.parametrize(("method", "params", "words"), REFUSED, ids=[f"{m}-{p}" for m, p, _ in REFUSED])
def test_an_invalid_parameter_is_32602_naming_it(agent: Agent, method: str, params: Any, words: str) -> None:
    error = agent.call(method, params).get("error")
    assert error is not None and error["code"] == -32602, error
    assert words.lower() in (error["message"] + str(error.get("data", ""))).lower(), error


ACCEPTED = [
    ("ListTasks", {}),
    ("ListTasks", {"status": "TASK_STATE_COMPLETED"}),
    ("ListTasks", {"status": 3}),
    ("ListTasks", {"pageSize": "5"}),  # ProtoJSON: an integer may be a string
    ("ListTasks", {"someFutureField": 1}),  # unknown fields stay ignored (forward compatibility)
    ("SendMessage", message()),
    ("SendMessage", message(parts=[{"data": {"a": 1}}, {"text": "b", "mediaType": "text/plain"}])),
    ("message/send", {"message": {"role": "user", "messageId": "m2", "parts": [{"kind": "text", "text": "a"}],
                                  "kind": "message"}}),
]


@pytest.mark.parametrize(("method", "params"), ACCEPTED, ids=[f"{m}-{p}" for m, p in ACCEPTED])
def test_valid_parameters_still_pass(agent: Agent, method: str, params: Any) -> None:
    answer = agent.call(method, params)
    assert "result" in answer, answer


@settings(max_examples=examples(60), deadline=None)
@given(status=st.text(max_size=24) | st.integers(-5, 20))
def test_a_status_filter_is_a_task_state_or_refused(agent: Agent, status: str | int) -> None:
    known = status in TaskState.keys() if isinstance(status, str) else status in TaskState.values()
    answer = agent.call("ListTasks", {"status": status})
    assert ("result" in answer) is known, answer
    if not known:
        assert answer["error"]["code"] == -32602 and "status" in answer["error"]["message"]
