"""A webhook that never finishes answering (headers or body one byte at a time) holds no delivery for longer than
``push.timeout`` per attempt: the deliveries queued behind it for the same task and webhook still go out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from a2a.server.tasks.push_notification_config_store import PushNotificationConfigStore
from a2a.types.a2a_pb2 import TaskPushNotificationConfig, TaskState, TaskStatus, TaskStatusUpdateEvent

from labkit.a2a.push import AgentSigner, PushPolicy, SignedPushSender
from labkit.config import PushConfig

pytestmark = pytest.mark.integration

_OPENINGS = {
    "headers": b"HTTP/1.1 200 OK\r\nX-Slow: ",  # then the header's value, one byte at a time, never ending
    "body": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",  # then one-byte chunks, never ending
}
_TRICKLES = {"headers": b"a", "body": b"1\r\na\r\n"}


class _OneHook(PushNotificationConfigStore):
    """Every task has one webhook (the store is not what is tested here)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        return [TaskPushNotificationConfig(task_id=task_id, url=self.url, token="t")]

    async def set_info(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def get_info(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def delete_info(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _event(state: int) -> TaskStatusUpdateEvent:
    return TaskStatusUpdateEvent(task_id="t1", context_id="c1", status=TaskStatus(state=state))  # type: ignore[arg-type]


async def _run(mode: str) -> tuple[SignedPushSender, bool]:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(_OPENINGS[mode])
            while True:  # each byte well within the read timeout: httpx's per-read timeout never fires
                await asyncio.sleep(0.05)
                writer.write(_TRICKLES[mode])
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = PushConfig(allowed_hosts=[f"127.0.0.1:{port}"], allow_loopback=True, timeout=0.3, max_retries=1)
    sender = SignedPushSender(_OneHook(f"http://127.0.0.1:{port}/hook"), PushPolicy(config),
                              AgentSigner("http://agent"), config=config, backoff=0.01)
    try:
        await sender.send_notification("t1", _event(TaskState.TASK_STATE_WORKING))
        await sender.send_notification("t1", _event(TaskState.TASK_STATE_COMPLETED))  # queued behind the first
        for _ in range(200):  # 10 s: far beyond two deliveries of two 0.3 s attempts
            if len(sender.deliveries) == 2 and all(d.finished for d in sender.deliveries):
                break
            await asyncio.sleep(0.05)
        drained = not sender._last and not sender._tasks
    finally:
        await sender.aclose()
        server.close()
    return sender, drained


@pytest.mark.parametrize("mode", sorted(_OPENINGS))
def test_a_never_ending_answer_does_not_hold_the_webhooks_queue(mode: str) -> None:
    sender, drained = asyncio.run(_run(mode))
    assert [d.state for d in sender.deliveries] == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    assert all(d.finished for d in sender.deliveries), sender.deliveries
    assert drained  # nothing left queued, nothing left running
