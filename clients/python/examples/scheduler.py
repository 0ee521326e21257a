"""A small agent scheduler written against the seed's interfaces only.

It creates tasks, finds the due ones, marks them running, logs, marks them
done, and queries the logs. Nothing in ``run_once`` knows about the proxy:
it takes any ``StorageAdapter`` and ``CacheAdapter``, so code written for the
seed's JSON-file adapter runs unchanged. Only ``main`` picks ours.

    python examples/scheduler.py [unix:///path/to/proxy.sock | tcp://host:port]

(default: ``unix://storage/proxy.sock``, where the Personal Edition listens.)
"""

import asyncio
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

from storage_proxy import CacheAdapter, StorageAdapter, StorageProxyClient


def new_task(agent: str, prompt: str, next_run: datetime) -> Dict[str, Any]:
    return {"agent_name": agent, "task_prompt": prompt, "schedule_type": "interval",
            "schedule_value": "3600", "repeat": True, "repeat_interval": "1h", "next_run": next_run}


async def run_once(storage: StorageAdapter, cache: CacheAdapter, agent: str) -> List[str]:
    """One pass of the scheduler for ``agent``; returns the ids of the tasks it ran."""
    now = datetime.now(timezone.utc)
    # 1. Create tasks: two due now, one due tomorrow.
    for prompt, due in (("Summarise the news", now - timedelta(minutes=1)),
                        ("Check the mailbox", now),
                        ("Weekly report", now + timedelta(days=1))):
        await storage.save_task(new_task(agent, prompt, due))

    # 2. Find the due ones.
    pending = await storage.list_tasks(agent_name=agent, status="pending", limit=100)
    due = [t for t in pending if t["enabled"] and t["next_run"] is not None and t["next_run"] <= now]

    ran = []
    for task in due:
        # 3. Mark running, log, do the work (cached by prompt), mark done.
        await storage.update_task_status(task["id"], "running", last_run=now)
        await storage.save_log(task["id"], "INFO", "started", {"prompt": task["task_prompt"]})
        key = f"response:{agent}:{task['task_prompt']}"
        answer = await cache.get(key)
        if answer is None:
            answer = {"text": f"done: {task['task_prompt']}"}
            await cache.set(key, answer, ttl=timedelta(minutes=10))
        await storage.save_log(task["id"], "INFO", "finished", {"answer": answer["text"]})
        await storage.update_task_status(task["id"], "done", next_run=now + timedelta(hours=1))
        ran.append(task["id"])
    return ran


async def main(address: str) -> int:
    client = StorageProxyClient(address)
    await client.initialize()
    try:
        if not await client.health_check():
            print("storage is not healthy", file=sys.stderr)
            return 1
        agent = "example-" + uuid.uuid4().hex[:8]
        ran = await run_once(client, client, agent)
        # 4. Query the logs of what ran.
        for task_id in ran:
            task = await client.get_task(task_id)
            logs = await client.query_logs(task_id=task_id)
            print(f"{task['task_prompt']}: {task['status']}, next run {task['next_run'].isoformat()}")
            for entry in reversed(logs):
                print(f"  {entry['created_at'].isoformat()} {entry['level']} {entry['message']}")
        waiting = await client.list_tasks(agent_name=agent, status="pending")
        print(f"{agent}: ran {len(ran)} due tasks, {len(waiting)} waiting")
        return 0
    finally:
        await client.close()


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STORAGE_PROXY_ADDRESS", "unix://storage/proxy.sock")
    sys.exit(asyncio.run(main(target)))
