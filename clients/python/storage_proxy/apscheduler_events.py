"""APScheduler's events between schedulers that share a ``ProxyDataStore``: the
proxy's live events of the store's tasks, read back as APScheduler's. See
``storage_proxy.apscheduler``."""

from typing import Any, Dict, Optional

import anyio
import attrs
from apscheduler import JobAdded, JobReleased, ScheduleAdded, ScheduleRemoved, ScheduleUpdated
from apscheduler.eventbrokers.base import BaseEventBroker

from .apscheduler_records import LIVE, job_id_of
from .client import StorageProxyClient
from .wire import parse_time


@attrs.define(eq=False, repr=False)
class ProxyEventBroker(BaseEventBroker):
    """APScheduler's ``EventBroker`` for schedulers that share a ``ProxyDataStore`` (same address or
    database, same ``namespace``): what the store writes reaches every one of them as the proxy's
    live events (``subscribe``; through every proxy on one PostgreSQL), read back as APScheduler's
    ``JobAdded``, ``JobReleased``, ``ScheduleAdded``, ``ScheduleUpdated`` and ``ScheduleRemoved``.
    So a job added in one process wakes the workers of the others, and ``run_job`` in one returns
    when another ran it. Those five come only that way, once each, to this process's listeners
    too; every other event stays in its process (as with APScheduler's local broker)::

        AsyncScheduler(ProxyDataStore(address), ProxyEventBroker(address))
    """

    address: str = "unix://storage/proxy.sock"
    token: Optional[str] = attrs.field(default=None, kw_only=True)
    namespace: str = attrs.field(default="apscheduler", kw_only=True)

    def __repr__(self) -> str:
        return f"ProxyEventBroker(address={self.address!r}, namespace={self.namespace!r})"

    async def start(self, exit_stack: Any, logger: Any) -> None:
        await super().start(exit_stack, logger)
        client = StorageProxyClient(self.address, token=self.token)
        exit_stack.push_async_callback(client.close)
        # The namespace's agents (a limited task's jobs queue under an agent of their own), without the
        # claims and renewals: every worker would read two events a job instead of one, for nothing.
        subscription = await client.subscribe(["tasks"], agent_prefix=f"{self.namespace}:", leases=False, raw=True).start()
        # Stopping cancels the relay (before the broker's task group waits for its tasks).
        relay = anyio.CancelScope()
        exit_stack.callback(relay.cancel)
        self._task_group.start_soon(self._relay, subscription, relay)

    async def publish(self, event: Any) -> None:
        if not isinstance(event, ECHOED):
            await self.publish_local(event)

    async def _relay(self, subscription: Any, scope: Any) -> None:
        with scope:
            async for change in subscription:
                try:
                    event = _event_of(change, self.namespace)
                except Exception:
                    self._logger.exception("could not read a scheduler event from the proxy: %r", change)
                    continue
                if event is not None:
                    await self.publish_local(event)


# What ProxyDataStore's writes tell every scheduler through the proxy (ProxyEventBroker.publish skips them).
ECHOED = (JobAdded, JobReleased, ScheduleAdded, ScheduleUpdated, ScheduleRemoved)


def _event_of(change: Dict[str, Any], namespace: str) -> Any:
    """The APScheduler event a change of the store's proxy tasks stands for, if any (the change as the
    wire has it: its times are strings)."""
    if change.get("op") == "lagged":
        return None  # missed changes: the schedulers' own timers and lease loops go on regardless
    task, op = change.get("task") or {}, change.get("op")
    agent = task.get("agent_name") or ""
    if agent != f"{namespace}:schedules" and agent != f"{namespace}:jobs" and not agent.startswith(f"{namespace}:jobs:"):
        return None
    if task.get("schedule_value") == "job":
        if op == "created":
            return JobAdded(job_id=job_id_of(task), task_id=task["aps_task_id"],
                            schedule_id=task.get("aps_schedule_id"))
        released = task.get("last_result")
        if op == "updated" and task["status"] not in LIVE and isinstance(released, dict) and "aps_released" in released:
            return JobReleased.unmarshal(released["aps_released"])
        return None
    if task.get("schedule_value") == "schedule":
        schedule_id = task["id"][len(f"{namespace}:s:"):]
        if op == "created":
            return ScheduleAdded(schedule_id=schedule_id, task_id=task["task_prompt"], next_fire_time=parse_time(task["next_run"]))
        if op == "updated" and task["status"] != "running":  # not an acquisition or a lease's renewal
            return ScheduleUpdated(schedule_id=schedule_id, task_id=task["task_prompt"], next_fire_time=parse_time(task["next_run"]))
        if op == "deleted":
            return ScheduleRemoved(schedule_id=schedule_id, task_id=task["task_prompt"],
                                   finished=task["next_run"] is None)
    return None
