"""JSON-RPC 2.0 §4.2: ``params``, when present, is an object or an array; an explicit ``"params": null`` is refused
-32602 by the agent's own check with a message naming it, never the SDK's internals.

Before: a v1.0 method answered ``'NoneType' object is not iterable`` (Python's words, from the SDK's parser), a
v0.3 method -32600 with pydantic's dump (``input_value=None``, an errors.pydantic.dev URL) in ``data``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import Keys
from .test_params import Agent

METHODS = ["ListTasks", "GetTask", "SendMessage", "CancelTask", "tasks/get", "message/send", "tasks/cancel"]


@pytest.fixture(scope="module")
def agent(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    running = Agent(keys, tmp_path_factory.mktemp("sandbox"))
    yield running
    running.close()


@pytest.mark.parametrize("method", METHODS)
def test_explicit_null_params_are_32602_in_the_agents_words(agent: Agent, method: str) -> None:
    error = agent.call(method, None).get("error")
    assert error is not None and error["code"] == -32602, error
    said = (error["message"] + str(error.get("data", ""))).lower()
    assert "params" in said and "nonetype" not in said and "pydantic" not in said and "input_value" not in said


def test_absent_params_stay_accepted(agent: Agent) -> None:
    body = {"jsonrpc": "2.0", "id": "p-1", "method": "ListTasks"}
    answer = agent.client.post("/", json=body, headers=agent.headers).json()
    assert "result" in answer, answer


def test_the_message_names_where(tmp_path: Path) -> None:
    from sample_agent.params import invalid_params

    assert invalid_params("ListTasks", None, present=True) is not None
    assert invalid_params("ListTasks", None, present=False) is None
    assert invalid_params("capabilities", None, present=True) is None  # the seed's own methods: their parsers
