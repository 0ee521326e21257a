"""The blocking client: the same methods, plain calls."""

import inspect
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from storage_proxy import NotFound, StorageClient, StorageProxyClient


def test_blocking_client_has_every_method_of_the_async_one():
    for name, method in inspect.getmembers(StorageProxyClient, inspect.iscoroutinefunction):
        if not name.startswith("_"):
            assert hasattr(StorageClient, name), name
            assert inspect.signature(getattr(StorageClient, name)) == inspect.signature(method)


def test_blocking_client(personal):
    with StorageClient(personal.address) as c:
        assert c.health_check() is True
        due = datetime(2026, 11, 25, 9, tzinfo=timezone.utc)
        assert c.save_task({"id": "b1", "agent_name": "a", "task_prompt": "p", "schedule_type": "cron",
                            "schedule_value": "* * * * *", "next_run": due}) == "b1"
        assert c.get_task("b1")["next_run"] == due
        c.save_log("b1", "WARNING", "careful")
        assert c.query_logs(task_id="b1")[0]["level"] == "WARNING"
        with pytest.raises(NotFound):
            c.save_log("nope", "INFO", "x")
        assert c.set("k", [1, 2]) is True and c.get("k") == [1, 2]

        with c.transaction() as tx:
            tx.update_task_status("b1", "done")
            assert tx.get_task("b1")["status"] == "done"
        assert c.get_task("b1")["status"] == "done"
        with pytest.raises(ValueError):
            with c.transaction() as tx:
                tx.update_task_status("b1", "failed")
                raise ValueError("no")
        assert c.get_task("b1")["status"] == "done"


def test_a_script_that_never_closes_its_client_ends_quietly(personal):
    # Scripts often just end; the connection's reader task must not make asyncio
    # print "Task was destroyed but it is pending!" at exit.
    script = ("import sys\nfrom storage_proxy import StorageClient\n"
              "c = StorageClient(sys.argv[1])\nassert c.health_check() is True\nprint('done')\n")
    run = subprocess.run([sys.executable, "-c", script, personal.address], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout == "done\n", run.stderr
    assert run.stderr == ""
