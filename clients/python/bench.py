"""Calls per second the Python asyncio client sees, over the Unix socket.

    python clients/python/bench.py [--proxy .build/release/storage-proxy | --address unix:///…] [--seconds 3]

With --proxy it starts that binary on a fresh SQLite file in a temporary
folder (Personal Edition defaults: synchronous=FULL, in-process cache). For
each workload (get_task, save_log) and each concurrency (1 and 64 tasks on
one client connection) it prints calls/s and the median latency.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_proxy import StorageProxyClient  # noqa: E402

TASK = {"id": "bench", "agent_name": "bench", "task_prompt": "p", "schedule_type": "cron", "schedule_value": "* * * * *"}


async def measure(client, workload, tasks, seconds):
    call = (lambda: client.get_task("bench")) if workload == "get_task" else (
        lambda: client.save_log("bench", "INFO", "a line of the run log"))
    latencies = []
    stop = time.perf_counter() + seconds

    async def worker():
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2] * 1e6


async def main(address, seconds):
    async with StorageProxyClient(address) as client:
        await client.save_task(TASK)
        print(f"Python {sys.version.split()[0]} asyncio client, {address}, {seconds:g} s each")
        print(f"{'workload':<10} {'tasks':>5} {'calls/s':>10} {'p50 µs':>9}")
        for workload in ("get_task", "save_log"):
            for tasks in (1, 64):
                rate, p50 = await measure(client, workload, tasks, seconds)
                print(f"{workload:<10} {tasks:>5} {rate:>10.0f} {p50:>9.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a running proxy (unix:///path or tcp://host:port)")
    parser.add_argument("--proxy", help="start this storage-proxy binary on a fresh SQLite file")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.proxy:
        folder = tempfile.mkdtemp(prefix="pybench-")
        sock = os.path.join(folder, "proxy.sock")
        server = subprocess.Popen([args.proxy, "serve", "--database", os.path.join(folder, "data.db"), "--socket", sock],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(sock):
            time.sleep(0.02)
        try:
            asyncio.run(main("unix://" + sock, args.seconds))
        finally:
            server.terminate()
            server.wait()
    elif args.address:
        asyncio.run(main(args.address, args.seconds))
    else:
        parser.error("give --proxy or --address")
