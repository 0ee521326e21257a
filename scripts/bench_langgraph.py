"""LangGraph's savers side by side (run by scripts/bench-langgraph; see its header).

Every figure of one run comes from the same machine, the same PostgreSQL cluster
(fsync=on) and the same Python process: the proxy's savers against
langgraph-checkpoint-postgres's AsyncPostgresSaver (psycopg pool) and
langgraph-checkpoint-sqlite's AsyncSqliteSaver.
"""

import argparse
import asyncio
import operator
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph

from storage_proxy.langgraph import AsyncProxySaver, AsyncProxyStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vectors import Proxy, start_postgres  # noqa: E402  (a proxy in a folder of its own; a durable PostgreSQL)

REPO = Path(__file__).resolve().parents[1]
CHANNEL = "x" * 1000  # a ~1 KiB channel value


async def checkpoint_workload(saver, tasks: int, seconds: float) -> float:
    """Each task its own thread: put (three ~1 KiB channels), put_writes (two writes), get_tuple. Operations/s."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker():
        nonlocal done
        config = {"configurable": {"thread_id": uuid.uuid4().hex, "checkpoint_ns": ""}}
        version = None
        while time.perf_counter() < stop:
            version = saver.get_next_version(version, None)
            checkpoint = empty_checkpoint()
            checkpoint["channel_values"] = {c: CHANNEL for c in ("messages", "context", "plan")}
            checkpoint["channel_versions"] = {c: version for c in ("messages", "context", "plan")}
            config = await saver.aput(config, checkpoint, {"source": "loop", "step": done}, checkpoint["channel_versions"])
            await saver.aput_writes(config, [("messages", CHANNEL[:100]), ("plan", CHANNEL[:100])], uuid.uuid4().hex)
            assert await saver.aget_tuple(config) is not None
            done += 3

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return done / (time.perf_counter() - began)


class State(TypedDict):
    steps: Annotated[list, operator.add]


def five_nodes():
    g = StateGraph(State)
    names = ["a", "b", "c", "d", "e"]
    for n in names:
        g.add_node(n, lambda s, n=n: {"steps": [n]})
    g.add_edge(START, "a")
    for x, y in zip(names, names[1:]):
        g.add_edge(x, y)
    g.add_edge("e", END)
    return g


async def graph_workload(saver, tasks: int, seconds: float) -> float:
    """Each task runs the 5-node graph on a thread of its own, again and again. Node steps/s."""
    graph = five_nodes().compile(checkpointer=saver)
    steps = 0
    stop = time.perf_counter() + seconds

    async def worker():
        nonlocal steps
        thread = uuid.uuid4().hex
        while time.perf_counter() < stop:
            await graph.ainvoke({"steps": []}, {"configurable": {"thread_id": thread}})
            steps += 5

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return steps / (time.perf_counter() - began)


async def store_workload(store, tasks: int, seconds: float) -> float:
    """Each task a user of its own: put a memory, get it back, search the user's memories with a filter. Operations/s."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker():
        nonlocal done
        user, i = uuid.uuid4().hex[:12], 0
        while time.perf_counter() < stop:
            i += 1
            await store.aput(("users", user, "memories"), f"m{i}", {"text": CHANNEL[:200], "n": i})
            assert await store.aget(("users", user, "memories"), f"m{i}") is not None
            assert len(await store.asearch(("users", user), filter={"n": {"$gte": i - 4}}, limit=5)) > 0
            done += 3

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return done / (time.perf_counter() - began)


async def store_figures(make, tasks, seconds):
    async with make() as store:
        await store_workload(store, tasks, 0.5)  # warm up
        return await store_workload(store, tasks, seconds)


async def figures(make, tasks, seconds):
    async with make() as saver:
        await checkpoint_workload(saver, tasks, 0.5)  # warm up
        ops = await checkpoint_workload(saver, tasks, seconds)
        steps = await graph_workload(saver, tasks, seconds)
    return ops, steps


def database(server: str, name: str) -> str:
    psql = os.path.join(os.environ.get("STORAGE_PROXY_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"), "psql")
    subprocess.run([psql, "-qX", "-d", server, "-c", f"CREATE DATABASE {name}"], check=True, stdout=subprocess.DEVNULL)
    return server.rsplit("/", 1)[0] + "/" + name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    from contextlib import asynccontextmanager

    work = Path(tempfile.mkdtemp(prefix="bench-langgraph-"))
    os.chmod(work, 0o755)  # the PostgreSQL it starts runs as the postgres user
    rows, stores = [], []
    try:
        from langgraph.checkpoint.memory import InMemorySaver

        @asynccontextmanager
        async def in_memory():
            yield InMemorySaver()
        # No storage at all: what LangGraph's own runtime allows on this machine (the ceiling of every saver's graph steps).
        rows.append(("InMemorySaver (no storage: the ceiling)", asyncio.run(figures(in_memory, a.tasks, a.seconds))))
        (work / "sqlite-proxy").mkdir()
        proxy = Proxy(work / "sqlite-proxy", ["--storage", "sqlite", "--database", str(work / "proxy.db")])
        try:
            rows.append(("AsyncProxySaver, SQLite proxy (synchronous=FULL)",
                         asyncio.run(figures(lambda: AsyncProxySaver(proxy.address), a.tasks, a.seconds))))
        finally:
            proxy.stop()

        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        @asynccontextmanager
        async def sqlite_saver():
            async with AsyncSqliteSaver.from_conn_string(str(work / "langgraph.db")) as saver:
                yield saver
        rows.append(("AsyncSqliteSaver (aiosqlite, its defaults)", asyncio.run(figures(sqlite_saver, a.tasks, a.seconds))))

        if not a.no_postgres:
            pg = work / "pg"
            server = start_postgres(pg)
            try:
                (work / "pg-proxy").mkdir()
                proxy = Proxy(work / "pg-proxy", ["--storage", "postgresql", "--database", database(server, "proxy_bench")])
                try:
                    rows.append(("AsyncProxySaver, PostgreSQL proxy (fsync=on)",
                                 asyncio.run(figures(lambda: AsyncProxySaver(proxy.address), a.tasks, a.seconds))))
                    stores.append(("AsyncProxyStore, PostgreSQL proxy (fsync=on)",
                                   asyncio.run(store_figures(lambda: AsyncProxyStore(proxy.address), a.tasks, a.seconds))))
                finally:
                    proxy.stop()
                from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
                from psycopg.rows import dict_row
                from psycopg_pool import AsyncConnectionPool
                url = database(server, "lg_bench")

                def pool(url):  # as LangGraph's docs set one up
                    return AsyncConnectionPool(url, min_size=16, max_size=64, open=False,
                                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})

                @asynccontextmanager
                async def postgres_saver():
                    async with pool(url) as connections:
                        saver = AsyncPostgresSaver(connections)
                        await saver.setup()
                        yield saver
                rows.append(("AsyncPostgresSaver (psycopg pool 16-64, fsync=on)", asyncio.run(figures(postgres_saver, a.tasks, a.seconds))))
                from langgraph.store.postgres.aio import AsyncPostgresStore
                store_url = database(server, "lg_store_bench")

                @asynccontextmanager
                async def postgres_store():
                    async with pool(store_url) as connections:
                        store = AsyncPostgresStore(connections)
                        await store.setup()
                        yield store
                stores.append(("AsyncPostgresStore (psycopg pool 16-64, fsync=on)", asyncio.run(store_figures(postgres_store, a.tasks, a.seconds))))
            finally:
                subprocess.run([str(REPO / "scripts" / "test-services"), "stop", str(pg)], stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{a.tasks} concurrent threads, {a.seconds:g} s each; Python {sys.version.split()[0]}")
    print(f"{'saver':<52} {'checkpoint ops/s':>17} {'graph steps/s':>14}")
    for name, (ops, steps) in rows:
        print(f"{name:<52} {ops:>17,.0f} {steps:>14,.0f}")
    by = dict(rows)
    for ours, theirs in [("AsyncProxySaver, SQLite proxy (synchronous=FULL)", "AsyncSqliteSaver (aiosqlite, its defaults)"),
                         ("AsyncProxySaver, PostgreSQL proxy (fsync=on)", "AsyncPostgresSaver (psycopg pool 16-64, fsync=on)")]:
        if ours in by and theirs in by:
            print(f"ratio {ours.split(',')[1].strip()} / {theirs.split(' ')[0]}: "
                  f"checkpoint ops {by[ours][0] / by[theirs][0]:.2f}×, graph steps {by[ours][1] / by[theirs][1]:.2f}×")
    if stores:
        print(f"\n{'store (put, get, filtered search)':<52} {'ops/s':>17}")
        for name, ops in stores:
            print(f"{name:<52} {ops:>17,.0f}")
        if len(stores) == 2:
            print(f"ratio AsyncProxyStore / AsyncPostgresStore: {stores[0][1] / stores[1][1]:.2f}×")


if __name__ == "__main__":
    main()
