"""Drive a class through the hub, as a script would (the tests, ``benchmarks/classroom.py``): learners' servers
started through the hub's REST API, cells run in a learner's kernel through the single-user server's kernels API and
its websocket (the Jupyter messaging protocol, as JupyterLab does), a lesson's cells up to its challenge.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from ..lab.notebooks import solution_key, solution_source
from ..lab.workspace import shipped_lessons

__all__ = ["CellResult", "RemoteKernel", "lesson_cells", "start_server", "stop_server"]


@dataclass
class CellResult:
    """What one cell printed (stdout, stderr, display text) and whether it raised."""

    status: str = "ok"
    stdout: str = ""
    stderr: str = ""
    shown: list[str] = field(default_factory=list)
    error: str | None = None


class RemoteKernel:
    """A new kernel in ``user``'s server at ``hub_url``, driven with ``token`` (one with ``access:servers``).

    ``await start()``, then ``await run(code)`` per cell, and ``await shutdown()``. Raises ``httpx.HTTPStatusError``
    when the server refuses, ``TimeoutError`` when a cell does not finish in time.
    """

    def __init__(self, hub_url: str, user: str, token: str) -> None:
        self.base = f"{hub_url.rstrip('/')}/user/{user}/api/kernels"
        self.headers = {"Authorization": f"token {token}"}
        self.session = uuid.uuid4().hex
        self.kernel_id: str | None = None
        self.ws: WebSocketClientConnection | None = None

    async def start(self, timeout: float = 60) -> RemoteKernel:
        """Start the kernel and open its channels."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            answer = await client.post(self.base, json={"name": "python3"}, headers=self.headers)
            answer.raise_for_status()
            self.kernel_id = answer.json()["id"]
        url = f"{self.base.replace('http', 'ws', 1)}/{self.kernel_id}/channels?session_id={self.session}"
        self.ws = await websocket_connect(HTTPRequest(url, headers=self.headers, request_timeout=timeout))
        return self

    async def run(self, code: str, timeout: float = 120) -> CellResult:
        """Execute ``code`` and collect its output until the kernel is idle again."""
        assert self.ws is not None, "start() first"  # noqa: S101 - a usage error
        msg_id = uuid.uuid4().hex
        self.ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "classroom",
                       "session": self.session, "date": datetime.now(UTC).isoformat(), "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        result, replied, idle = CellResult(), False, False
        async with asyncio.timeout(timeout):
            while not (replied and idle):
                raw = await self.ws.read_message()
                if raw is None:
                    raise ConnectionError("the kernel's channels closed")
                message: dict[str, Any] = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["header"]["msg_type"], message.get("content", {})
                if kind == "stream":
                    setattr(result, content["name"], getattr(result, content["name"]) + content["text"])
                elif kind in ("execute_result", "display_data"):
                    result.shown.append(content.get("data", {}).get("text/plain", ""))
                elif kind == "error":
                    result.error = f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "execute_reply":
                    replied, result.status = True, content.get("status", "ok")
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
        return result

    async def shutdown(self) -> None:
        """Close the channels and stop the kernel."""
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.kernel_id is not None:
            async with httpx.AsyncClient(timeout=30) as client:
                await client.delete(f"{self.base}/{self.kernel_id}", headers=self.headers)
            self.kernel_id = None


def lesson_cells(lesson: str) -> list[str]:
    """Lesson ``lesson``'s code cells as shipped, up to its challenge's your-turn cell, which is replaced by the
    reference solution (that ends with its check). Raises ``FileNotFoundError`` for an unknown lesson."""
    folder = shipped_lessons()
    found = sorted(folder.glob(f"{lesson}_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no lesson {lesson} in {folder}")
    cells: list[str] = []
    for cell in json.loads(found[0].read_text(encoding="utf-8"))["cells"]:
        if cell.get("cell_type") != "code":
            continue
        key = solution_key(cell)
        if key is not None:
            cells.append(solution_source(folder, key))
            return cells
        source = cell.get("source", "")
        cells.append(source if isinstance(source, str) else "".join(source))
    return cells


async def start_server(client: httpx.AsyncClient, name: str, timeout: float = 180) -> float:
    """Create learner ``name`` (if new) and start their server through the REST API of ``client`` (based on the
    hub's URL, with an admin token); the seconds until the hub says it is ready. Raises ``TimeoutError``,
    ``httpx.HTTPStatusError``."""
    started = time.monotonic()
    created = await client.post(f"/hub/api/users/{name}")
    if created.status_code not in (201, 409):
        created.raise_for_status()
    spawn = await client.post(f"/hub/api/users/{name}/server")
    if spawn.status_code not in (201, 202, 400):  # 400: already running
        spawn.raise_for_status()
    async with asyncio.timeout(timeout):
        while True:
            model = (await client.get(f"/hub/api/users/{name}")).json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return time.monotonic() - started
            await asyncio.sleep(0.25)


async def stop_server(client: httpx.AsyncClient, name: str) -> None:
    """Stop learner ``name``'s server (and wait for the hub to say it stopped)."""
    answer = await client.delete(f"/hub/api/users/{name}/server")
    if answer.status_code == 202:
        for _ in range(240):
            if not (await client.get(f"/hub/api/users/{name}")).json().get("servers"):
                return
            await asyncio.sleep(0.25)
