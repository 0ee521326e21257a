"""The example scheduler as separate processes (the way agents run it): it
claims, renews, completes and lets the proxy compute the next run; several
share the work; one killed with SIGKILL loses its lease to another."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import REPO
from storage_proxy import Conflict, StorageClient, StorageProxyClient

SCHEDULER = REPO / "clients" / "python" / "examples" / "scheduler.py"


def scheduler(address, *args, **kwargs):
    return subprocess.run([sys.executable, str(SCHEDULER), address, *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_example_scheduler(proxy):
    run = scheduler(proxy.address, "--seed", "--until-idle", "--worker", "w-test", "--agent", "news-desk")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "w-test: ran 2 due tasks", run.stdout
    now = datetime.now(timezone.utc)

    async def check():
        async with StorageProxyClient(proxy.address) as c:
            tasks = {t["task_prompt"]: t for t in await c.list_tasks(agent_name="news-desk")}
            news, mail, weekly = tasks["Summarise the news"], tasks["Check the mailbox"], tasks["Weekly report"]
            for task in (news, mail):  # ran, and rescheduled by the proxy from their schedules
                assert task["status"] == "pending" and task["last_status"] == "completed" and task["lease_owner"] is None
                assert task["last_result"] == {"text": f"done: {task['task_prompt']}"}
                assert [e["message"] for e in await c.query_logs(task_id=task["id"])] == ["finished", "started"]
            assert now < news["next_run"] <= now + timedelta(hours=1)  # PT1H after the slot that ran
            assert mail["next_run"] > now and mail["next_run"].minute % 5 == 0 and mail["next_run"].second == 0
            # Not due: untouched, its first run computed in its own zone (Monday 09:00 in Berlin).
            assert weekly["attempts"] == 0 and weekly["last_status"] is None
            assert weekly["next_run"].weekday() == 0 and weekly["next_run"].hour in (7, 8)
            assert await c.get("response:news-desk:Summarise the news") == {"text": "done: Summarise the news"}
    asyncio.run(check())


def test_example_scheduler_default_address(personal):
    # Run from the folder that holds storage/proxy.sock, as after the README's first command.
    run = subprocess.run([sys.executable, str(SCHEDULER), "--seed", "--until-idle"], cwd=personal.folder,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("ran 2 due tasks")


def test_scheduler_over_tcp_with_a_token():
    from conftest import Proxy
    proxy = Proxy(tcp=True, token="sched-secret")
    try:
        env = dict(os.environ, STORAGE_PROXY_TOKEN="sched-secret")
        run = scheduler(proxy.tcp_address, "--seed", "--until-idle", "--worker", "tcp-worker", env=env)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip().endswith("tcp-worker: ran 2 due tasks")
    finally:
        proxy.stop()


def due_tasks(address, agent, count):
    with StorageClient(address) as c:
        for i in range(count):
            c.save_task({"id": f"{agent}-{i}", "agent_name": agent, "task_prompt": f"job {i}", "schedule_type": "once",
                         "schedule_value": "2026-01-01T00:00:00Z"})


def test_two_schedulers_run_each_task_once(proxy):
    due_tasks(proxy.address, "shared", 120)
    runs = [subprocess.Popen([sys.executable, str(SCHEDULER), proxy.address, "--agent", "shared", "--until-idle",
                              "--worker", f"w{i}", "--limit", "3"], stdout=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [r.communicate(timeout=120)[0] for r in runs]
    assert all(r.returncode == 0 for r in runs), outputs
    with StorageClient(proxy.address) as c:
        logs = c.query_logs(limit=10000)
        started = [e["task_id"] for e in logs if e["message"] == "started"]
        assert sorted(started) == sorted(f"shared-{i}" for i in range(120)), "each task started exactly once"
        assert {t["status"] for t in c.list_tasks(agent_name="shared", limit=1000)} == {"completed"}
    assert all("ran 0 due tasks" not in out for out in outputs), "both schedulers took a share"


def test_killed_scheduler_loses_its_lease(proxy):
    due_tasks(proxy.address, "slow", 1)
    dying = subprocess.Popen([sys.executable, str(SCHEDULER), proxy.address, "--agent", "slow", "--worker", "doomed",
                              "--lease", "1", "--work-seconds", "60"], stdout=subprocess.DEVNULL)
    with StorageClient(proxy.address) as c:
        deadline = time.time() + 30
        while c.get_task("slow-0")["lease_owner"] != "doomed":
            assert time.time() < deadline and dying.poll() is None, "the scheduler never claimed the task"
            time.sleep(0.05)
        time.sleep(1.5)  # it renews (every third of its 1 s lease) while it works
        assert c.claim_due_tasks("rescuer", lease_seconds=30) == []
        dying.send_signal(signal.SIGKILL)
        dying.wait()
        deadline = time.time() + 5
        while not (claimed := c.claim_due_tasks("rescuer", lease_seconds=30)):
            assert time.time() < deadline, "the dead scheduler's lease never expired"
            time.sleep(0.1)
        assert claimed[0]["id"] == "slow-0" and claimed[0]["attempts"] == 2
        with pytest.raises(Conflict) as late:  # the dead worker's completion, arriving late
            c.complete_task("slow-0", "doomed", "completed")
        assert late.value.data["owner"] == "rescuer"
        assert c.complete_task("slow-0", "rescuer", "completed")["status"] == "completed"


def test_an_idle_scheduler_wakes_on_a_due_task(personal):
    """Waiting with a 60 s poll, it runs a task saved meanwhile at once: a live event woke it."""
    idle = subprocess.Popen([sys.executable, str(SCHEDULER), personal.address, "--agent", "woken", "--worker", "sleeper",
                             "--poll", "60"], stdout=subprocess.PIPE, text=True)
    try:
        with StorageClient(personal.address) as c:
            deadline = time.time() + 30
            while c.call("server.status")["events"]["subscriptions"] == 0:  # subscribed: it is idle now
                assert time.time() < deadline and idle.poll() is None, "the scheduler never went idle"
                time.sleep(0.05)
            saved = time.time()
            c.save_task({"id": "wake-1", "agent_name": "woken", "task_prompt": "p", "schedule_type": "once",
                         "schedule_value": datetime.now(timezone.utc).isoformat()})
            while c.get_task("wake-1")["last_status"] != "completed":
                assert time.time() - saved < 20, "the idle scheduler did not wake for the due task"
                time.sleep(0.05)
    finally:
        idle.send_signal(signal.SIGTERM)
        out, _ = idle.communicate(timeout=30)
    assert idle.returncode == 0 and "sleeper: ran 1 due tasks" in out


def test_readme_snippet_runs_as_written(proxy):
    """The first ``python`` block of clients/python/README.md, run as a script
    against a real proxy (its address from the environment, as the snippet reads it)."""
    import re
    text = (REPO / "clients" / "python" / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    env = dict(os.environ, STORAGE_PROXY_ADDRESS=proxy.address)
    run = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    task_id, due, cached = run.stdout.strip().split(" ", 2)
    assert due == "0" and cached == "{'text': '…'}"

    async def check():
        async with StorageProxyClient(proxy.address) as c:
            assert (await c.get_task(task_id))["status"] == "running"
            assert [e["message"] for e in await c.query_logs(task_id=task_id)] == ["started"]
    asyncio.run(check())
