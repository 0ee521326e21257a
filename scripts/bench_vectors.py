"""The vector store's benchmark (run by scripts/bench-vectors; see its header)."""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from storage_proxy import StorageProxyClient

REPO = Path(__file__).resolve().parents[1]
BINARY = os.environ.get("STORAGE_PROXY_BIN", str(REPO / ".build" / "release" / "storage-proxy"))
def vocabulary(rng, n=5000):
    """Pronounceable made-up words, drawn Zipf-like (a few common, most rare) as in real text."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = sorted({"".join(rng.choice(syllables, size=int(rng.integers(2, 4)))) for _ in range(n * 2)})[:n]
    weights = 1 / np.arange(1, len(words) + 1) ** 1.07
    return words, weights / weights.sum()


def unit_vectors(rng, n, d):
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def each_edition(work: Path, no_postgres: bool, figures, vector_config: str = ""):
    """`figures(name, proxy)` on a SQLite proxy, then (unless `no_postgres`) on one over a
    throwaway PostgreSQL with fsync=on that this starts and stops: their rows."""
    rows = []
    proxy = Proxy(work, ["--storage", "sqlite", "--database", str(work / "data.db")], vector_config)
    try:
        rows.append(figures("SQLite (synchronous=FULL)", proxy))
    finally:
        proxy.stop()
    if not no_postgres:
        pg = work / "pg-services"
        url = start_postgres(pg)
        try:
            (work / "pgproxy").mkdir()
            proxy = Proxy(work / "pgproxy", ["--storage", "postgresql", "--database", url], vector_config)
            try:
                rows.append(figures("PostgreSQL (fsync=on)", proxy))
            finally:
                proxy.stop()
        finally:
            subprocess.run([str(REPO / "scripts" / "test-services"), "stop", str(pg)], stdout=subprocess.DEVNULL)
    return rows


class Proxy:
    """`storage-proxy serve` in a folder of its own."""

    def __init__(self, folder: Path, args, vector_config: str = ""):
        self.socket = str(folder / "proxy.sock")
        (folder / "proxy.yaml").write_text("vector:\n  search_threads: 2\n" + vector_config)
        self.folder, self.args = folder, args
        self.start()

    def start(self):
        folder, args = self.folder, self.args
        self.log = open(folder / "proxy.log", "ab")
        self.process = subprocess.Popen([BINARY, "serve", "--config", str(folder / "proxy.yaml"), "--socket", self.socket] + args,
                                        cwd=folder, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.socket)
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError((folder / "proxy.log").read_text())
                time.sleep(0.05)
        raise RuntimeError("the proxy did not start")

    def restart(self):
        self.stop()
        self.start()

    @property
    def address(self):
        return "unix://" + self.socket

    def rss_mib(self):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


async def timed_rate(seconds, one):
    """Calls `one(i)` one at a time for `seconds`; returns calls per second."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await one(n)
        n += 1
    return n / (time.perf_counter() - start)


async def concurrent_rate(seconds, one, in_flight):
    """`in_flight` callers on one pipelined connection; calls per second in total."""
    counts = [0] * in_flight
    stop = time.perf_counter() + seconds

    async def caller(k):
        while time.perf_counter() < stop:
            await one(counts[k] * in_flight + k)
            counts[k] += 1
    start = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(in_flight)))
    return sum(counts) / (time.perf_counter() - start)


async def proxy_figures(name, proxy, vectors, texts, queries, exact_ids, seconds, queries_text):
    out = {"backend": name}
    async with StorageProxyClient(proxy.address) as c:
        await c.create_collection("bench", vectors.shape[1], "dot")
        out["add_per_s"] = add_rate(proxy, vectors, texts)
        await c.search(embedding=queries[0].tolist(), top_k=1, collection="bench")
        await c.drop_collection("bench")  # the Python client's own rate, on a collection made again
        await c.create_collection("bench", vectors.shape[1], "dot")
        batch, chunks = 100, list(range(0, len(vectors), 100))

        async def adder(k):
            for i in chunks[k::4]:
                await c.add_documents(texts[i:i + batch], None, vectors[i:i + batch],
                                      ids=[f"d{j}" for j in range(i, min(i + batch, len(vectors)))], collection="bench")
        start = time.perf_counter()
        await asyncio.gather(*(adder(k) for k in range(4)))
        out["client_add_per_s"] = len(vectors) / (time.perf_counter() - start)
        proxy.restart()  # a fresh process: the load below is all that is in memory
        rss_before = proxy.rss_mib()
        start = time.perf_counter()
        first = await c.search(embedding=queries[0].tolist(), top_k=10, collection="bench")
        out["first_search_s"] = time.perf_counter() - start  # loads the matrix from storage
        out["rss_before_mib"] = rss_before
        out["rss_added_mib"] = proxy.rss_mib() - rss_before
        status = await c.call("server.status")
        out["matrix_mib"] = status["vectors"]["memory_bytes"] / 2**20
        recall = []
        for q, exact in zip(queries[:50], exact_ids[:50]):
            hits = await c.search(embedding=q.tolist(), top_k=10, collection="bench")
            recall.append(len({h["id"] for h in hits} & {f"d{j}" for j in exact}) / 10)
        out["recall"] = float(np.mean(recall))
        qs = [q.tolist() for q in queries]

        async def vector_query(i):
            await c.search(embedding=qs[i % len(qs)], top_k=10, collection="bench")
        out["search_1"] = await timed_rate(seconds, vector_query)
        out["search_2"] = await concurrent_rate(seconds, vector_query, 2)
        words = queries_text

        async def keyword_query(i):
            await c.search(words[i % len(words)], top_k=10, collection="bench", mode="keyword")
        out["keyword_1"] = await timed_rate(seconds, keyword_query)
        out["keyword_4"] = await concurrent_rate(seconds, keyword_query, 4)
    del first
    return out


def add_rate(proxy, vectors, texts, batch=100, in_flight=8):
    """The proxy's add_documents rate: request lines made beforehand (float32's shortest text,
    100 documents a line: under server.max_line_bytes), sent on one connection with 8 in flight."""
    lines = []
    for i in range(0, len(vectors), batch):
        rows = ",".join("[" + ",".join(r.astype(str)) + "]" for r in vectors[i:i + batch])
        ids = json.dumps([f"d{j}" for j in range(i, min(i + batch, len(vectors)))])
        lines.append((f'{{"jsonrpc":"2.0","id":{i},"method":"vector.add_documents","params":{{"collection":"bench",'
                      f'"ids":{ids},"documents":{json.dumps(texts[i:i + batch])},"embeddings":[{rows}]}}}}\n').encode())
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(proxy.socket)
        answers = s.makefile("rb")
        start, sent, received = time.perf_counter(), 0, 0
        while received < len(lines):
            while sent < len(lines) and sent - received < in_flight:
                s.sendall(lines[sent])
                sent += 1
            answer = answers.readline()
            received += 1
            if b'"error"' in answer:
                raise RuntimeError(answer[:300].decode())
        return len(vectors) / (time.perf_counter() - start)


def faiss_flat(vectors):
    """FAISS's exact index on one thread (the exact scan's bound)."""
    import faiss
    faiss.omp_set_num_threads(1)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def faiss_rate(index, queries, seconds):
    """Queries/s of one search at a time, top-10."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        index.search(queries[n % len(queries):n % len(queries) + 1], 10)
        n += 1
    return n / (time.perf_counter() - start)


def faiss_figures(vectors, queries, seconds):
    import faiss
    index = faiss_flat(vectors)
    rate = faiss_rate(index, queries, seconds)
    _, exact = index.search(queries, 10)
    return rate, exact, faiss.__version__


def chroma_figures(vectors, queries, exact_ids, seconds, folder):
    import chromadb
    client = chromadb.PersistentClient(path=str(folder / "chroma"))
    collection = client.create_collection("bench", metadata={"hnsw:space": "ip"})
    start = time.perf_counter()
    batch = 5000
    for i in range(0, len(vectors), batch):
        collection.add(ids=[f"d{j}" for j in range(i, min(i + batch, len(vectors)))], embeddings=vectors[i:i + batch],
                       documents=[f"doc {j}" for j in range(i, min(i + batch, len(vectors)))])
    add_rate = len(vectors) / (time.perf_counter() - start)
    recall = []
    for q, exact in zip(queries, exact_ids):
        got = collection.query(query_embeddings=[q], n_results=10)["ids"][0]
        recall.append(len(set(got) & {f"d{j}" for j in exact}) / 10)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        collection.query(query_embeddings=[queries[n % len(queries)]], n_results=10)
        n += 1
    return n / (time.perf_counter() - start), float(np.mean(recall)), add_rate, chromadb.__version__


def start_postgres(folder):
    env = dict(os.environ, STORAGE_PROXY_TEST_PG_FSYNC="on")
    subprocess.run([str(REPO / "scripts" / "test-services"), "start", str(folder)], check=True, env=env, stdout=subprocess.DEVNULL)
    for line in (folder / "env").read_text().splitlines():
        if "STORAGE_PROXY_TEST_POSTGRES=" in line:
            return line.split("=", 1)[1].strip('"')
    raise RuntimeError("no PostgreSQL URL in " + str(folder / "env"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("--dimension", type=int, default=384)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-chroma", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(42)
    vectors = unit_vectors(rng, a.documents, a.dimension)
    queries = unit_vectors(rng, 64, a.dimension)
    words, weights = vocabulary(rng)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(8, 16)), p=weights)) for _ in range(a.documents)]
    queries_text = [" ".join(rng.choice(words, size=3, p=weights)) for _ in range(64)]
    work = Path(tempfile.mkdtemp(prefix="bench-vectors-"))
    os.chmod(work, 0o755)  # the PostgreSQL it starts runs as the postgres user
    try:
        faiss_rate, exact, faiss_version = faiss_figures(vectors, queries, a.seconds)
        rows = each_edition(work, a.no_postgres, lambda name, proxy: asyncio.run(
            proxy_figures(name, proxy, vectors, texts, queries, exact, a.seconds, queries_text)))
        chroma = None if a.no_chroma else chroma_figures(vectors, queries, exact, a.seconds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = f"{a.documents:,} × {a.dimension}"
    print(f"vector store, {n} random unit vectors, top-10, {a.seconds:g} s per figure, {os.cpu_count()} cores")
    print(f"  FAISS {faiss_version} IndexFlatIP, 1 thread, in process: {faiss_rate:8.1f} queries/s (the exact-search bound)")
    for r in rows:
        print(f"  proxy, {r['backend']}:")
        print(f"    add_documents, embeddings given, 100 a call, 8 in flight: {r['add_per_s']:10,.0f} documents/s"
              f" (through the Python client, 4 in flight: {r['client_add_per_s']:,.0f}/s, its JSON encoding the bound)")
        print(f"    vector search, 1 at a time: {r['search_1']:8.1f} queries/s = {r['search_1'] / faiss_rate:5.0%} of FAISS;"
              f" 2 in flight: {r['search_2']:8.1f} queries/s = {r['search_2'] / faiss_rate:5.0%}; recall@10 {r['recall']:.3f}")
        print(f"    keyword search on {a.documents:,} short texts (8-15 Zipf-distributed words; queries of 3): {r['keyword_1']:8.1f} queries/s, 4 in flight {r['keyword_4']:8.1f}")
        print(f"    memory: matrix {r['matrix_mib']:.0f} MiB; a restarted proxy's RSS {r['rss_before_mib']:.0f} MiB,"
              f" +{r['rss_added_mib']:.0f} MiB after its first search loaded the collection in {r['first_search_s']:.2f} s")
    if chroma:
        rate, recall, add_rate, version = chroma
        print(f"  Chroma {version}, in process, default HNSW (space ip): {rate:8.1f} queries/s, recall@10 {recall:.3f},"
              f" add {add_rate:,.0f} documents/s")
        for r in rows:
            print(f"    proxy {r['backend']} vs Chroma: {r['search_1'] / rate:.2f}× the rate at recall {r['recall']:.3f} vs {recall:.3f}")


if __name__ == "__main__":
    sys.exit(main())
