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

from bench_vectors import concurrent_rate, each_edition, faiss_figures, faiss_flat, faiss_rate, timed_rate, unit_vectors
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


def clustered_unit_vectors(rng, n, d, centres):
    """Unit vectors near one of the centres each (embeddings cluster by topic):
    nearest neighbours have structure a graph can follow, as real ones do."""
    x = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, d), dtype=np.float32) * np.float32(0.8 / np.sqrt(d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def hnswlib_figures(vectors, queries, seconds):
    """hnswlib in process (M 16, ef_construction 100, the proxy's defaults), one thread: build time, rate and recall@10 per ef."""
    try:
        import hnswlib
    except ImportError:
        return None
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    start = time.perf_counter()
    index.init_index(max_elements=len(vectors), M=16, ef_construction=100)
    index.set_num_threads(2)
    index.add_items(vectors, np.arange(len(vectors)))
    built = time.perf_counter() - start
    index.set_num_threads(1)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    out = {"build_s": built}
    for ef in (64, 128):
        index.set_ef(ef)
        labels, _ = index.knn_query(queries, k=10)
        out[f"recall_{ef}"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(labels, exact)]))
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            index.knn_query(queries[n % len(queries)], k=10)
            n += 1
        out[f"rate_{ef}"] = n / (time.perf_counter() - start)
    return out


async def approximate_figures(c, qs, seconds, out, flat):
    """Vector search through the graph against the exact scan, same proxy, same run."""
    start = time.perf_counter()
    await c.search(embedding=qs[0], top_k=10, collection="search", exact=False)  # waits for the graph
    out["graph_s"] = time.perf_counter() - start
    out["graph_mib"] = (await c.call("server.status"))["vectors"]["memory_bytes"] / 2**20

    async def top(q, **kw):
        return {h["id"] for h in await c.search(embedding=q, top_k=10, collection="search", **kw)}

    for label, flt in (("", None), ("_10%", {"group": 3}), ("_1%", {"bucket": 7})):
        exact = [await top(q, exact=True, filter=flt) for q in qs]
        for ef in (64, 128):
            found = [await top(q, ef=ef, filter=flt) for q in qs]
            out[f"recall{label}_{ef}"] = float(np.mean([len(a & b) / max(len(b), 1) for a, b in zip(found, exact)]))

            async def approximate(i, ef=ef, flt=flt):
                await c.search(embedding=qs[i % len(qs)], top_k=10, collection="search", ef=ef, filter=flt)
            out[f"ann{label}_{ef}"] = await timed_rate(seconds, approximate)
            if not flt:
                out[f"ann_4_{ef}"] = await concurrent_rate(seconds, approximate, 4)

        async def scan(i, flt=flt):
            await c.search(embedding=qs[i % len(qs)], top_k=10, collection="search", exact=True, filter=flt)
        if flt is None:
            # This machine's memory speed drifts within minutes: FAISS is timed in turns with the scan, same queries.
            mine, theirs = [], []
            for _ in range(4):
                mine.append(await timed_rate(seconds / 2, scan))
                theirs.append(faiss_rate(flat, np.asarray(qs, dtype=np.float32), seconds / 2))
            out["exact"], out["faiss_beside"] = float(np.mean(mine)), float(np.mean(theirs))
        else:
            out[f"exact{label}"] = await timed_rate(seconds, scan)
    # Filters the postings narrow besides equality: a range (1% pass), and an $or of a range and a dotted path (2%).
    for label, flt in (("range", {"bucket": {"$gte": 40, "$lt": 41}}),
                       ("or", {"$or": [{"bucket": {"$lt": 1}}, {"doc.year": 2024, "bucket": 24}]})):
        async def scan(i, flt=flt):
            await c.search(embedding=qs[i % len(qs)], top_k=10, collection="search", exact=True, filter=flt)
        out[f"exact_{label}"] = await timed_rate(seconds, scan)
    # What a vector search costs besides the ranking (the client's JSON, the socket, the proxy's call): one document.
    await c.create_collection("floor", len(qs[0]), "cosine")
    await c.add_documents(["one"], None, [qs[1]], ids=["one"], collection="floor")

    async def floor(i):
        await c.search(embedding=qs[i % len(qs)], top_k=10, collection="floor")
    out["floor"] = await timed_rate(seconds, floor)


async def proxy_figures(name, proxy, texts, metadata, queries, vectors, vector_queries, tantivy_top, seconds, flat):
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
                await c.search(embedding=qs[i % len(qs)], top_k=10, collection="search", filter=flt, exact=True)
            out[f"vector_{label}"] = await timed_rate(seconds, vector)
        nested = {"$or": [{"doc.year": {"$gte": 2020}}, {"bucket": {"$in": [1, 2, 3]}}], "group": {"$ne": 5}}

        async def nested_query(i):
            await c.search(queries[i % len(queries)], top_k=10, collection="search", mode="keyword", filter=nested)
        out["keyword_nested"] = await timed_rate(seconds, nested_query)
        await approximate_figures(c, [v.tolist() for v in vector_queries], seconds, out, flat)
    # A restart with the graph saved (vector.graph_directory, on by default on SQLite): load, then read the graph back.
    proxy.restart()
    async with StorageProxyClient(proxy.address) as c:
        start = time.perf_counter()
        await c.search(queries[0], top_k=10, collection="search", mode="keyword")
        out["reload_s"] = time.perf_counter() - start
        start = time.perf_counter()
        await c.search(embedding=vector_queries[0].tolist(), top_k=10, collection="search", exact=False)
        out["graph_reload_s"] = time.perf_counter() - start
        vectors_status = (await c.call("server.status"))["vectors"]
        out["graphs_loaded"] = vectors_status["graphs_loaded"]
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
    centres = unit_vectors(rng, 1000, a.dimension)
    vectors = clustered_unit_vectors(rng, a.documents, a.dimension, centres)
    vector_queries = clustered_unit_vectors(rng, 64, a.dimension, centres)
    tantivy_rate, tantivy_top, tantivy_build, tantivy_version = tantivy_figures(texts, queries, a.seconds)
    theirs = hnswlib_figures(vectors, vector_queries, a.seconds)
    flat_rate, _, faiss_version = faiss_figures(vectors, vector_queries, a.seconds)
    flat = faiss_flat(vectors)
    # Room for the matrix, the graph and the words of every document (the default 2 GiB holds about 500,000 of 384 floats).
    memory = f"  max_memory_bytes: {max(2 << 30, a.documents * 5000)}\n"
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.chmod(work, 0o755)  # the PostgreSQL it starts runs as the postgres user
    try:
        rows = each_edition(work, a.no_postgres, lambda name, proxy: asyncio.run(
            proxy_figures(name, proxy, texts, metadata, queries, vectors, vector_queries, tantivy_top, a.seconds, flat)), memory)
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
        print(f"    vector, HNSW graph built in {r['graph_s']:.1f} s (M 16, ef_construction 100, 1 builder thread);"
              f" {r['graph_mib']:.0f} MiB in memory with it")
        print(f"      (a search of a 1-document collection, the same client: {r['floor']:8.1f} queries/s)")
        how = "read back from vector.graph_directory" if r["graphs_loaded"] else "built again (no saved graph)"
        print(f"      restarted again: collection loaded in {r['reload_s']:.1f} s, then its graph {how} in {r['graph_reload_s']:.1f} s")
        print(f"      exact scan {r['exact']:8.1f} queries/s = {r['exact'] / r['faiss_beside']:.0%} of FAISS's flat index timed in turns with it"
              f" ({r['faiss_beside']:8.1f}); filtered by a range (1% pass) {r['exact_range']:8.1f}, by $or of a range and a dotted path"
              f" (2%) {r['exact_or']:8.1f}")
        print(f"      graph, 4 in flight on one connection:"
              f" ef 64 {r['ann_4_64']:8.1f} queries/s, ef 128 {r['ann_4_128']:8.1f}")
        for label, name in (("", "no filter"), ("_10%", "10% pass"), ("_1%", "1% pass")):
            print(f"      {name:9}: exact scan {r['exact' + label]:8.1f} queries/s; graph ef 64 {r['ann' + label + '_64']:8.1f} (recall@10"
                  f" {r['recall' + label + '_64']:.3f}), ef 128 {r['ann' + label + '_128']:8.1f} ({r['recall' + label + '_128']:.3f})")
    print(f"  FAISS {faiss_version} IndexFlatIP (exact), in process, 1 thread: {flat_rate:8.1f} queries/s (alone, before the proxies)")
    if theirs:
        print(f"  hnswlib 0.8.0 in process (M 16, ef_construction 100), 1 thread: built in {theirs['build_s']:.1f} s on 2 threads;"
              f" ef 64 {theirs['rate_64']:8.1f} queries/s (recall@10 {theirs['recall_64']:.3f}), ef 128 {theirs['rate_128']:8.1f}"
              f" ({theirs['recall_128']:.3f})")


if __name__ == "__main__":
    sys.exit(main())
