"""The blocking client: the same methods, plain calls."""

import inspect
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
