"""APScheduler 4 side by side (run by scripts/bench-apscheduler; see its header):
WORKERS competing worker processes take JOBS no-op jobs from one store, each
acquired under a lease and released when done, first with APScheduler's
SQLAlchemy data store (and its asyncpg event broker) on PostgreSQL, then with
the proxy's ProxyDataStore (and ProxyEventBroker) on a proxy over the same
PostgreSQL. Timed from the
first job done (start-up does not count) to the last.

    bench_apscheduler.py POSTGRES_URL [WORKERS] [JOBS]
"""

import asyncio
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# Jobs one worker runs at once: 1 matches the proxy's claims benchmark; APScheduler's default is 100.
MAX_JOBS = int(os.environ.get("APSCHEDULER_MAX_CONCURRENT_JOBS", "1"))
# Jobs of the task that may run at once across all workers: APScheduler's default is 1 (every job of a task
# one after another, whatever the workers); "none" lets the workers run them side by side.
MAX_RUNNING = os.environ.get("APSCHEDULER_MAX_RUNNING_JOBS", "none")
TASK = {} if MAX_RUNNING == "default" else {"max_running_jobs": None if MAX_RUNNING == "none" else int(MAX_RUNNING)}
# "local": each worker with APScheduler's LocalEventBroker instead of the store's own across processes
# (no wake-ups between processes: the jobs are queued before the workers start).
BROKER = os.environ.get("APSCHEDULER_BROKER", "shared")
NAMESPACE = "bench"


def noop() -> None:
    pass


def database(url: str, name: str) -> str:
    subprocess.run(["psql", "-qX", "-d", url, "-c", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", "-qX", "-d", url, "-c", f"CREATE DATABASE {name}"], check=True)
    return url.rsplit("/", 1)[0] + "/" + name


def sqlalchemy_store(target: str, fresh: bool = False):
    from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
    return SQLAlchemyDataStore(target.replace("postgresql://", "postgresql+asyncpg://", 1), start_from_scratch=fresh)


def proxy_store(address: str, fresh: bool = False):
    from storage_proxy.apscheduler import ProxyDataStore
    return ProxyDataStore(address, namespace=NAMESPACE, start_from_scratch=fresh)


async def add_jobs(kind: str, where: str, jobs: int) -> None:
    from apscheduler import AsyncScheduler, SchedulerRole
    store = sqlalchemy_store(where, True) if kind == "sqlalchemy" else proxy_store(where, True)
    async with AsyncScheduler(store, role=SchedulerRole.scheduler) as s:
        await s.configure_task("noop", func=noop, **TASK)
        for _ in range(jobs):
            await s.add_job("noop")


async def work(kind: str, where: str, seconds: float) -> None:
    from apscheduler import AsyncScheduler, SchedulerRole
    from apscheduler.eventbrokers.local import LocalEventBroker
    if kind == "sqlalchemy":
        from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
        from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker
        from sqlalchemy.ext.asyncio import create_async_engine
        engine = create_async_engine(where.replace("postgresql://", "postgresql+asyncpg://", 1))
        broker = AsyncpgEventBroker.from_async_sqla_engine(engine) if BROKER == "shared" else LocalEventBroker()
        scheduler = AsyncScheduler(SQLAlchemyDataStore(engine), broker, role=SchedulerRole.worker, max_concurrent_jobs=MAX_JOBS)
    else:
        from storage_proxy.apscheduler import ProxyEventBroker
        broker = ProxyEventBroker(where, namespace=NAMESPACE) if BROKER == "shared" else LocalEventBroker()
        scheduler = AsyncScheduler(proxy_store(where), broker, role=SchedulerRole.worker, max_concurrent_jobs=MAX_JOBS)
    async with scheduler as s:
        await s.configure_task("noop", func=noop, **TASK)
        await s.start_in_background()
        await asyncio.sleep(seconds)


def worker(kind: str, where: str, seconds: float) -> None:
    asyncio.run(work(kind, where, seconds))


class Remaining:
    """How many jobs are left, read over one connection kept open (a psql started every 50 ms would take
    CPU from the 2 cores the workers and PostgreSQL share: ~10 ms a connection)."""

    def __init__(self, target: str, kind: str) -> None:
        import asyncpg
        self.query = "SELECT count(*) FROM jobs" if kind == "sqlalchemy" else \
            f"SELECT count(*) FROM tasks WHERE (agent_name = '{NAMESPACE}:jobs' OR agent_name LIKE '{NAMESPACE}:jobs:%') AND status IN ('pending', 'running')"
        self.loop = asyncio.new_event_loop()
        self.connection = self.loop.run_until_complete(asyncpg.connect(target))

    def __call__(self) -> int:
        return self.loop.run_until_complete(self.connection.fetchval(self.query))

    def close(self) -> None:
        self.loop.run_until_complete(self.connection.close())
        self.loop.close()


def start_proxy(target: str) -> subprocess.Popen:
    folder = Path(os.environ.get("BENCH_WORK", "/tmp")) / "proxy"
    folder.mkdir(exist_ok=True)
    sock = folder / "proxy.sock"
    log = open(folder / "proxy.log", "ab")
    proxy = subprocess.Popen([os.environ["STORAGE_PROXY_BIN"], "serve", "--socket", str(sock), "--storage", "postgresql",
                              "--database", target], cwd=folder, stdout=log, stderr=log)
    for _ in range(600):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(sock))
                return proxy
        except OSError:
            time.sleep(0.05)
    raise RuntimeError((folder / "proxy.log").read_text())


def run(kind: str, target: str, where: str, workers: int, jobs: int) -> float:
    asyncio.run(add_jobs(kind, where, jobs))
    # Statistics of the full queue, as autovacuum takes them within a minute of it filling: without them
    # the planner takes the fresh tables for empty, and either store's every claim reads the whole queue.
    subprocess.run(["psql", "-qX", "-d", target, "-c", "ANALYZE"], check=True)
    procs = [multiprocessing.Process(target=worker, args=(kind, where, 900)) for _ in range(workers)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 900
    remaining = Remaining(target, kind)
    while (left := remaining()) == jobs and time.monotonic() < deadline:
        time.sleep(0.02)
    start, first = time.monotonic(), left
    while left > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        left = remaining()
    elapsed = time.monotonic() - start
    remaining.close()
    for p in procs:
        p.terminate()
    for p in procs:
        p.join()
    done = first - left
    rate = done / max(elapsed, 1e-9)
    print(f"  {kind:10} {rate:8.0f} jobs/s ({done} jobs in {elapsed:.1f} s; {left} left)", flush=True)
    return rate


def main() -> int:
    url = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    print(f"APScheduler 4.0.0a6, {jobs} queued no-op jobs, {workers} worker processes, max_concurrent_jobs {MAX_JOBS},"
          f" the task's max_running_jobs {MAX_RUNNING},"
          f" one PostgreSQL (fsync=on), {os.cpu_count()} cores", flush=True)
    theirs_db = database(url, "apscheduler_bench")
    theirs = run("sqlalchemy", theirs_db, theirs_db, workers, jobs)
    target = database(url, "proxy_bench")
    proxy = start_proxy(target)
    try:
        ours = run("proxy", target, "unix://" + str(Path(os.environ.get("BENCH_WORK", "/tmp")) / "proxy" / "proxy.sock"),
                   workers, jobs)
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(30)
    print(f"  ProxyDataStore / SQLAlchemyDataStore: {ours / theirs:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
