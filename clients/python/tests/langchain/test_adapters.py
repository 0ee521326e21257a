"""What the LangChain adapters promise beyond LangChain's standard suites: the proxy's filters
passed through, scores, MMR, "delete all", the LLM cache inside a real LangChain call (with a TTL,
and a clear() that keeps other prefixes), the byte store's isolation, paging and durability."""

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage

from storage_proxy import InvalidParams
from storage_proxy import langchain_bytestore
from storage_proxy.langchain import ProxyByteStore, ProxyCache, ProxyVectorStore

EMBEDDINGS = DeterministicFakeEmbedding(size=16)


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def vectors(proxy):
    store = ProxyVectorStore(proxy.address, EMBEDDINGS, collection=name("lc"))
    yield store
    store.close()


def test_filters_reach_the_proxy(vectors):
    vectors.add_texts(["alpha", "beta", "gamma", "delta"],
                      [{"year": 2019, "author": {"name": "ann"}}, {"year": 2021, "author": {"name": "bo"}},
                       {"year": 2023, "author": {"name": "cy"}}, {"year": 2024}])
    found = vectors.similarity_search("alpha", k=10, filter={"year": {"$gte": 2021}})
    assert sorted(d.page_content for d in found) == ["beta", "delta", "gamma"]
    found = vectors.similarity_search("alpha", k=10, filter={"$or": [{"author.name": "ann"}, {"year": 2024}]})
    assert sorted(d.page_content for d in found) == ["alpha", "delta"]
    found = vectors.similarity_search("alpha", k=10, filter={"author.name": {"$exists": False}})
    assert [d.page_content for d in found] == ["delta"]
    with pytest.raises(InvalidParams) as bad:
        vectors.similarity_search("alpha", filter={"year": {"$regex": "^20"}})
    assert bad.value.field.startswith("filter")


async def test_scores_best_first_and_the_same_text_nearest(vectors):
    texts = [f"text {i}" for i in range(20)]
    ids = await vectors.aadd_texts(texts)
    assert len(set(ids)) == 20
    scored = await vectors.asimilarity_search_with_score("text 7", k=5)
    assert scored[0][0].page_content == "text 7" and scored[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
    relevance = vectors.similarity_search_with_relevance_scores("text 7", k=5)
    assert relevance[0][1] == pytest.approx(1.0, abs=1e-5) and all(r <= 1.0 + 1e-6 for _, r in relevance)
    by_vector = vectors.similarity_search_by_vector(EMBEDDINGS.embed_query("text 3"), k=1)
    assert by_vector[0].page_content == "text 3"


def test_mmr_prefers_a_different_document_to_a_copy(vectors):
    vectors.add_texts(["same", "same", "same", "other"], ids=["s1", "s2", "s3", "o"])
    relevant = vectors.similarity_search("same", k=2)
    assert {d.page_content for d in relevant} == {"same"}
    diverse = vectors.max_marginal_relevance_search("same", k=2, fetch_k=4, lambda_mult=0.25)
    assert [d.page_content for d in diverse] == ["same", "other"]
    diverse = asyncio.run(vectors.amax_marginal_relevance_search("same", k=2, fetch_k=4, lambda_mult=0.25))
    assert [d.page_content for d in diverse] == ["same", "other"]


def test_delete_without_ids_empties_the_collection_and_adds_make_it_again(vectors):
    vectors.add_texts(["one", "two"])
    assert vectors.delete() is True
    assert vectors.similarity_search("one") == []
    vectors.add_texts(["three"], ids=["3"])
    assert [d.id for d in vectors.similarity_search("three")] == ["3"]


def test_from_texts_and_a_second_store_on_the_same_collection(proxy):
    collection = name("shared")
    first = ProxyVectorStore.from_texts(["kept"], EMBEDDINGS, [{"k": 1}], ids=["a"], address=proxy.address,
                                        collection=collection)
    second = asyncio.run(ProxyVectorStore.afrom_texts(["also"], EMBEDDINGS, ids=["b"], address=proxy.address,
                                                      collection=collection))
    try:
        assert sorted(d.id for d in first.get_by_ids(["a", "b", "missing"])) == ["a", "b"]
        assert first.get_by_ids(["a"])[0].metadata == {"k": 1}
    finally:
        first.close()
        second.close()


def test_without_an_embedder_a_new_collection_names_the_problem(proxy):
    store = ProxyVectorStore(proxy.address, None, collection=name("bare"))
    try:
        with pytest.raises(InvalidParams) as unknown:
            store.add_texts(["no vector, no dimension"])
        assert unknown.value.field == "collection"
    finally:
        store.close()


def test_one_store_from_several_threads(vectors):
    failures = []

    def add(worker):
        try:
            for i in range(10):
                vectors.add_texts([f"w{worker} {i}"], ids=[f"w{worker}-{i}"])
        except Exception as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=add, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(vectors.get_by_ids([f"w{w}-{i}" for w in range(4) for i in range(10)])) == 40


def test_llm_cache_answers_a_repeated_prompt(proxy):
    cache = ProxyCache(proxy.address, prefix=name("llm") + ":")
    set_llm_cache(cache)
    try:
        llm = FakeListLLM(responses=["first answer", "second answer"])
        assert llm.invoke("the prompt") == "first answer"
        assert llm.invoke("the prompt") == "first answer"  # from the cache: the model was not called again
        assert llm.invoke("another prompt") == "second answer"
        chat = GenericFakeChatModel(messages=iter([AIMessage(content="hello", id="m1"), AIMessage(content="bye")]))
        assert chat.invoke("hi").content == "hello"
        again = chat.invoke("hi")  # a ChatGeneration revived with its message
        assert isinstance(again, AIMessage) and again.content == "hello"
    finally:
        set_llm_cache(None)
        cache.close()


def test_llm_cache_ttl_and_clear_by_prefix(proxy):
    # A prefix with glob characters is cleared literally: "p*:" must not clear "pq:".
    tag = uuid.uuid4().hex[:8]
    short = ProxyCache(proxy.address, prefix=f"{tag}p*:", ttl=timedelta(seconds=1))
    other = ProxyCache(proxy.address, prefix=f"{tag}pq:")
    try:
        for cache in (short, other):
            cache.update("prompt", "llm", [FakeListLLM(responses=["x"]).generate(["prompt"]).generations[0][0]])
        short.clear()
        assert short.lookup("prompt", "llm") is None
        assert other.lookup("prompt", "llm")[0].text == "x"
        short.update("prompt", "llm", other.lookup("prompt", "llm"))
        assert short.lookup("prompt", "llm")[0].text == "x"
        time.sleep(1.5)
        assert short.lookup("prompt", "llm") is None
        assert other.lookup("prompt", "llm") is not None
    finally:
        short.close()
        other.close()


def test_byte_stores_keep_to_their_namespace_and_page_their_keys(proxy, monkeypatch):
    monkeypatch.setattr(langchain_bytestore, "PAGE", 2)
    tag = uuid.uuid4().hex[:8]
    mine, theirs = (ProxyByteStore(proxy.address, namespace=f"{tag}:{n}:") for n in ("mine", "theirs"))
    try:
        mine.mset([(f"k{i}", bytes([i]) * i) for i in range(5)])
        theirs.mset([("k0", b"theirs")])
        assert list(mine.yield_keys()) == [f"k{i}" for i in range(5)]
        assert list(theirs.yield_keys()) == ["k0"]

        async def keys():
            return [k async for k in mine.ayield_keys(prefix="k3")]
        assert asyncio.run(keys()) == ["k3"]
        mine.mdelete(["k0", "k1"])
        assert theirs.mget(["k0"]) == [b"theirs"]
        assert mine.mget(["k0", "k4"]) == [None, b"\x04" * 4]
    finally:
        mine.close()
        theirs.close()


def test_byte_store_values_outlive_the_proxy(proxy):
    namespace = name("durable") + ":"
    store = ProxyByteStore(proxy.address, namespace=namespace)
    store.mset([("blob", bytes(range(256)) * 4)])
    store.close()
    proxy.stop()
    proxy.start()
    store = ProxyByteStore(proxy.address, namespace=namespace)
    try:
        assert store.mget(["blob"]) == [bytes(range(256)) * 4]
    finally:
        store.close()


def test_the_proxy_embeds_for_a_store_without_embeddings(embedding_proxy):
    proxy, stats_file = embedding_proxy
    store = ProxyVectorStore(proxy.address, None, collection=name("proxy-embedded"), dimension=16)
    try:
        store.add_texts(["cats purr softly", "rain falls on the roof"], ids=["cats", "rain"])
        assert [d.id for d in store.similarity_search("rain falls", k=2)] == ["rain", "cats"]
        with pytest.raises(ValueError, match="embedding"):
            store.max_marginal_relevance_search("rain")
    finally:
        store.close()
    assert '"texts": 3' in stats_file.read_text()  # the two documents and the query, by the proxy


def test_the_readme_snippet_runs_as_written(proxy):
    """The client README's LangChain block, run as a script against a real proxy (the address from
    the environment, as the snippet reads it): twice, the second run finding the first's data."""
    import os
    import re
    import subprocess
    import sys
    from conftest import REPO
    text = (REPO / "clients" / "python" / "README.md").read_text()
    snippet = re.search(r"```python\n(# LangChain:.*?)```", text, re.S).group(1)
    env = dict(os.environ, STORAGE_PROXY_ADDRESS=proxy.address)
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, env=env)
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines() == ["reset", "True", "[b'\\x00\\xff'] ['state']"]


def test_a_script_that_never_closes_them_still_exits(proxy):
    """Each adapter's connection lives on a daemon thread: a script that ends without close() must
    not wait for that thread at exit (it waited forever once)."""
    import subprocess
    import sys
    script = f"""
from storage_proxy.langchain import ProxyByteStore, ProxyCache, ProxyVectorStore
from storage_proxy.langgraph import ProxyStore
from langchain_core.embeddings import DeterministicFakeEmbedding
address = {proxy.address!r}
kept = [ProxyVectorStore(address, DeterministicFakeEmbedding(size=4), collection="exit"), ProxyCache(address),
        ProxyByteStore(address), ProxyStore(address)]
kept[0].add_texts(["x"]); kept[1].lookup("p", "l"); kept[2].mget(["k"]); kept[3].get(("n",), "k")
print("done")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout == "done\n", run.stderr


def test_a_thousand_wide_documents_are_split_to_fit_a_line(proxy):
    # 1,000 embeddings of 4,096 float32s are 22 MB of base64: one call would pass server.max_line_bytes.
    store = ProxyVectorStore(proxy.address, DeterministicFakeEmbedding(size=4096), collection=name("wide"))
    try:
        ids = store.add_texts([f"wide {i}" for i in range(1000)])
        assert len(store.get_by_ids(ids)) == 1000
        assert store.similarity_search("wide 999", k=1)[0].page_content == "wide 999"
    finally:
        store.close()
