"""A database that fails or goes away: the client gets a generic JSON-RPC error, the log gets the precise cause.

The a2a-sdk answers any exception with ``InternalError(message=str(exc))``: a SQLAlchemy error's text (driver,
SQL, table names) reached the client. The stores are wrapped once (``labkit.state.sql``): every failure of theirs is
``StorageError``, a ``StateUnavailableError``: the one answer for shared state down ("state unavailable; try again
shortly", -32603, HTTP 200 like every in-band JSON-RPC error), the cause logged.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.config import validate_security_config
from labkit.state import StateUnavailableError, StorageError, open_sql_stores
from sample_agent import create_app

from ..guard.guard_app import guard_config
from ..helpers import NOW, Keys, LifespanClient, mint

# what a database error says and a client must never read
LEAKS = ("sqlite", "sqlalchemy", "asyncpg", "postgres", "select", "insert", "no such table", "tasks.", "from tasks",
         "push_notification", "connection", "refused", "operationalerror", "[sql", "background on this error")


def _message(text: str = "hi") -> dict[str, Any]:
    return {"message": {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": text}]}}


def _calls(task_id: str) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    v1 = {"A2A-Version": "1.0"}
    return [
        ("tasks/get", {"id": task_id}, {}),
        ("GetTask", {"id": task_id}, v1),
        ("ListTasks", {}, v1),
        ("CancelTask", {"id": task_id}, v1),
        ("SendMessage", _message("again"), v1),
        ("ListTaskPushNotificationConfigs", {"taskId": task_id}, v1),
        ("tasks/pushNotificationConfig/list", {"id": task_id}, {}),
    ]


def _check_generic(answer: Any, status: int) -> None:
    assert status == 200, (status, answer)
    error = answer.get("error")
    assert error is not None and error["code"] == -32603 and error["message"] == "state unavailable; try again shortly", answer
    text = str(answer).lower()
    assert not [word for word in LEAKS if word in text], answer


class _Agent:
    def __init__(self, keys: Keys, database_url: str, sandbox: Path) -> None:
        config = {**guard_config(keys), "state": {"database_url": database_url}}
        app = create_app(validate_security_config(config), clock=lambda: NOW, sandbox=sandbox)
        self.client = LifespanClient(app, app.starlette, "http://127.0.0.1:8000")
        self.token = mint(keys.rsa, scope="admin")

    def call(self, method: str, params: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        body = {"jsonrpc": "2.0", "id": 9, "method": method, "params": params}
        response = self.client.post("/", json=body, headers={"authorization": f"Bearer {self.token}", **(headers or {})})
        return response.status_code, response.json()


@pytest.fixture
def sqlite_agent(keys: Keys, tmp_path: Path) -> Iterator[tuple[_Agent, Path]]:
    database = tmp_path / "agent.db"
    agent = _Agent(keys, f"sqlite+aiosqlite:///{database}", tmp_path)
    yield agent, database
    agent.client.close()


def test_a_broken_sqlite_database_answers_generically_and_logs_the_cause(
        sqlite_agent: tuple[_Agent, Path], caplog: pytest.LogCaptureFixture) -> None:
    agent, database = sqlite_agent
    status, sent = agent.call("SendMessage", _message(), {"A2A-Version": "1.0"})
    assert status == 200 and "result" in sent, sent
    task_id = sent["result"]["task"]["id"]
    assert "result" in agent.call("tasks/get", {"id": task_id})[1]
    with sqlite3.connect(database) as db:  # the database loses its tables under the running agent
        db.execute("DROP TABLE tasks")
        db.execute("DROP TABLE push_notification_configs")
    caplog.set_level(logging.ERROR)
    for method, params, headers in _calls(task_id):
        status, answer = agent.call(method, params, headers)
        _check_generic(answer, status)
    logged = caplog.text.lower()
    assert "storage" in logged and "no such table" in logged  # precise for the operator


def test_the_store_wrapper_keeps_the_sdks_own_errors(tmp_path: Path) -> None:
    from a2a.server.context import ServerCallContext
    from a2a.types import ListTasksRequest
    from a2a.utils.errors import InvalidParamsError

    async def scenario() -> None:
        stores = open_sql_stores(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        await stores.initialize()
        try:
            context = ServerCallContext()
            with pytest.raises(InvalidParamsError):  # the SDK's own answer to a bad page token passes unchanged
                await stores.tasks.list(ListTasksRequest(page_token="not-a-token"), context)
            with sqlite3.connect(tmp_path / "a.db") as db:
                db.execute("DROP TABLE tasks")
            with pytest.raises(StorageError) as caught:
                await stores.tasks.get("t", context)
            assert str(caught.value) == "state unavailable; try again shortly" and caught.value.__cause__ is not None
            assert isinstance(caught.value, StateUnavailableError)
        finally:
            await stores.aclose()

    asyncio.run(scenario())


@pytest.mark.integration
def test_postgresql_stopped_mid_test_answers_generically(keys: Keys, tmp_path: Path) -> None:
    from labkit.cluster.services import MissingServiceError, find_program, start_postgres

    try:
        find_program("postgres")
    except MissingServiceError as exc:
        pytest.skip(str(exc))
    folder = Path(tempfile.mkdtemp(prefix="labkit-pg-"))  # as labkit.cluster does: outside pytest's 0700 folders
    folder.chmod(0o711)  # PostgreSQL's unprivileged user passes through to its own folder
    postgres = start_postgres(folder / "postgres")
    try:
        agent = _Agent(keys, f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/postgres", tmp_path)
        try:
            status, sent = agent.call("SendMessage", _message(), {"A2A-Version": "1.0"})
            assert status == 200 and "result" in sent, sent
            task_id = sent["result"]["task"]["id"]
            assert "result" in agent.call("tasks/get", {"id": task_id})[1]
            postgres.stop()  # PostgreSQL goes away under the running agent
            for method, params, headers in _calls(task_id):
                status, answer = agent.call(method, params, headers)
                _check_generic(answer, status)
        finally:
            agent.client.close()
    finally:
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
