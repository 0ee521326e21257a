"""What the savers add to the protocol: listings of big checkpoints, one thread's calls on one connection."""

import asyncio
import uuid

from langgraph.checkpoint.base import empty_checkpoint

from storage_proxy.langgraph import AsyncProxySaver, ProxySaver

from conftest import Proxy


def _put_big(saver, thread, n, size):
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    version = None
    for step in range(n):
        version = saver.get_next_version(version, None)
        cp = empty_checkpoint()
        cp["channel_values"] = {"messages": "m" * size}
        cp["channel_versions"] = {"messages": version}
        config = saver.put(config, cp, {"source": "loop", "step": step}, {"messages": version})
    return config


def _small_answers() -> Proxy:
    """A proxy answering 64 KiB at most: a page of two of these checkpoints (~30 KiB each) fits, three do not."""
    proxy = Proxy("personal")
    with open(proxy.config, "a") as f:
        f.write("server:\n  max_answer_bytes: 65536\n")
    proxy.stop()
    proxy.start()
    return proxy


def test_a_listing_past_the_answer_budget_asks_for_fewer_a_page():
    proxy = _small_answers()
    try:
        thread = uuid.uuid4().hex
        with ProxySaver(proxy.address) as saver:
            _put_big(saver, thread, 6, 22_000)
            steps = [t.metadata["step"] for t in saver.list({"configurable": {"thread_id": thread}})]
            assert steps == [5, 4, 3, 2, 1, 0]
            assert [t.metadata["step"] for t in saver.list({"configurable": {"thread_id": thread}}, limit=4)] == [5, 4, 3, 2]
            assert all(t.checkpoint["channel_values"]["messages"] == "m" * 22_000
                       for t in saver.list({"configurable": {"thread_id": thread}}))
    finally:
        proxy.stop()


async def test_async_listing_halves_its_pages_too():
    proxy = _small_answers()
    try:
        thread = uuid.uuid4().hex
        async with ProxySaver(proxy.address) as writer:  # its blocking calls from a worker thread, not the loop's
            await asyncio.to_thread(_put_big, writer, thread, 5, 22_000)
        async with AsyncProxySaver(proxy.address, connections=3) as saver:
            assert [t.metadata["step"] async for t in saver.alist({"configurable": {"thread_id": thread}})] == [4, 3, 2, 1, 0]
    finally:
        proxy.stop()


async def test_one_threads_calls_share_a_connection_and_threads_spread():
    proxy = Proxy("personal")
    try:
        async with AsyncProxySaver(proxy.address, connections=4) as saver:
            threads = [f"t{i}" for i in range(40)]
            for t in threads:
                cfg = {"configurable": {"thread_id": t, "checkpoint_ns": ""}}
                await saver.aput(cfg, empty_checkpoint(), {"source": "input", "step": -1}, {})
            used = [c for c in saver.clients if c._connection is not None]
            assert len(used) > 1, "every thread on one connection"
            tuples = [await saver.aget_tuple({"configurable": {"thread_id": t}}) for t in threads]
            assert all(tp is not None for tp in tuples)
    finally:
        proxy.stop()
