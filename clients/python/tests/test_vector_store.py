"""The vector store through the Python client, as the seed's ``VectorStoreAdapter``
defines it (plus collections), on both editions: exact results checked against a
brute-force numpy reference, filters, hybrid ranking, transactions, two proxies."""

import asyncio

import numpy as np
import pytest

from storage_proxy import InvalidParams, StorageClient, StorageProxyClient


def brute_force(matrix, query, k, metric):
    if metric == "cosine":
        scores = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    elif metric == "dot":
        scores = matrix @ query
    else:
        scores = -np.linalg.norm(matrix - query, axis=1)
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_exact_results_equal_numpy_brute_force(proxy, metric):
    rng = np.random.default_rng(1234)
    matrix = rng.standard_normal((2000, 64)).astype(np.float32)

    async def scenario():
        async with StorageProxyClient(proxy.address) as client:
            await client.create_collection("random", 64, metric)
            for start in range(0, len(matrix), 500):
                ids = [f"v{i}" for i in range(start, start + 500)]
                await client.add_documents([f"doc {i}" for i in range(start, start + 500)], None,
                                           matrix[start:start + 500], ids=ids, collection="random")
            for _ in range(10):
                query = rng.standard_normal(64).astype(np.float32)
                order, scores = brute_force(matrix.astype(np.float64), query.astype(np.float64), 10, metric)
                hits = await client.search(embedding=query, top_k=10, collection="random")
                assert [h["id"] for h in hits] == [f"v{i}" for i in order]
                got = np.array([h["score"] for h in hits])
                expected = -scores if metric == "l2" else scores
                assert np.allclose(got, expected, rtol=1e-4, atol=1e-4)
                assert all(h["matched"] == ["vector"] for h in hits)
                # A list of Python floats (array('f')) and a numpy float64 array go as the same float32s.
                assert await client.search(embedding=query.tolist(), top_k=10, collection="random") == hits
                assert await client.search(embedding=query.astype(np.float64), top_k=10, collection="random") == hits
    asyncio.run(scenario())


def test_seed_interface_add_search_delete(proxy):
    """The seed's three calls, as existing agent code makes them, with the blocking client too."""
    async def scenario():
        async with StorageProxyClient(proxy.address) as store:
            await store.initialize()
            ids = await store.add_documents(["How to reset a password", "Quarterly revenue report", "Password policy rules"],
                                            [{"source": "kb"}, {"source": "finance"}, {"source": "kb"}])
            assert len(ids) == 3 and len(set(ids)) == 3
            hits = await store.search("password", top_k=5)
            assert {h["id"] for h in hits} == {ids[0], ids[2]}
            assert all(set(h) >= {"id", "document", "metadata", "score"} for h in hits)
            assert [h["id"] for h in await store.search("password", filter={"source": "finance"})] == []
            got = await store.get_documents([ids[1], "never-stored"])
            assert got[1] is None
            assert got[0] == {"id": ids[1], "document": "Quarterly revenue report", "metadata": {"source": "finance"},
                              "embedding": None}
            assert await store.delete_documents([ids[0], "never-stored"]) == 1
            assert [h["id"] for h in await store.search("password")] == [ids[2]]
    asyncio.run(scenario())
    with StorageClient(proxy.address) as blocking:
        ids = blocking.add_documents(["blocking calls work too"], [{}], [[0.5, 0.5, 0.1]], ids=["b1"], collection="default")
        assert ids == ["b1"]
        assert [h["id"] for h in blocking.search("blocking")] == ["b1"]
        assert blocking.list_collections()[0]["name"] == "default"


def test_filters_before_ranking_and_hybrid(proxy):
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((100, 16)).astype(np.float32)
    teams = ["red" if i % 10 == 0 else "blue" for i in range(100)]

    async def scenario():
        async with StorageProxyClient(proxy.address) as client:
            await client.add_documents([f"ticket {i} about invoices" if i % 2 else f"ticket {i} about shipping" for i in range(100)],
                                       [{"team": t, "i": i} for i, t in enumerate(teams)], vectors,
                                       ids=[f"t{i}" for i in range(100)])
            query = vectors[3]
            red = [i for i, t in enumerate(teams) if t == "red"]
            order, _ = brute_force(vectors[red].astype(np.float64), query.astype(np.float64), 5, "cosine")
            hits = await client.search(embedding=query, top_k=5, filter={"team": "red"})
            assert [h["id"] for h in hits] == [f"t{red[i]}" for i in order], "the 5 nearest red ones, not fewer"
            hits = await client.search(embedding=query, top_k=50, filter={"team": {"$in": ["red"]}})
            assert len(hits) == 10, "fewer pass than top_k: all of them"
            fused = await client.search("invoices", top_k=10, embedding=query)
            assert fused[0]["id"] == "t3" and fused[0]["matched"] == ["keyword", "vector"]  # t3: odd, so about invoices
            assert [h["score"] for h in fused] == sorted((h["score"] for h in fused), reverse=True)
            only_words = await client.search("invoices", top_k=10, embedding=query, mode="keyword")
            assert all(h["matched"] == ["keyword"] and int(h["id"][1:]) % 2 == 1 for h in only_words)
    asyncio.run(scenario())


def test_approximate_search_through_the_graph(proxy):
    """``exact=False`` walks the HNSW graph (any size); on a small clustered set with a
    wide ``ef`` it finds the exact top 10, scored as the scan scores them."""
    rng = np.random.default_rng(29)
    centres = rng.standard_normal((10, 32)).astype(np.float32)
    matrix = centres[np.arange(1000) % 10] + 0.3 * rng.standard_normal((1000, 32)).astype(np.float32)

    async def scenario():
        async with StorageProxyClient(proxy.address) as client:
            await client.create_collection("ann", 32, "cosine")
            await client.add_documents([f"doc {i}" for i in range(1000)], [{"g": i % 4} for i in range(1000)], matrix,
                                       ids=[f"v{i}" for i in range(1000)], collection="ann")
            before = (await client.call("server.status"))["vectors"]["approximate_searches"]
            for q in centres[:5] + 0.1:
                exact = await client.search(embedding=q, top_k=10, collection="ann", exact=True, filter={"g": 1})
                walked = await client.search(embedding=q, top_k=10, collection="ann", exact=False, ef=200, filter={"g": 1})
                assert [(h["id"], h["score"]) for h in walked] == [(h["id"], h["score"]) for h in exact]
            assert (await client.call("server.status"))["vectors"]["approximate_searches"] == before + 5
    asyncio.run(scenario())


def test_bad_input_is_invalid_params_and_stores_nothing(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as client:
            await client.add_documents(["kept"], None, [[1.0, 0.0]], ids=["k"])
            for call, field in [
                (client.add_documents(["x"], None, [[1.0, 0.0, 0.0]]), "embeddings[0]"),
                (client.add_documents([], None), "documents"),
                (client.add_documents(["x"], None, [[float("inf"), 1.0]]), "embeddings[0][0]"),
                (client.add_documents(["x"], None, [[1.0, "a"]]), "embeddings[0][1]"),  # not float32s: sent as JSON
                (client.search(embedding=[1.0, 0.0], top_k=0), "top_k"),
                (client.search("x", collection="missing"), "collection"),
                (client.search("x", filter={"a": {"$regex": "."}}), "filter.a.$regex"),
                (client.search(embedding=[1.0, 0.0], ef=0), "ef"),
            ]:
                try:
                    await call
                except InvalidParams as e:
                    assert field is not None and e.data["field"] == field, e
                except ValueError:
                    assert field is None
                else:
                    raise AssertionError(f"accepted: {field}")
            assert (await client.list_collections())[0]["count"] == 1
    asyncio.run(scenario())


def test_rolled_back_adds_are_not_found(proxy):
    async def scenario():
        async with StorageProxyClient(proxy.address) as client:
            await client.add_documents(["baseline"], None, [[1.0, 0.0]], ids=["base"])
            try:
                async with client.transaction() as tx:
                    await tx.add_documents(["rolled back"], None, [[0.0, 1.0]], ids=["gone"])
                    raise RuntimeError("abandon")
            except RuntimeError:
                pass
            assert [h["id"] for h in await client.search(embedding=[0.0, 1.0], top_k=5)] == ["base"]
            async with client.transaction() as tx:
                await tx.add_documents(["committed"], None, [[0.0, 1.0]], ids=["kept"])
            assert [h["id"] for h in await client.search(embedding=[0.0, 1.0], top_k=5)] == ["kept", "base"]
    asyncio.run(scenario())


def test_an_add_through_one_proxy_is_found_through_another(enterprise_pair):
    first, second = enterprise_pair
    rng = np.random.default_rng(9)

    async def scenario():
        async with StorageProxyClient(first.address) as a, StorageProxyClient(second.address) as b:
            await a.create_collection("shared", 8, "l2")  # the nearest to v is v itself
            assert await b.search(embedding=[1.0] * 8, collection="shared") == []
            for i in range(25):
                v = rng.standard_normal(8).astype(np.float32) * 100
                await a.add_documents([f"d{i}"], None, [v], ids=[f"d{i}"], collection="shared")
                assert (await b.search(embedding=v, top_k=1, collection="shared"))[0]["id"] == f"d{i}"
            assert await b.delete_documents(["d24"], collection="shared") == 1
            hits = await a.search(embedding=[1.0] * 8, top_k=30, collection="shared")
            assert len(hits) == 24 and "d24" not in {h["id"] for h in hits}
    asyncio.run(scenario())
