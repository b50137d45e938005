"""Per-principal caps on the state a client can create: A2A tasks and push configurations.

Every piece of per-client server state is capped per principal (the owner key, which holds the tenant),
so one token cannot fill the agent for everyone else. A refused creation is a JSON-RPC error with a
clear message, never a 5xx.
"""

from __future__ import annotations

import threading
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.owner_resolver import resolve_user_scope
from a2a.server.tasks import PushNotificationConfigStore, TaskStore
from a2a.types import Task, TaskPushNotificationConfig
from a2a.utils.errors import InvalidRequestError

__all__ = ["MAX_PUSH_CONFIGS", "MAX_TASKS", "CappedPushConfigStore", "CountingTaskStore"]

MAX_TASKS = 1000
MAX_PUSH_CONFIGS = 100


class CountingTaskStore(TaskStore):
    """A task store that counts each owner's tasks; ``full(owner)`` says when a new task must be refused.

    The check happens before the SDK creates a task (``Agent.rpc``): refusing inside ``save`` would leave
    the SDK's event pipeline half-run. ``reserve`` checks and takes a slot in one step (no await between),
    so concurrent requests cannot all pass the check; the slot is released when the request has answered.
    """

    def __init__(self, inner: TaskStore, cap: int = MAX_TASKS) -> None:
        self.inner = inner
        self.cap = cap
        self._owned: dict[str, set[str]] = {}
        self._pending: dict[str, int] = {}  # requests that may create a task and have not answered yet
        self._lock = threading.Lock()

    def full(self, owner: str) -> bool:
        """True when ``owner`` holds ``cap`` tasks (counting requests still creating one)."""
        with self._lock:
            return len(self._owned.get(owner, ())) + self._pending.get(owner, 0) >= self.cap

    def reserve(self, owner: str) -> bool:
        """Take a slot for a request that may create a task; False when ``owner`` is at the cap."""
        with self._lock:
            if len(self._owned.get(owner, ())) + self._pending.get(owner, 0) >= self.cap:
                return False
            self._pending[owner] = self._pending.get(owner, 0) + 1
            return True

    def release(self, owner: str) -> None:
        """Give back the slot ``reserve`` took (the task, if any, is counted as owned by now)."""
        with self._lock:
            left = self._pending.get(owner, 0) - 1
            if left > 0:
                self._pending[owner] = left
            else:
                self._pending.pop(owner, None)

    async def save(self, task: Task, context: ServerCallContext) -> None:
        await self.inner.save(task, context)
        with self._lock:
            self._owned.setdefault(resolve_user_scope(context), set()).add(task.id)

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        return await self.inner.get(task_id, context)

    async def list(self, params: Any, context: ServerCallContext) -> Any:
        return await self.inner.list(params, context)

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        await self.inner.delete(task_id, context)
        with self._lock:
            self._owned.get(resolve_user_scope(context), set()).discard(task_id)


class CappedPushConfigStore(PushNotificationConfigStore):
    """A push-config store that refuses an owner's config beyond ``cap`` (JSON-RPC invalid request)."""

    def __init__(self, inner: PushNotificationConfigStore, cap: int = MAX_PUSH_CONFIGS) -> None:
        self.inner = inner
        self.cap = cap
        self._owned: dict[str, set[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    async def set_info(
        self, task_id: str, notification_config: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        owner = resolve_user_scope(context)
        wanted = (task_id, notification_config.id or task_id)
        with self._lock:  # check and take the slot in one step: concurrent requests cannot all pass
            owned = self._owned.setdefault(owner, set())
            fresh = wanted not in owned
            if fresh and len(owned) >= self.cap:
                raise InvalidRequestError(message=f"push configuration quota reached ({self.cap} per principal)")
            owned.add(wanted)
        try:
            stored = await self.inner.set_info(task_id, notification_config, context)
        except BaseException:
            if fresh:
                with self._lock:
                    self._owned.get(owner, set()).discard(wanted)
            raise
        stored_key = (task_id, stored.id or task_id)
        if fresh and stored_key != wanted:
            with self._lock:
                owned.discard(wanted)
                owned.add(stored_key)
        return stored

    async def get_info(self, task_id: str, context: ServerCallContext) -> list[TaskPushNotificationConfig]:
        return await self.inner.get_info(task_id, context)

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        return await self.inner.get_info_for_dispatch(task_id)

    async def delete_info(self, task_id: str, context: ServerCallContext, config_id: str | None = None) -> None:
        await self.inner.delete_info(task_id, context, config_id)
        with self._lock:
            owned = self._owned.get(resolve_user_scope(context), set())
            for key in [k for k in owned if k[0] == task_id and (config_id is None or k[1] == config_id)]:
                owned.discard(key)
