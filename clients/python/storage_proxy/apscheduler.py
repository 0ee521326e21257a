"""APScheduler 4 on the storage proxy (``pip install "storage-proxy[apscheduler]"``):
``ProxyDataStore``, its ``DataStore``, so every scheduler of every process
shares schedules and jobs through the proxy, with the proxy's claims and
leases doing what APScheduler calls acquiring::

    async with AsyncScheduler(ProxyDataStore("unix:///app/storage/proxy.sock")) as scheduler:
        await scheduler.add_schedule(tick, IntervalTrigger(seconds=5), id="tick")
        await scheduler.run_until_stopped()

How it is kept (protocol/PROTOCOL.md; everything under ``namespace``):

- a schedule is a proxy task of the agent ``<ns>:schedules``, due at its next
  fire time (paused: disabled); acquiring is ``claim_due_tasks``, releasing is
  ``complete_task`` with the next fire time and the trigger's new state;
- a job is a proxy task of its task's queue, an agent of its own, due when added
  (first in, first out); released, it is completed with its outcome as its status
  (what ``ProxyEventBroker`` tells the other schedulers) and deleted by ``cleanup()``.
  A task without ``max_running_jobs`` queues under ``<ns>:jobs:open:…``, all such
  queues claimed at once (``agent_prefix``); one with it under ``<ns>:jobs:limited:…``,
  claimed with that ``max_running``: the proxy counts the queue's running jobs in
  the claim, so the limit holds across schedulers. A task's running jobs are its
  queue's, counted by the proxy (``count_tasks``);
- task definitions and job results are metadata (``<ns>:task:…``, ``<ns>:result:…``).

Every due time and lease is decided by this process's clock (``now`` on each
call), as APScheduler's own stores do. Values are marshalled by APScheduler
(its ``serializer`` for arguments, triggers and results) and kept as JSON.
"""

import hashlib
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple
from uuid import UUID, uuid4

import attrs
from apscheduler import (ConflictingIdError, ConflictPolicy, DeserializationError, Job, JobAcquired, JobAdded,
                         JobOutcome, JobReleased, JobResult, Schedule, ScheduleAdded, ScheduleRemoved,
                         ScheduleUpdated, Task, TaskAdded, TaskLookupError, TaskRemoved, TaskUpdated)
from apscheduler._structures import ScheduleResult
from apscheduler.datastores.base import BaseExternalDataStore

from .apscheduler_events import ProxyEventBroker
from .apscheduler_records import LIVE, event_to_json, from_json, job_id_of, to_json
from .client import StorageProxyClient
from .errors import Conflict, NotFound

__all__ = ["ProxyDataStore", "ProxyEventBroker"]

# Tasks per list_tasks page, and jobs per claim (the proxy's bounds).
PAGE = 1000
CLAIM_LIMIT = 1000
TASK_CACHE_SECONDS = 1.0


@attrs.define(eq=False, repr=False)
class ProxyDataStore(BaseExternalDataStore):
    """APScheduler's ``DataStore`` over the proxy at ``address`` (``unix://…``, ``tcp://…``,
    ``tls://…``; ``token`` where it asks for one). ``namespace`` keeps one group of
    schedulers' data apart from another's on the same proxy; ``start_from_scratch=True``
    erases that namespace's data at start (test suites)."""

    address: str = "unix://storage/proxy.sock"
    token: Optional[str] = attrs.field(default=None, kw_only=True)
    namespace: str = attrs.field(default="apscheduler", kw_only=True)
    _client: Optional[StorageProxyClient] = attrs.field(default=None, init=False)
    # Task definitions read in the last TASK_CACHE_SECONDS (id → (read at, task)): a job's acquiring,
    # running and releasing each need its task's, and tasks change rarely (configure_task at start).
    _task_cache: Dict[str, Any] = attrs.field(factory=dict, init=False)
    # The task ids, as read last (read at, ids): the limited tasks' queues are looked at on every acquire.
    _task_ids: Optional[Tuple[float, List[str]]] = attrs.field(default=None, init=False)

    def __repr__(self) -> str:
        return f"ProxyDataStore(address={self.address!r}, namespace={self.namespace!r})"

    async def start(self, exit_stack: Any, event_broker: Any, logger: Any) -> None:
        await super().start(exit_stack, event_broker, logger)
        client = StorageProxyClient(self.address, token=self.token)
        exit_stack.push_async_callback(client.close)
        await client.initialize()
        self._client = client
        if self.start_from_scratch:
            await self._erase()

    # -- names in the proxy

    @property
    def _proxy(self) -> StorageProxyClient:
        if self._client is None:
            raise RuntimeError("ProxyDataStore is not started (the scheduler starts it)")
        return self._client

    def _agent(self, kind: str) -> str:
        return f"{self.namespace}:{kind}"

    def _jobs_agent(self, task_id: str, task: Optional[Task]) -> str:
        """The task's queue: a limited one (claimed within its limit) or an open one."""
        if task is not None and task.max_running_jobs is not None:
            return self._limited_queue(task_id)
        return self._open_queue(task_id)

    # Bounded, whatever the task's id (a function's dotted name can be long).
    def _open_queue(self, task_id: str) -> str:
        return f"{self._open_queues}{_digest(task_id)}"

    @property
    def _open_queues(self) -> str:
        return f"{self.namespace}:jobs:open:"

    def _limited_queue(self, task_id: str) -> str:
        return f"{self.namespace}:jobs:limited:{_digest(task_id)}"

    async def _limited_tasks(self) -> List[Task]:
        return [t for t in await self._task_definitions() if t.max_running_jobs is not None]

    async def _jobs_agents(self) -> List[str]:
        """Every known task's two queues (a job queued open before its task had a limit stays there until claimed)."""
        return [q for t in await self._task_definitions() for q in (self._open_queue(t.id), self._limited_queue(t.id))]

    async def _all_jobs(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        found = []
        for agent in await self._jobs_agents():
            found += await self._all(agent, status)
        return found

    def _schedule_key(self, schedule_id: str) -> str:
        return f"{self.namespace}:s:{schedule_id}"

    def _job_key(self, job_id: UUID) -> str:
        return f"{self.namespace}:j:{job_id}"

    async def _all(self, agent: str, status: Optional[str] = None) -> List[Dict[str, Any]]:
        found, offset = [], 0
        while True:
            page = await self._proxy.list_tasks(agent_name=agent, status=status, limit=PAGE, offset=offset)
            found += page
            if len(page) < PAGE:
                return found
            offset += PAGE

    async def _erase(self) -> None:
        for agent in await self._jobs_agents() + [self._agent("schedules")]:
            for stored in await self._all(agent):
                await self._proxy.delete_task(stored["id"])
        for key in await self._metadata_keys(f"{self.namespace}:"):
            await self._proxy.delete_metadata(key)

    async def _metadata_keys(self, prefix: str) -> List[str]:
        keys, after = [], None
        while True:
            page = await self._proxy.list_metadata(prefix, after=after, limit=PAGE)
            keys += page
            if len(page) < PAGE:
                return keys
            after = page[-1]

    # -- tasks (APScheduler's: a callable and its settings)

    async def add_task(self, task: Task) -> None:
        key = f"{self.namespace}:task:{task.id}"
        existed = await self._proxy.get_metadata(key) is not None
        before = await self._task_definition(task.id) if existed else None
        await self._proxy.save_metadata(key, to_json(task.marshal(self.serializer)))
        self._task_cache.pop(task.id, None)
        self._task_ids = None
        if existed and self._jobs_agent(task.id, before) != self._jobs_agent(task.id, task):
            await self._move_jobs(self._jobs_agent(task.id, before), self._jobs_agent(task.id, task))
        await self._event_broker.publish(TaskUpdated(task_id=task.id) if existed else TaskAdded(task_id=task.id))

    async def _move_jobs(self, old: str, new: str) -> None:
        """A task's queued jobs follow it when it gains or loses its max_running_jobs."""
        for stored in await self._all(old, "pending"):
            await self._proxy.save_task({"id": stored["id"], "agent_name": new})

    async def remove_task(self, task_id: str) -> None:
        self._task_cache.pop(task_id, None)
        self._task_ids = None
        if not await self._proxy.delete_metadata(f"{self.namespace}:task:{task_id}"):
            raise TaskLookupError(task_id)
        await self._event_broker.publish(TaskRemoved(task_id=task_id))

    async def get_task(self, task_id: str) -> Task:
        task = await self._task_definition(task_id)
        if task is None:
            raise TaskLookupError(task_id)
        task.running_jobs = await self._running_jobs(task)
        return task

    async def _task_definitions(self) -> List[Task]:
        """Every task as added (each read at most once a TASK_CACHE_SECONDS, as below; the list too)."""
        if self._task_ids is None or time.monotonic() - self._task_ids[0] >= TASK_CACHE_SECONDS:
            ids = [key[len(f"{self.namespace}:task:"):] for key in await self._metadata_keys(f"{self.namespace}:task:")]
            self._task_ids = (time.monotonic(), ids)
        tasks = [await self._task_definition(task_id) for task_id in self._task_ids[1]]
        return [t for t in tasks if t is not None]

    async def _task_definition(self, task_id: str) -> Optional[Task]:
        """The task as added, without counting its running jobs; read at most once a TASK_CACHE_SECONDS
        (a task changed through another process is seen by this one that much later at most)."""
        cached = self._task_cache.get(task_id)
        if cached is not None and time.monotonic() - cached[0] < TASK_CACHE_SECONDS:
            return attrs.evolve(cached[1]) if cached[1] is not None else None
        stored = await self._proxy.get_metadata(f"{self.namespace}:task:{task_id}")
        task = None if stored is None else Task.unmarshal(self.serializer, from_json(stored))
        self._task_cache[task_id] = (time.monotonic(), task)
        return attrs.evolve(task) if task is not None else None

    async def get_tasks(self) -> List[Task]:
        keys = await self._metadata_keys(f"{self.namespace}:task:")
        tasks = [await self.get_task(key[len(f"{self.namespace}:task:"):]) for key in keys]
        return sorted(tasks, key=lambda t: t.id)

    async def _running_jobs(self, task: Task) -> int:
        return await self._proxy.count_tasks(agent_name=self._jobs_agent(task.id, task), leased_at=_now())

    # -- schedules

    async def add_schedule(self, schedule: Schedule, conflict_policy: ConflictPolicy) -> None:
        key = self._schedule_key(schedule.id)
        existed = await self._proxy.get_task(key) is not None
        if existed and conflict_policy is ConflictPolicy.do_nothing:
            return
        if existed and conflict_policy is ConflictPolicy.exception:
            raise ConflictingIdError(schedule.id)
        marshalled = schedule.marshal(self.serializer)
        marshalled.pop("acquired_by", None)
        marshalled.pop("acquired_until", None)
        await self._proxy.save_task({
            "id": key, "agent_name": self._agent("schedules"), "task_prompt": schedule.task_id,
            "schedule_type": "apscheduler", "schedule_value": "schedule", "next_run": schedule.next_fire_time,
            "enabled": not schedule.paused, "max_attempts": 0, "status": "pending",
            # A release's state (complete_task's result) counts only for the schedule it was acquired as.
            "aps": to_json(marshalled), "aps_generation": str(uuid4())})
        event = ScheduleUpdated if existed else ScheduleAdded
        await self._event_broker.publish(event(schedule_id=schedule.id, task_id=schedule.task_id,
                                               next_fire_time=schedule.next_fire_time))

    def _schedule(self, stored: Dict[str, Any]) -> Schedule:
        marshalled = from_json(stored["aps"])
        released = stored.get("last_result")
        if isinstance(released, dict) and released.get("generation") == stored.get("aps_generation"):
            marshalled.update(from_json(released["state"]))
        if stored["status"] == "running":
            marshalled["acquired_by"] = stored["lease_owner"]
            marshalled["acquired_until"] = stored["lease_until"]
        return Schedule.unmarshal(self.serializer, marshalled)

    async def get_schedules(self, ids: Optional[Set[str]] = None) -> List[Schedule]:
        if ids is not None and len(ids) <= 16:
            found = [await self._proxy.get_task(self._schedule_key(i)) for i in ids]
            stored = [s for s in found if s is not None]
        else:
            stored = await self._all(self._agent("schedules"))
        schedules = [self._schedule(s) for s in stored]
        return sorted((s for s in schedules if ids is None or s.id in ids), key=lambda s: s.id)

    async def remove_schedules(self, ids: Iterable[str], *, finished: bool = False) -> None:
        for schedule_id in ids:
            stored = await self._proxy.get_task(self._schedule_key(schedule_id))
            if stored is not None and await self._proxy.delete_task(stored["id"]):
                await self._event_broker.publish(ScheduleRemoved(schedule_id=schedule_id, task_id=stored["task_prompt"],
                                                                 finished=finished))

    async def acquire_schedules(self, scheduler_id: str, lease_duration: timedelta, limit: int) -> List[Schedule]:
        claimed = await self._proxy.claim_due_tasks(scheduler_id, limit=min(limit, CLAIM_LIMIT),
                                                    lease_seconds=lease_duration.total_seconds(),
                                                    agent_name=self._agent("schedules"), now=_now())
        return [self._schedule(s) for s in claimed]

    async def release_schedules(self, scheduler_id: str, results: Sequence[ScheduleResult]) -> None:
        for result in results:
            stored = await self._proxy.get_task(self._schedule_key(result.schedule_id))
            if stored is None:
                continue
            state = {"trigger": self.serializer.serialize(result.trigger), "last_fire_time": result.last_fire_time,
                     "next_fire_time": result.next_fire_time}
            try:
                await self._proxy.complete_task(stored["id"], scheduler_id, "released", next_run=result.next_fire_time,
                                                result={"generation": stored.get("aps_generation"), "state": to_json(state)},
                                                now=_now())
            except (Conflict, NotFound):
                continue  # its lease ended and another scheduler holds it now (or it was removed)
            await self._event_broker.publish(ScheduleUpdated(schedule_id=result.schedule_id, task_id=result.task_id,
                                                             next_fire_time=result.next_fire_time))

    async def get_next_schedule_run_time(self) -> Optional[datetime]:
        times = [s["next_run"] for s in await self._all(self._agent("schedules"))
                 if s["next_run"] is not None and s["enabled"]]
        return min(times, default=None)

    async def extend_acquired_schedule_leases(self, scheduler_id: str, schedule_ids: Set[str],
                                              duration: timedelta) -> None:
        now = _now()
        for schedule_id in schedule_ids:
            await self._renew(self._schedule_key(schedule_id), scheduler_id, duration, now)

    # -- jobs

    async def add_job(self, job: Job) -> None:
        marshalled = job.marshal(self.serializer)
        marshalled.pop("acquired_by", None)
        marshalled.pop("acquired_until", None)
        await self._proxy.save_task({
            "id": self._job_key(job.id), "agent_name": self._jobs_agent(job.task_id, await self._task_definition(job.task_id)),
            "task_prompt": job.task_id,
            "schedule_type": "apscheduler", "schedule_value": "job", "next_run": job.created_at,
            "created_at": job.created_at, "max_attempts": 0, "aps": to_json(marshalled),
            "aps_task_id": job.task_id, "aps_schedule_id": job.schedule_id})
        await self._event_broker.publish(JobAdded(job_id=job.id, task_id=job.task_id, schedule_id=job.schedule_id))

    def _job(self, stored: Dict[str, Any]) -> Job:
        marshalled = from_json(stored["aps"])
        if stored["status"] == "running":
            marshalled["acquired_by"] = stored["lease_owner"]
            marshalled["acquired_until"] = stored["lease_until"]
        return Job.unmarshal(self.serializer, marshalled)

    async def get_jobs(self, ids: Optional[Iterable[UUID]] = None) -> List[Job]:
        if ids is not None:
            found = [await self._proxy.get_task(self._job_key(i)) for i in ids]
            stored = sorted((s for s in found if s is not None), key=lambda s: (s["created_at"], s["id"]))
        else:
            stored = sorted(await self._all_jobs(), key=lambda s: (s["created_at"], s["id"]))
        return [self._job(s) for s in stored if s["status"] in LIVE]

    async def acquire_jobs(self, scheduler_id: str, lease_duration: timedelta,
                           limit: Optional[int] = None) -> List[Job]:
        now = _now()
        lease = lease_duration.total_seconds()
        wanted = min(limit or CLAIM_LIMIT, CLAIM_LIMIT)
        limited = await self._limited_tasks()
        # Every open queue at once, then each limited one within its limit.
        claimed = await self._proxy.claim_due_tasks(scheduler_id, limit=wanted, lease_seconds=lease,
                                                    agent_prefix=self._open_queues, now=now)
        tasks: Dict[str, Optional[Task]] = {t.id: t for t in limited}
        acquired = []
        for stored in claimed:
            task_id = stored["aps_task_id"]
            if task_id not in tasks:
                tasks[task_id] = await self._task_definition(task_id)
            task = tasks[task_id]
            if task is not None and task.max_running_jobs is not None:
                # Queued before its task had a limit (or by a process that had not seen it yet): back in
                # its place, in the task's limited queue, claimed below within the limit.
                await self._proxy.complete_task(stored["id"], scheduler_id, "waiting", next_run=stored["next_run"], now=now)
                await self._proxy.save_task({"id": stored["id"], "agent_name": self._limited_queue(task_id)})
                continue
            acquired += await self._acquired(stored, scheduler_id, now)
        for task in limited:
            if len(acquired) >= wanted:
                break
            # The proxy counts the task's running jobs inside the claim: at capacity it claims nothing
            # (and, on PostgreSQL, commits nothing).
            for stored in await self._proxy.claim_due_tasks(scheduler_id, limit=wanted - len(acquired), lease_seconds=lease,
                                                            agent_name=self._limited_queue(task.id), now=now,
                                                            max_running=task.max_running_jobs):
                acquired += await self._acquired(stored, scheduler_id, now)
        for job in acquired:
            await self._event_broker.publish(JobAcquired.from_job(job, scheduler_id=scheduler_id))
        return acquired

    async def _acquired(self, stored: Dict[str, Any], scheduler_id: str, now: datetime) -> List[Job]:
        """The claimed job, or none when it cannot run (then released with the outcome that says why)."""
        try:
            job = self._job(stored)
        except DeserializationError as exc:
            await self._discard(stored, scheduler_id, JobOutcome.deserialization_failed, now, exc)
            return []
        if job.start_deadline and job.start_deadline < now:
            await self._discard(stored, scheduler_id, JobOutcome.missed_start_deadline, now)
            return []
        return [job]

    async def _discard(self, stored: Dict[str, Any], scheduler_id: str, outcome: JobOutcome, now: datetime,
                       exception: Optional[BaseException] = None) -> None:
        """A claimed job that cannot run: its result recorded (where it can be), the job removed."""
        expiration = from_json(stored["aps"]).get("result_expiration_time") or timedelta(0)
        result = JobResult(job_id=job_id_of(stored), outcome=outcome, finished_at=now,
                           expires_at=now + expiration, exception=exception)
        try:
            await self._store_result(result)
        except Exception as error:  # a serializer that cannot write the exception: the job still goes
            self._logger.warning("could not record the result of job %s: %s", result.job_id, error)
        released = JobReleased.from_result(result, scheduler_id, stored["aps_task_id"], stored.get("aps_schedule_id"))
        try:
            await self._proxy.complete_task(stored["id"], scheduler_id, outcome.name, next_run=None,
                                            result={"aps_released": event_to_json(released)}, now=now)
        except (Conflict, NotFound):
            await self._proxy.delete_task(stored["id"])
        await self._event_broker.publish(released)

    async def _store_result(self, result: JobResult) -> None:
        if result.expires_at > result.finished_at:
            await self._proxy.save_metadata(f"{self.namespace}:result:{result.job_id}",
                                            to_json(result.marshal(self.serializer)))

    async def release_job(self, scheduler_id: str, job: Job, result: JobResult) -> None:
        """The job ends as one write: completed under its lease with the outcome as its status and the
        release event as its result (what ProxyEventBroker tells every other scheduler); from then on it
        is no job of get_jobs, and cleanup() deletes it. A job whose lease another holds now is deleted."""
        await self._store_result(result)
        released = JobReleased.from_result(result, scheduler_id, job.task_id, job.schedule_id, job.scheduled_fire_time)
        try:
            if not job.acquired_by:
                raise NotFound("not acquired")
            await self._proxy.complete_task(self._job_key(job.id), job.acquired_by, result.outcome.name, next_run=None,
                                            result={"aps_released": event_to_json(released)}, now=_now())
        except (Conflict, NotFound):
            await self._proxy.delete_task(self._job_key(job.id))
        await self._event_broker.publish(released)

    async def get_job_result(self, job_id: UUID) -> Optional[JobResult]:
        key = f"{self.namespace}:result:{job_id}"
        stored = await self._proxy.get_metadata(key)
        if stored is None:
            return None
        await self._proxy.delete_metadata(key)
        result = JobResult.unmarshal(self.serializer, from_json(stored))
        return result if result.expires_at > _now() else None

    async def extend_acquired_job_leases(self, scheduler_id: str, job_ids: Set[UUID], duration: timedelta) -> None:
        now = _now()
        for job_id in job_ids:
            await self._renew(self._job_key(job_id), scheduler_id, duration, now)

    async def _renew(self, key: str, holder: str, duration: timedelta, now: datetime) -> bool:
        """False when ``holder`` no longer holds it (its lease ended and another took it, or it went)."""
        try:
            await self._proxy.renew_lease(key, holder, lease_seconds=duration.total_seconds(), now=now)
            return True
        except (Conflict, NotFound):
            return False

    async def reap_abandoned_jobs(self, scheduler_id: str) -> None:
        now = _now()
        for stored in await self._all_jobs("running"):
            if stored["lease_owner"] == scheduler_id:
                job = self._job(stored)
                await self.release_job(scheduler_id, job, JobResult.from_job(job, JobOutcome.abandoned, finished_at=now))

    async def cleanup(self) -> None:
        now = _now()
        for key in await self._metadata_keys(f"{self.namespace}:result:"):
            stored = await self._proxy.get_metadata(key)
            if stored is not None and from_json(stored)["expires_at"] <= now:
                await self._proxy.delete_metadata(key)
        for stored in await self._all_jobs("running"):
            if stored["lease_until"] is not None and stored["lease_until"] < now:
                job = self._job(stored)
                await self.release_job(job.acquired_by, job, JobResult.from_job(job, JobOutcome.abandoned, finished_at=now))
        jobs = await self._all_jobs()
        for released in (j for j in jobs if j["status"] not in LIVE):
            await self._proxy.delete_task(released["id"])
        with_jobs = {j.get("aps_schedule_id") for j in jobs if j["status"] in LIVE}
        finished = [s.id for s in await self.get_schedules() if s.next_fire_time is None and s.id not in with_jobs]
        await self.remove_schedules(finished, finished=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _now() -> datetime:
    return datetime.now(timezone.utc)
