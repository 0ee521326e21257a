"""LangChain vector stores side by side (run by scripts/bench-langchain; see its header)."""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

from bench_search import clustered_unit_vectors
from bench_vectors import each_edition, unit_vectors
from storage_proxy.langchain import ProxyVectorStore

K = 10


class Precomputed(Embeddings):
    """The corpus's and the queries' vectors by text: the stores are measured, not a model."""

    def __init__(self, by_text):
        self.by_text = by_text

    def embed_documents(self, texts):
        return [self.by_text[t] for t in texts]

    def embed_query(self, text):
        return self.by_text[text]


def figures(store, texts, queries, nearest, seconds, batch=1000, **first):
    """Load time, then similarity_search one at a time (the way an agent's retriever calls it)
    and recall@10 against the exact neighbours."""
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        store.add_texts(texts[i:i + batch], ids=[str(j) for j in range(i, min(i + batch, len(texts)))])
    load = time.perf_counter() - start
    start = time.perf_counter()
    store.similarity_search(queries[0], k=K, **first)  # the proxy's (exact=False) waits for its graph
    first = time.perf_counter() - start
    recall = np.mean([len({d.id for d in store.similarity_search(q, k=K)} & {str(j) for j in e}) / K
                      for q, e in zip(queries, nearest)])
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        store.similarity_search(queries[n % len(queries)], k=K)
        n += 1
    return {"load_s": load, "first_s": first, "rate": n / (time.perf_counter() - start), "recall": float(recall)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("--dimension", type=int, default=384)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(30)
    centres = unit_vectors(rng, 1000, a.dimension)
    vectors = clustered_unit_vectors(rng, a.documents, a.dimension, centres)
    query_vectors = clustered_unit_vectors(rng, 64, a.dimension, centres)
    texts = [f"document {i}" for i in range(a.documents)]
    queries = [f"query {i}" for i in range(len(query_vectors))]
    embeddings = Precomputed({**dict(zip(texts, vectors.tolist())), **dict(zip(queries, query_vectors.tolist()))})
    exact = np.argsort(-(query_vectors @ vectors.T), axis=1)[:, :K]

    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-langchain-"))
    os.chmod(work, 0o755)  # the PostgreSQL it starts runs as the postgres user
    try:
        def proxy_row(name, proxy):
            store = ProxyVectorStore(proxy.address, embeddings, collection="bench")
            try:
                return {"name": f"ProxyVectorStore, {name}", **figures(store, texts, queries, exact, a.seconds, exact=False)}
            finally:
                store.close()
        rows += each_edition(work, a.no_postgres, proxy_row,
                             f"  max_memory_bytes: {max(2 << 30, a.documents * 5000)}\n")
        rows.append({"name": "InMemoryVectorStore (langchain-core)",
                     **figures(InMemoryVectorStore(embeddings), texts, queries, exact, a.seconds)})
        from langchain_chroma import Chroma
        import chromadb
        chroma = Chroma("bench", embeddings, persist_directory=str(work / "chroma"),
                        collection_metadata={"hnsw:space": "cosine"})
        rows.append({"name": f"Chroma {chromadb.__version__} (langchain-chroma, persistent, in process)",
                     **figures(chroma, texts, queries, exact, a.seconds, batch=5000)})
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"LangChain similarity_search, {a.documents:,} documents × {a.dimension} (clustered unit vectors), top-{K},"
          f" one at a time, {a.seconds:g} s per figure, {os.cpu_count()} cores")
    base = next(r for r in rows if r["name"].startswith("InMemory"))["rate"]
    for r in rows:
        print(f"  {r['name']}: {r['rate']:8.1f} queries/s ({r['rate'] / base:6.1f}× InMemoryVectorStore),"
              f" recall@10 {r['recall']:.3f}; added in {r['load_s']:.1f} s, first search {r['first_s']:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
