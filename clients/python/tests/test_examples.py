"""The example scheduler runs unchanged against both editions, as a separate
process (the way an agent runs), and leaves the state it describes."""

import asyncio
import subprocess
import sys

from conftest import REPO
from storage_proxy import StorageProxyClient

SCHEDULER = REPO / "clients" / "python" / "examples" / "scheduler.py"


def test_example_scheduler(proxy):
    run = subprocess.run([sys.executable, str(SCHEDULER), proxy.address], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last.endswith(": ran 2 due tasks, 1 waiting"), run.stdout
    agent = last.split(":")[0]
    assert run.stdout.count("  ") >= 4 and "INFO finished" in run.stdout

    async def check():
        async with StorageProxyClient(proxy.address) as c:
            tasks = await c.list_tasks(agent_name=agent)
            assert sorted(t["status"] for t in tasks) == ["done", "done", "pending"]
            for t in tasks:
                logs = await c.query_logs(task_id=t["id"])
                assert [entry["message"] for entry in logs] == (["finished", "started"] if t["status"] == "done" else [])
            assert await c.get(f"response:{agent}:Summarise the news") == {"text": "done: Summarise the news"}
    asyncio.run(check())


def test_example_scheduler_default_address(personal):
    # Run from the folder that holds storage/proxy.sock, as after the README's first command.
    run = subprocess.run([sys.executable, str(SCHEDULER)], cwd=personal.folder, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "ran 2 due tasks, 1 waiting" in run.stdout
