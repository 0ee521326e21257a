"""Search that scales (run by scripts/bench-search; see its header)."""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_vectors import Proxy, concurrent_rate, start_postgres, timed_rate, unit_vectors
from storage_proxy import StorageProxyClient


def vocabulary(rng, n):
    """n made-up words drawn Zipf-like (word i about as often as 1/i)."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables, size=int(rng.integers(2, 5)))))
    words = sorted(words)
    rng.shuffle(words)
    weights = 1 / np.arange(1, n + 1)
    return words, weights / weights.sum()


def corpus(rng, documents, queries):
    words, weights = vocabulary(rng, 30_000)
    lengths = rng.integers(8, 31, size=documents)
    drawn = rng.choice(len(words), size=int(lengths.sum()), p=weights)
    texts, at = [], 0
    for n in lengths:
        texts.append(" ".join(words[j] for j in drawn[at:at + n]))
        at += n
    asked = [" ".join(words[j] for j in rng.choice(len(words), size=int(rng.integers(2, 4)), p=weights)) for _ in range(queries)]
    metadata = [{"group": i % 10, "bucket": i % 100, "doc": {"year": 2000 + i % 25}} for i in range(documents)]
    return texts, asked, metadata


def tantivy_figures(texts, queries, seconds):
    """tantivy in process, one thread, BM25 over the same texts (English stemming, as the proxy)."""
    import tantivy
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="en_stem")
    builder.add_unsigned_field("n", stored=True, indexed=False)
    index = tantivy.Index(builder.build())
    writer = index.writer(heap_size=1_000_000_000, num_threads=1)
    start = time.perf_counter()
    for i, t in enumerate(texts):
        writer.add_document(tantivy.Document(body=t, n=i))
    writer.commit()
    writer.wait_merging_threads()
    built = time.perf_counter() - start
    index.reload()
    searcher = index.searcher()
    parsed = [index.parse_query(q, ["body"]) for q in queries]
    top = [[searcher.doc(address)["n"][0] for _, address in searcher.search(p, 10).hits] for p in parsed]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        searcher.search(parsed[n % len(parsed)], 10)
        n += 1
    return n / (time.perf_counter() - start), top, built, tantivy.__version__ if hasattr(tantivy, "__version__") else "?"


async def proxy_figures(name, proxy, texts, metadata, queries, vectors, vector_queries, tantivy_top, seconds):
    out = {"backend": name}
    async with StorageProxyClient(proxy.address) as c:
        await c.create_collection("search", vectors.shape[1], "cosine")
        start = time.perf_counter()
        batch = 1000

        async def adder(k):
            for i in range(k * batch, len(texts), 4 * batch):
                await c.add_documents(texts[i:i + batch], metadata[i:i + batch], vectors[i:i + batch],
                                      ids=[f"d{j}" for j in range(i, min(i + batch, len(texts)))], collection="search")
        await asyncio.gather(*(adder(k) for k in range(4)))
        out["add_s"] = time.perf_counter() - start
        proxy.restart()
        start = time.perf_counter()
        await c.search(queries[0], top_k=10, collection="search", mode="keyword")
        out["load_s"] = time.perf_counter() - start
        status = await c.call("server.status")
        out["memory_mib"] = status["vectors"]["memory_bytes"] / 2**20
        overlap = []
        for q, theirs in zip(queries, tantivy_top):
            hits = await c.search(q, top_k=10, collection="search", mode="keyword")
            mine = {int(h["id"][1:]) for h in hits}
            if theirs:
                overlap.append(len(mine & set(theirs)) / len(theirs))
        out["overlap"] = float(np.mean(overlap))

        async def keyword(i):
            await c.search(queries[i % len(queries)], top_k=10, collection="search", mode="keyword")
        out["keyword_1"] = await timed_rate(seconds, keyword)
        out["keyword_4"] = await concurrent_rate(seconds, keyword, 4)
        for label, flt in (("10%", {"group": 3}), ("1%", {"bucket": 7})):
            async def filtered(i, flt=flt):
                await c.search(queries[i % len(queries)], top_k=10, collection="search", mode="keyword", filter=flt)
            out[f"keyword_{label}"] = await timed_rate(seconds, filtered)
            qs = [v.tolist() for v in vector_queries]

            async def vector(i, flt=flt):
                await c.search(embedding=qs[i % len(qs)], top_k=10, collection="search", filter=flt)
            out[f"vector_{label}"] = await timed_rate(seconds, vector)
        nested = {"$or": [{"doc.year": {"$gte": 2020}}, {"bucket": {"$in": [1, 2, 3]}}], "group": {"$ne": 5}}

        async def nested_query(i):
            await c.search(queries[i % len(queries)], top_k=10, collection="search", mode="keyword", filter=nested)
        out["keyword_nested"] = await timed_rate(seconds, nested_query)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("--dimension", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(29)
    texts, queries, metadata = corpus(rng, a.documents, a.queries)
    vectors = unit_vectors(rng, a.documents, a.dimension)
    vector_queries = unit_vectors(rng, 64, a.dimension)
    tantivy_rate, tantivy_top, tantivy_build, tantivy_version = tantivy_figures(texts, queries, a.seconds)
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.chmod(work, 0o755)  # the PostgreSQL it starts runs as the postgres user
    rows = []
    try:
        proxy = Proxy(work, ["--storage", "sqlite", "--database", str(work / "data.db")])
        try:
            rows.append(asyncio.run(proxy_figures("SQLite (synchronous=FULL)", proxy, texts, metadata, queries, vectors,
                                                  vector_queries, tantivy_top, a.seconds)))
        finally:
            proxy.stop()
        if not a.no_postgres:
            pg = work / "pg-services"
            url = start_postgres(pg)
            try:
                (work / "pgproxy").mkdir()
                proxy = Proxy(work / "pgproxy", ["--storage", "postgresql", "--database", url])
                try:
                    rows.append(asyncio.run(proxy_figures("PostgreSQL (fsync=on)", proxy, texts, metadata, queries, vectors,
                                                          vector_queries, tantivy_top, a.seconds)))
                finally:
                    proxy.stop()
            finally:
                import subprocess
                subprocess.run([str(Path(__file__).resolve().parents[1] / "scripts" / "test-services"), "stop", str(pg)],
                               stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"search, {a.documents:,} documents of 8-30 words (Zipf over 30,000 words), {a.queries} queries of 2-3 words, top-10, "
          f"{a.seconds:g} s per figure, {os.cpu_count()} cores")
    print(f"  tantivy {tantivy_version} (BM25, en_stem), in process, 1 thread: {tantivy_rate:8.1f} queries/s (index built in {tantivy_build:.1f} s)")
    for r in rows:
        print(f"  proxy, {r['backend']}: added in {r['add_s']:.1f} s; a restarted proxy loaded the collection in {r['load_s']:.2f} s"
              f" ({r['memory_mib']:.0f} MiB with the {a.dimension}-float vectors)")
        print(f"    keyword, 1 at a time: {r['keyword_1']:8.1f} queries/s = {r['keyword_1'] / tantivy_rate:5.0%} of tantivy;"
              f" 4 in flight: {r['keyword_4']:8.1f}; top-10 overlap with tantivy {r['overlap']:.3f}")
        print(f"    keyword filtered: 10% pass {r['keyword_10%']:8.1f} queries/s, 1% pass {r['keyword_1%']:8.1f},"
              f" $or/$in/$ne on a dotted path {r['keyword_nested']:8.1f}")
        print(f"    vector (exact) filtered: 10% pass {r['vector_10%']:8.1f} queries/s, 1% pass {r['vector_1%']:8.1f} (recall 1.0)")


if __name__ == "__main__":
    sys.exit(main())
