"""The asyncio client against a real proxy: every method, errors, pipelining,
reconnects, transactions."""

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Proxy
from storage_proxy import (BackendUnavailable, InvalidParams, MethodNotFound, NotFound, ProxyConnectionError,
                           RetryableError, StorageAdapter, StorageProxyClient, TransactionError, Unauthorized)
from storage_proxy.errors import error_from_wire


def run(coroutine):
    return asyncio.run(coroutine)


def task(task_id, agent="news", **extra):
    return {"id": task_id, "agent_name": agent, "task_prompt": "Summarise", "schedule_type": "cron",
            "schedule_value": "0 9 * * *", **extra}


def test_every_storage_method(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as c:
            assert isinstance(c, StorageAdapter)
            assert await c.health_check() is True
            due = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
            assert await c.save_task(task("t1", next_run=due, owner="ops")) == "t1"
            made = await c.save_task({k: v for k, v in task("x", agent="mail").items() if k != "id"})
            assert len(made) == 36 and made != "t1"

            got = await c.get_task("t1")
            assert got["next_run"] == due and got["owner"] == "ops" and got["status"] == "pending"
            assert isinstance(got["created_at"], datetime) and got["created_at"].tzinfo is not None
            assert await c.get_task("missing") is None

            assert [t["id"] for t in await c.list_tasks(agent_name="news")] == ["t1"]
            assert len(await c.list_tasks()) == 2
            assert len(await c.list_tasks(limit=1, offset=1)) == 1

            ran = datetime(2026, 11, 25, 9, 0, 5, 123456, tzinfo=timezone.utc)
            assert await c.update_task_status("t1", "running", last_run=ran) is True
            assert await c.update_task_status("missing", "running") is False
            got = await c.get_task("t1")
            assert (got["status"], got["last_run"], got["next_run"]) == ("running", ran, due)
            assert [t["id"] for t in await c.list_tasks(status="running")] == ["t1"]

            first = await c.save_log("t1", "info", "started", {"step": 1})
            await c.save_log("t1", "ERROR", "failed")
            logs = await c.query_logs(task_id="t1")
            assert [entry["message"] for entry in logs] == ["failed", "started"]  # newest first
            assert logs[1]["id"] == first and logs[1]["level"] == "INFO" and logs[1]["metadata"] == {"step": 1}
            assert [entry["message"] for entry in await c.query_logs(level="ERROR")] == ["failed"]
            later = logs[0]["created_at"] + timedelta(seconds=1)
            assert len(await c.query_logs(start_time=logs[1]["created_at"], end_time=later)) == 2
            assert await c.delete_old_logs(datetime(2020, 1, 1, tzinfo=timezone.utc)) == 0
            assert await c.delete_old_logs(later) == 2

            await c.save_metadata("schema", {"v": 3})
            assert await c.get_metadata("schema") == {"v": 3}
            assert await c.get_metadata("nothing") is None
            await c.save_metadata("schema/b", 1)
            assert await c.list_metadata("schema") == ["schema", "schema/b"]
            assert await c.list_metadata("schema", after="schema", limit=1) == ["schema/b"]
            assert await c.delete_metadata("schema/b") is True
            assert await c.delete_metadata("schema/b") is False
            assert await c.list_metadata() == ["schema"]

            assert await c.delete_task("t1") is True
            assert await c.delete_task("t1") is False
            assert await c.get_task("t1") is None
    run(scenario())


def test_claims_run_on_the_callers_clock(proxy):
    """claim, renew and complete all take ``now``: a scheduler with its own clock (APScheduler under a
    moved test clock) decides dues and leases by it; a lease holds through its lease_until."""
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)

    async def scenario():
        async with StorageProxyClient(proxy.address) as c:
            await c.save_task(task("job", next_run=at - timedelta(days=1)))
            [claimed] = await c.claim_due_tasks("w1", lease_seconds=10, now=at)
            assert claimed["lease_until"] == at + timedelta(seconds=10)
            assert await c.claim_due_tasks("w2", now=at + timedelta(seconds=10)) == []
            renewed = await c.renew_lease("job", "w1", lease_seconds=20, now=at + timedelta(seconds=10))
            assert renewed["lease_until"] == at + timedelta(seconds=30)
            done = await c.complete_task("job", "w1", now=at + timedelta(minutes=5))
            assert done["next_run"] == at.replace(hour=9) and done["updated_at"] == at + timedelta(minutes=5)
    run(scenario())


def test_claims_within_a_running_limit(proxy):
    """``max_running``: the agent's tasks under live leases stay at most that many, claims counting."""
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)

    async def scenario():
        async with StorageProxyClient(proxy.address) as c:
            for n in range(3):
                await c.save_task(task(f"m{n}", agent="limited", next_run=at - timedelta(days=1)))
            claimed = await c.claim_due_tasks("w1", limit=3, agent_name="limited", max_running=2, now=at)
            assert [t["id"] for t in claimed] == ["m0", "m1"]
            assert await c.claim_due_tasks("w2", limit=3, agent_name="limited", max_running=2, now=at) == []
            await c.complete_task("m0", "w1", next_run=None, now=at)
            assert [t["id"] for t in await c.claim_due_tasks("w2", limit=3, agent_name="limited", max_running=2, now=at)] == ["m2"]
            assert await c.count_tasks(agent_name="limited", leased_at=at) == 2
            assert await c.count_tasks(agent_name="limited", status="completed") == 1
            assert await c.count_tasks(agent_name="limited", group_by="status") == {"running": 2, "completed": 1}
            await c.save_task(task("p0", agent="limited:x", next_run=at - timedelta(days=1)))
            assert [t["id"] for t in await c.claim_due_tasks("w3", agent_prefix="limited:", now=at)] == ["p0"]
            with pytest.raises(InvalidParams, match="max_running"):
                await c.claim_due_tasks("w3", max_running=2)
    run(scenario())


def test_cache_methods(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as c:
            assert await c.set("response:1", {"text": "hi"}) is True
            assert await c.get("response:1") == {"text": "hi"}
            assert await c.exists("response:1") is True
            assert await c.set("response:2", None, ttl=timedelta(milliseconds=200)) is True
            assert await c.exists("response:2") is True
            await asyncio.sleep(0.4)
            assert await c.exists("response:2") is False
            await c.set("response:3", 3, ttl=60)
            await c.set("other", 1)
            assert await c.clear_pattern("response:*") == 2
            assert await c.get("response:1") is None
            assert await c.delete("other") is True
            assert await c.delete("other") is False
    run(scenario())


def test_an_unknown_method_is_method_not_found(personal):
    async def scenario():
        async with StorageProxyClient(personal.address) as c:
            with pytest.raises(MethodNotFound) as e:
                await c.call("vector.upsert", documents=["d"])
            assert e.value.code == -32601 and e.value.data == {"method": "vector.upsert"}
    run(scenario())


def test_errors_carry_code_message_and_data(personal):
    async def scenario():
        async with StorageProxyClient(personal.address) as c:
            with pytest.raises(InvalidParams) as e:
                await c.save_task({"id": "t"})
            assert e.value.code == -32602 and e.value.field == "task.agent_name"
            with pytest.raises(NotFound) as e:
                await c.save_log("missing", "INFO", "x")
            assert e.value.code == -32001 and "missing" in e.value.message
            with pytest.raises(TransactionError):
                await c.commit_transaction("not-a-transaction")
            with pytest.raises(MethodNotFound):
                await c.call("no.such.method")
            with pytest.raises(InvalidParams):
                await c.update_task_status("t", "running", last_run="yesterday")
            assert await c.health_check() is True  # the connection is still good
    run(scenario())


def test_error_classes_follow_the_codes():
    unavailable = error_from_wire({"code": -32003, "message": "busy", "data": {"retry_after_ms": 250, "retryable": True}})
    assert isinstance(unavailable, BackendUnavailable) and isinstance(unavailable, RetryableError)
    assert unavailable.retry_after == 0.25
    for code in (-32006, -32008):
        assert isinstance(error_from_wire({"code": code, "message": "m"}), RetryableError)
    for code in (-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32004, -32005, -32007):
        error = error_from_wire({"code": code, "message": "m"})
        assert error.code == code and not isinstance(error, RetryableError)
    unknown = error_from_wire({"code": -32050, "message": "new", "data": {"retryable": True}})
    assert isinstance(unknown, RetryableError) and unknown.code == -32050


def test_a_thousand_concurrent_calls_share_one_connection(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as c:
            await c.save_task(task("p"))
            accepted = (await c.call("server.status"))["connections"]["accepted"]
            writes = [c.save_log("p", "INFO", f"line {i}") for i in range(500)]
            reads = [c.get_task("p") for _ in range(500)]
            results = await asyncio.gather(*(x for pair in zip(writes, reads) for x in pair))
            ids = results[0::2]
            assert len(set(ids)) == 500 and all(r["id"] == "p" for r in results[1::2])
            assert len(await c.query_logs(task_id="p", limit=1000)) == 500
            status = await c.call("server.status")
            assert status["connections"]["open"] == 1 and status["connections"]["accepted"] == accepted
    run(scenario())


def test_reconnects_after_the_proxy_restarts(personal):
    async def scenario():
        c = StorageProxyClient(personal.address, connect_timeout=15)
        await c.save_task(task("kept"))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, personal.stop)
        # The next call waits for the proxy to come back (up to connect_timeout).
        restart = loop.run_in_executor(None, lambda: (time.sleep(0.5), personal.start()))
        assert (await c.save_log("kept", "INFO", "after the restart")) is not None
        await restart
        assert [entry["message"] for entry in await c.query_logs(task_id="kept")] == ["after the restart"]

        # Stopped while the client's loop is busy: the client learns of it on its
        # next call; a read is sent again on a new connection.
        personal.stop()
        personal.start()
        assert (await c.get_task("kept"))["id"] == "kept"
        await c.close()

        personal.stop()
        impatient = StorageProxyClient(personal.address, connect_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ProxyConnectionError, match="cannot connect"):
            await impatient.health_check()
        assert time.monotonic() - started < 3
    run(scenario())


def test_a_first_connect_to_no_proxy_fails_at_once(tmp_path):
    """Not the 19 s of retries a reconnect may take: nothing was ever there."""
    async def scenario():
        started = time.monotonic()
        with pytest.raises(ProxyConnectionError, match="cannot connect"):
            await StorageProxyClient(f"unix://{tmp_path}/nobody.sock", connect_timeout=30).health_check()
        assert time.monotonic() - started < 1.5
    run(scenario())


def test_transaction_context_manager(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as c:
            async with c.transaction() as tx:
                await tx.save_task(task("a"))
                await tx.save_log("a", "INFO", "inside")
                assert (await tx.get_task("a"))["id"] == "a"
            assert (await c.get_task("a"))["id"] == "a"
            assert len(await c.query_logs(task_id="a")) == 1

            with pytest.raises(RuntimeError, match="boom"):
                async with c.transaction() as tx:
                    await tx.save_task(task("b"))
                    await tx.update_task_status("a", "cancelled")
                    raise RuntimeError("boom")
            assert await c.get_task("b") is None
            assert (await c.get_task("a"))["status"] == "pending"

            handle = await c.begin_transaction()  # the seed's own calls
            await c.rollback_transaction(handle)
            with pytest.raises(TransactionError):
                await c.commit_transaction(handle)  # already ended
    run(scenario())


def test_tls_checks_the_proxy_certificate():
    p = Proxy("personal", tls=True, token="tls-token")
    try:
        async def scenario():
            async with StorageProxyClient(p.tls_address, token="tls-token") as c:
                await c.save_task({"id": "tls-1", "agent_name": "a", "task_prompt": "p",
                                   "schedule_type": "cron", "schedule_value": "0 7 * * *"})
                assert (await c.get_task("tls-1"))["id"] == "tls-1"
            # The system's authorities do not know the test's: the client refuses the proxy.
            stranger = StorageProxyClient(f"tls://127.0.0.1:{p.port}", token="tls-token")
            with pytest.raises(ProxyConnectionError, match="certificate verify failed"):
                await stranger.health_check()
            await stranger.close()
        run(scenario())
    finally:
        p.stop()


def test_tls_address_options_are_checked():
    from storage_proxy.wire import parse_address
    a = parse_address("tls://db.internal:7600?ca=/etc/ca.pem&cert=/c.pem&key=/k.pem")
    assert (a.kind, a.where, a.port, a.ca, a.cert, a.key) == ("tls", "db.internal", 7600, "/etc/ca.pem", "/c.pem", "/k.pem")
    with pytest.raises(ValueError, match="unknown option"):
        parse_address("tls://h:1?cafile=/x")
    with pytest.raises(ValueError, match="unsupported address"):
        parse_address("https://h:1")


def test_auth_token_over_tcp():
    p = Proxy("personal", tcp=True, token="s3cret-token")
    try:
        async def scenario():
            async with StorageProxyClient(p.tcp_address, token="s3cret-token") as c:
                assert await c.health_check() is True
            with pytest.raises(Unauthorized):
                await StorageProxyClient(p.tcp_address, token="wrong").initialize()
            anonymous = StorageProxyClient(p.tcp_address)
            with pytest.raises(Unauthorized):
                await anonymous.health_check()
            await anonymous.close()
        run(scenario())
    finally:
        p.stop()
