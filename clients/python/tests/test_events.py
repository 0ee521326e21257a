"""Live events through the Python client: ``async for``, the blocking iterator,
filters, another proxy's writes (PostgreSQL), lagged after a lost connection."""

import asyncio
from datetime import datetime, timezone

from storage_proxy import StorageClient, StorageProxyClient


def task(task_id, agent="news"):
    return {"id": task_id, "agent_name": agent, "task_prompt": "p", "schedule_type": "interval",
            "schedule_value": "PT1H"}


def test_async_for_sees_every_change_in_order(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as watcher, StorageProxyClient(proxy.address) as writer:
            async with watcher.subscribe(["tasks", "logs"], agent_name="news") as events:
                await writer.save_task(task("e1"))
                await writer.save_task(task("other", agent="weather"))  # filtered out
                await writer.update_task_status("e1", "running")
                await writer.save_log("e1", "INFO", "working")
                async with writer.transaction() as tx:
                    await tx.update_task_status("e1", "done")
                await writer.delete_task("e1")
                seen = []
                async for event in events:
                    seen.append((event["op"], event.get("task", {}).get("status") or event.get("log", {}).get("message")))
                    if event["op"] == "deleted":
                        break
            assert seen == [("created", "pending"), ("updated", "running"), ("created", "working"),
                            ("updated", "done"), ("deleted", "done")]
            assert events.id is not None
            status = await writer.call("server.status")
            assert status["events"]["subscriptions"] == 0  # unsubscribed on exit
    asyncio.run(scenario())


def test_events_arrive_from_another_proxy(enterprise_pair):
    first, second = enterprise_pair
    async def scenario():
        async with StorageProxyClient(second.address) as watcher, StorageProxyClient(first.address) as writer:
            async with watcher.subscribe(["tasks"], task_id="x1") as events:
                await writer.save_task(task("x1"))
                event = await events.next(timeout=10)
                assert event is not None and event["task"]["id"] == "x1" and event["op"] == "created"
                assert event["task"]["next_run"] is not None and event["task"]["next_run"].tzinfo is not None
    asyncio.run(scenario())


def test_blocking_iterator_and_timeout(personal):
    with StorageClient(personal.address) as watcher, StorageClient(personal.address) as writer:
        with watcher.subscribe(["logs"]) as events:
            assert events.next(timeout=0.2) is None  # nothing yet
            writer.save_task(task("b1"))
            writer.save_log("b1", "WARNING", "slow")
            event = next(iter(events))
            assert event["topic"] == "logs" and event["log"]["message"] == "slow" and event["log"]["level"] == "WARNING"
        assert events.next(timeout=0.1) is None and list(events) == []  # closed: nothing more, the loop ends


def test_agent_prefix_and_no_leases(personal):
    """``agent_prefix`` picks a group of agents; ``leases=False`` leaves out the claim, not the completion."""
    with StorageClient(personal.address) as watcher, StorageClient(personal.address) as writer:
        with watcher.subscribe(["tasks"], agent_prefix="ns:", leases=False) as events:
            writer.save_task(task("p1", agent="ns:jobs"))
            writer.save_task(task("p2", agent="elsewhere"))
            writer.update_task_status("p1", "pending", next_run=datetime(2026, 1, 1, tzinfo=timezone.utc))
            assert len(writer.claim_due_tasks("w", agent_name="ns:jobs")) == 1
            writer.complete_task("p1", "w", "done", next_run=None)
            seen = [(e["task"]["id"], e["op"], e["task"]["status"]) for e in (events.next(timeout=5) for _ in range(3))]
            assert seen == [("p1", "created", "pending"), ("p1", "updated", "pending"), ("p1", "updated", "done")]
            assert events.next(timeout=0.2) is None


def test_a_lost_connection_resubscribes_and_says_lagged(personal):
    async def scenario():
        watcher = StorageProxyClient(personal.address, connect_timeout=15)
        events = await watcher.subscribe(["tasks"]).start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, personal.stop)
        await loop.run_in_executor(None, personal.start)
        lagged = await events.next(timeout=10)
        assert lagged["op"] == "lagged" and "lost" in lagged["reason"]
        async with StorageProxyClient(personal.address) as writer:
            await writer.save_task(task("after"))
        event = await events.next(timeout=10)
        assert event["task"]["id"] == "after"
        await events.close()
        await watcher.close()
    asyncio.run(scenario())
