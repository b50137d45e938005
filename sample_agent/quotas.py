"""Per-principal caps on the state a client can create: A2A tasks and push configurations.

Every piece of per-client server state is capped per principal (the owner key, which holds the tenant),
so one token cannot fill the agent for everyone else. A refused creation is a JSON-RPC error with a
clear message, never a 5xx. The counts live in a ``labkit.state.Quota``: in this process by default, in
Redis when the agent runs as replicas (each check-and-take is one atomic step there too).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.owner_resolver import resolve_user_scope
from a2a.server.tasks import PushNotificationConfigStore, TaskStore
from a2a.types import Task, TaskPushNotificationConfig
from a2a.utils.errors import InternalError, InvalidRequestError

from labkit.auth.cache import TTLCache
from labkit.state import MemoryQuota, Quota, StateUnavailableError

__all__ = ["MAX_PUSH_CONFIGS", "MAX_TASKS", "CappedPushConfigStore", "CountingTaskStore"]

MAX_TASKS = 1000
MAX_PUSH_CONFIGS = 100
_UNCAPPED = sys.maxsize  # a task the SDK stores was admitted by ``reserve`` already


class CountingTaskStore(TaskStore):
    """A task store that counts each owner's tasks; ``reserve(owner)`` refuses a new one at the cap.

    The check happens before the SDK creates a task (``app.Handlers.rpc``): refusing inside ``save`` would leave
    the SDK's event pipeline half-run. ``reserve`` checks and takes a slot in one step, so concurrent
    requests (on any replica) cannot all pass the check; the slot is released when the request has answered.
    """

    def __init__(self, inner: TaskStore, cap: int = MAX_TASKS, quota: Quota | None = None) -> None:
        self.inner = inner
        self.cap = cap
        self.quota: Quota = quota if quota is not None else MemoryQuota()
        # tasks this process has counted already: the SDK saves a task 4 times per message/send, one claim is enough
        self._counted: TTLCache[bool] = TTLCache(10_000, time.monotonic)

    async def reserve(self, owner: str) -> str | None:
        """A slot for a request that may create a task; None when ``owner`` is at the cap."""
        return await self.quota.reserve("tasks", owner, self.cap)

    async def release(self, owner: str, slot: str) -> None:
        """Give back the slot ``reserve`` took (the task, if any, is counted as owned by now)."""
        await self.quota.release("tasks", owner, slot)

    async def save(self, task: Task, context: ServerCallContext) -> None:
        await self.inner.save(task, context)
        member = (resolve_user_scope(context), task.id)
        if self._counted.get(member) is None:
            await self.quota.claim("tasks", member[0], task.id, _UNCAPPED)
            self._counted.put(member, True, time.monotonic() + 3600)

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        return await self.inner.get(task_id, context)

    async def list(self, params: Any, context: ServerCallContext) -> Any:
        return await self.inner.list(params, context)

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        await self.inner.delete(task_id, context)
        self._counted.discard((resolve_user_scope(context), task_id))
        await self.quota.discard("tasks", resolve_user_scope(context), task_id)


class CappedPushConfigStore(PushNotificationConfigStore):
    """A push-config store that refuses an owner's config beyond ``cap`` (JSON-RPC invalid request)."""

    def __init__(self, inner: PushNotificationConfigStore, cap: int = MAX_PUSH_CONFIGS,
                 quota: Quota | None = None) -> None:
        self.inner = inner
        self.cap = cap
        self.quota: Quota = quota if quota is not None else MemoryQuota()
        # tasks this process has counted already: the SDK saves a task 4 times per message/send, one claim is enough
        self._counted: TTLCache[bool] = TTLCache(10_000, time.monotonic)

    async def set_info(
        self, task_id: str, notification_config: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig | None:
        owner = resolve_user_scope(context)
        wanted = _member(task_id, notification_config.id or task_id)
        # check and take the slot in one step (one Lua script on Redis): concurrent requests cannot all pass
        try:
            taken = await self.quota.claim("push", owner, wanted, self.cap)
        except StateUnavailableError:  # Redis down: say so, never "quota reached"
            raise InternalError(message=StateUnavailableError.MESSAGE) from None
        if not taken:
            raise InvalidRequestError(message=f"push configuration quota reached ({self.cap} per principal)")
        try:
            stored = await self.inner.set_info(task_id, notification_config, context)
        except BaseException:
            await self.quota.discard("push", owner, wanted)
            raise
        if stored is None:  # the store names nothing it kept: the slot stays on the id that was asked for
            return None
        stored_key = _member(task_id, stored.id or task_id)
        if stored_key != wanted:
            await self.quota.discard("push", owner, wanted)
            await self.quota.claim("push", owner, stored_key, _UNCAPPED)
        return stored

    async def get_info(self, task_id: str, context: ServerCallContext) -> list[TaskPushNotificationConfig]:
        return await self.inner.get_info(task_id, context)

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        return await self.inner.get_info_for_dispatch(task_id)

    async def delete_info(self, task_id: str, context: ServerCallContext, config_id: str | None = None) -> None:
        owner = resolve_user_scope(context)
        if config_id is None:  # every config of this owner's task: the store lists them before they go
            gone = [c.id or task_id for c in await self.inner.get_info(task_id, context)]
        else:
            gone = [config_id]
        await self.inner.delete_info(task_id, context, config_id)
        for config in gone:
            await self.quota.discard("push", owner, _member(task_id, config))


def _member(task_id: str, config_id: str) -> str:
    return f"{len(task_id)}:{task_id}{config_id}"  # length-prefixed: no two (task, config) pairs collide
