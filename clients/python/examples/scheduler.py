"""A real agent scheduler on the storage proxy: run as many as you like, on one
proxy or several sharing a database, and each due task runs once.

Each pass claims the due tasks (the proxy leases them to this worker), runs
them while renewing the lease, logs, and reports the outcome; the proxy
computes every task's next run from its schedule (cron, interval, once), so
this file needs no cron library. A worker that dies holding a lease loses it
when it expires, and another worker runs the task again.

    python examples/scheduler.py [ADDRESS] [--worker NAME] [--agent NAME]
                                 [--seed] [--until-idle] [--lease SECONDS]

ADDRESS: ``unix:///path/proxy.sock`` or ``tcp://host:port`` (default:
``$STORAGE_PROXY_ADDRESS``, else ``unix://storage/proxy.sock``, where the
Personal Edition listens); ``$STORAGE_PROXY_TOKEN`` is sent when set.
``--seed`` first adds three demo tasks for the agent; ``--until-idle`` stops
when nothing is due instead of waiting for more. While idle it does not only
poll: it subscribes to the agent's task changes, so a task that becomes due
(saved by another agent, say) runs at once, not at the next poll.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Tuple

from storage_proxy import CacheAdapter, Conflict, StorageProxyClient


async def seed(client: StorageProxyClient, agent: str) -> None:
    """Two tasks due now and one not: the proxy fills ``next_run`` from each schedule."""
    now = datetime.now(timezone.utc)
    await client.save_task({"agent_name": agent, "task_prompt": "Summarise the news", "schedule_type": "interval",
                            "schedule_value": "PT1H", "next_run": now - timedelta(minutes=1)})
    await client.save_task({"agent_name": agent, "task_prompt": "Check the mailbox", "schedule_type": "cron",
                            "schedule_value": "*/5 * * * *", "next_run": now})
    await client.save_task({"agent_name": agent, "task_prompt": "Weekly report", "schedule_type": "cron",
                            "schedule_value": "0 9 * * mon", "time_zone": "Europe/Berlin"})


async def work(task: Dict[str, Any], cache: CacheAdapter, seconds: float) -> Dict[str, Any]:
    """The agent's job for a task (here: an answer cached by prompt, and some time spent)."""
    key = f"response:{task['agent_name']}:{task['task_prompt']}"
    answer = await cache.get(key)
    if answer is None:
        answer = {"text": f"done: {task['task_prompt']}"}
        await cache.set(key, answer, ttl=timedelta(minutes=10))
    await asyncio.sleep(seconds)
    return answer


async def keep_lease(client: StorageProxyClient, task_id: str, worker: str, lease: float) -> None:
    """Renews the lease at a third of its length until cancelled (the work is done)."""
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await client.renew_lease(task_id, worker, lease_seconds=lease)
        except Conflict:
            return  # lost already (complete_task will say so)


async def run_task(client: StorageProxyClient, task: Dict[str, Any], worker: str, lease: float,
                   work_seconds: float) -> Tuple[str, Dict[str, Any]]:
    await client.save_log(task["id"], "INFO", "started", {"worker": worker, "attempt": task["attempts"]})
    renewing = asyncio.create_task(keep_lease(client, task["id"], worker, lease))
    try:
        result, status = await work(task, client, work_seconds), "completed"
    except Exception as error:  # the task failed, not the scheduler
        result, status = {"error": str(error)}, "failed"
    finally:
        renewing.cancel()
    await client.save_log(task["id"], "INFO" if status == "completed" else "ERROR", "finished",
                          {"worker": worker, "status": status})
    try:
        done = await client.complete_task(task["id"], worker, status, result=result)
    except Conflict as lost:  # the lease expired and another worker has the task now
        print(f"{worker}: lost {task['id']} to {lost.data.get('owner')}", flush=True)
        return "lost", task
    return status, done


async def run_due(client: StorageProxyClient, worker: str, agent: str = None, lease: float = 30,
                  limit: int = 10, work_seconds: float = 0) -> List[Dict[str, Any]]:
    """One pass: claims what is due (for ``agent``, or all), runs it, returns the tasks as completed."""
    claimed = await client.claim_due_tasks(worker, limit=limit, lease_seconds=lease, agent_name=agent)
    finished = []
    for task in claimed:
        status, done = await run_task(client, task, worker, lease, work_seconds)
        if status != "lost":
            when = done["next_run"].isoformat() if done["next_run"] else "none"
            print(f"{worker}: {task['task_prompt']} ({task['id']}): {status}, next run {when}", flush=True)
            finished.append(done)
    return finished


def may_be_due(event: Dict[str, Any]) -> bool:
    """A change after which a claim may find something: a pending task due by now,
    or events were missed (lagged)."""
    if event["op"] == "lagged":
        return True
    task = event.get("task") or {}
    due = task.get("next_run")
    return task.get("status") == "pending" and task.get("enabled", True) and due is not None \
        and due <= datetime.now(timezone.utc)


async def idle(changes, stopping: asyncio.Event, seconds: float) -> None:
    """Waits until a task may have become due (a live event says so), a stop,
    or ``seconds`` (tasks also become due by the clock alone)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while not stopping.is_set() and (left := deadline - loop.time()) > 0:
            change = asyncio.ensure_future(changes.next(timeout=left))
            await asyncio.wait({stop, change}, return_when=asyncio.FIRST_COMPLETED)
            if not change.done():
                change.cancel()
                return
            event = change.result()
            if event is None or may_be_due(event):
                return
    finally:
        stop.cancel()


async def main(args: argparse.Namespace) -> int:
    client = StorageProxyClient(args.address, token=os.environ.get("STORAGE_PROXY_TOKEN") or None)
    await client.initialize()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    try:
        if not await client.health_check():
            print("storage is not healthy", file=sys.stderr)
            return 1
        if args.seed:
            await seed(client, args.agent)
        total = 0
        changes = None if args.until_idle else await client.subscribe(["tasks"], agent_name=args.agent).start()
        while not stopping.is_set():
            ran = await run_due(client, args.worker, args.agent, args.lease, args.limit, args.work_seconds)
            total += len(ran)
            if not ran:
                if args.until_idle:
                    break
                await idle(changes, stopping, args.poll)
        print(f"{args.worker}: ran {total} due tasks", flush=True)
        return 0
    finally:
        await client.close()


def arguments(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", nargs="?",
                        default=os.environ.get("STORAGE_PROXY_ADDRESS", "unix://storage/proxy.sock"))
    parser.add_argument("--worker", default=os.environ.get("SCHEDULER_WORKER")
                        or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}")
    parser.add_argument("--agent", default=os.environ.get("SCHEDULER_AGENT"), help="only this agent's tasks")
    parser.add_argument("--seed", action="store_true", help="add three demo tasks for --agent first")
    parser.add_argument("--until-idle", action="store_true", help="stop when nothing is due")
    parser.add_argument("--lease", type=float, default=30.0, help="lease seconds (renewed at a third)")
    parser.add_argument("--limit", type=int, default=10, help="tasks claimed per pass")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between passes when idle")
    parser.add_argument("--work-seconds", type=float, default=0.0, help="time each task's work takes (demo)")
    args = parser.parse_args(argv)
    if args.seed and not args.agent:
        args.agent = "example-" + uuid.uuid4().hex[:8]
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(arguments(sys.argv[1:]))))
