"""What ProxyDataStore promises beyond APScheduler's own data store tests: several schedulers (on
two proxies, on PostgreSQL) share jobs, each acquired once, with a task's max_running_jobs held
across all of them; what it keeps is in the proxy for any client to see; and the README's
scheduler runs as written."""

import asyncio
import os
import re
import subprocess
import sys
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta

import logging
import pytest
from apscheduler import ConflictPolicy, Job, JobOutcome, JobResult, Schedule, Task
from apscheduler.eventbrokers.local import LocalEventBroker
from apscheduler.triggers.interval import IntervalTrigger

from storage_proxy import StorageProxyClient
from storage_proxy.apscheduler import ProxyDataStore

from conftest import REPO, Proxy

LOG = logging.getLogger("apscheduler")


async def started(stack: AsyncExitStack, address: str, namespace: str) -> ProxyDataStore:
    broker = LocalEventBroker()
    await broker.start(stack, LOG)
    store = ProxyDataStore(address, namespace=namespace)
    await store.start(stack, broker, LOG)
    return store


@pytest.fixture(params=["personal", "enterprise"])
def two_proxies(request):
    first = Proxy(request.param)
    second = Proxy("enterprise", same_store_as=first) if request.param == "enterprise" else first
    yield first, second
    if second is not first:
        second.stop()
    first.stop()


async def test_schedulers_share_jobs_once_within_max_running_jobs(two_proxies):
    namespace = "share-" + uuid.uuid4().hex[:8]
    async with AsyncExitStack() as stack:
        stores = [await started(stack, two_proxies[i % 2].address, namespace) for i in range(4)]
        await stores[0].add_task(Task(id="limited", func="builtins:print", job_executor="async", max_running_jobs=2))
        jobs = [Job(task_id="limited", executor="async", result_expiration_time=timedelta(minutes=1)) for _ in range(24)]
        for job in jobs:
            await stores[0].add_job(job)
        running, most, ran = set(), [0], []

        async def scheduler(k: int) -> None:
            store = stores[k]
            while len(ran) < len(jobs):
                acquired = await store.acquire_jobs(f"scheduler-{k}", timedelta(seconds=30), 5)
                running.update(job.id for job in acquired)  # acquired and not released: running, for the limit
                most[0] = max(most[0], len(running))
                for job in acquired:
                    ran.append(job.id)
                    await asyncio.sleep(0.01)
                    running.discard(job.id)
                    await store.release_job(f"scheduler-{k}", job, JobResult.from_job(job, JobOutcome.success))
                await asyncio.sleep(0.005)

        await asyncio.wait_for(asyncio.gather(*(scheduler(k) for k in range(4))), 60)
        assert sorted(ran) == sorted(j.id for j in jobs), "a job ran twice or never"
        assert most[0] <= 2, f"{most[0]} jobs of a task with max_running_jobs=2 ran at once"
        assert (await stores[1].get_task("limited")).running_jobs == 0
        results = [await stores[2].get_job_result(j.id) for j in jobs[:3]]
        assert [r.outcome for r in results] == [JobOutcome.success] * 3


async def test_a_job_queued_before_its_task_had_a_limit_keeps_it(proxy):
    """A job in the shared queue whose task has a limit now (added by a process that had not seen the
    limit yet: task definitions are read at most once a second) is moved to the task's queue and
    claimed within the limit."""
    namespace = "late-" + uuid.uuid4().hex[:8]
    async with AsyncExitStack() as stack:
        stale, fresh = await started(stack, proxy.address, namespace), await started(stack, proxy.address, namespace)
        await stale.add_task(Task(id="t", func="builtins:print", job_executor="async"))
        assert (await stale.get_task("t")).max_running_jobs is None  # read now: cached by `stale`
        await fresh.add_task(Task(id="t", func="builtins:print", job_executor="async", max_running_jobs=1))
        jobs = [Job(task_id="t", executor="async") for _ in range(3)]
        for job in jobs:
            await stale.add_job(job)  # into the shared queue
        first = await fresh.acquire_jobs("s1", timedelta(seconds=30), 10)
        assert len(first) == 1
        assert await fresh.acquire_jobs("s2", timedelta(seconds=30), 10) == []
        await fresh.release_job("s1", first[0], JobResult.from_job(first[0], JobOutcome.success))
        second = await fresh.acquire_jobs("s2", timedelta(seconds=30), 10)
        assert len(second) == 1 and second[0].id != first[0].id
        assert sorted(j.id for j in await fresh.get_jobs()) == sorted(j.id for j in jobs if j.id != first[0].id)


async def test_what_it_keeps_is_in_the_proxy(proxy):
    namespace = "seen-" + uuid.uuid4().hex[:8]
    async with AsyncExitStack() as stack:
        store = await started(stack, proxy.address, namespace)
        schedule = Schedule(id="nightly", task_id="t", job_executor="async", trigger=IntervalTrigger(hours=24))
        schedule.next_fire_time = schedule.trigger.next()
        await store.add_schedule(schedule, ConflictPolicy.exception)
        async with StorageProxyClient(proxy.address) as client:
            [kept] = await client.list_tasks(agent_name=f"{namespace}:schedules")
            assert kept["id"] == f"{namespace}:s:nightly" and kept["next_run"] == schedule.next_fire_time
        # Another store, started from scratch in the same namespace, begins empty.
        again = ProxyDataStore(proxy.address, namespace=namespace, start_from_scratch=True)
        await again.start(stack, LocalEventBroker(), LOG)
        assert await again.get_schedules() == []


def test_the_readme_scheduler_runs_as_written(proxy):
    """The client README's APScheduler block, run as a script against a real proxy."""
    text = (REPO / "clients" / "python" / "README.md").read_text()
    snippet = re.search(r"```python\n(# APScheduler:.*?)```", text, re.S).group(1)
    env = dict(os.environ, STORAGE_PROXY_ADDRESS=proxy.address)
    run = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "49" and int(lines[1]) >= 2, run.stdout


async def test_schedulers_in_separate_places_wake_each_other(two_proxies):
    """A scheduler adds a job after the worker started (through another proxy on PostgreSQL): only
    the proxy's events can wake the worker, and only they can tell the first that the job ended."""
    from apscheduler import AsyncScheduler, SchedulerRole
    from storage_proxy.apscheduler import ProxyEventBroker
    namespace = "wake-" + uuid.uuid4().hex[:8]
    first, second = (p.address for p in two_proxies)
    worker = AsyncScheduler(ProxyDataStore(second, namespace=namespace), ProxyEventBroker(second, namespace=namespace),
                            role=SchedulerRole.worker)
    front = AsyncScheduler(ProxyDataStore(first, namespace=namespace), ProxyEventBroker(first, namespace=namespace),
                           role=SchedulerRole.scheduler)
    async with worker, front:
        await worker.configure_task("square", func=square)
        await front.configure_task("square", func=square)
        await worker.start_in_background()
        await front.start_in_background()
        await asyncio.sleep(0.2)  # the worker is idle, waiting to be woken
        job_id = await front.add_job("square", args=[12], result_expiration_time=timedelta(minutes=1))
        result = await asyncio.wait_for(front.get_job_result(job_id), 20)
        assert result.outcome is JobOutcome.success and result.return_value == 144


def square(x):
    return x * x
