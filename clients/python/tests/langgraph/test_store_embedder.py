"""ProxyStore with index={"embed": "proxy"}: the proxy's own embedder (vector.embedder) embeds the indexed
fields and the query; nothing is embedded in the client."""

from storage_proxy.langgraph import ProxyStore


def test_the_proxy_embeds_for_the_store(embedding_proxy):
    proxy, stats_file = embedding_proxy
    with ProxyStore(proxy.address, index={"embed": "proxy", "fields": ["text"]}) as store:
        store.put(("notes",), "cats", {"text": "cats purr softly"})
        store.put(("notes",), "rain", {"text": "rain falls on the roof"})
        store.put(("notes",), "plain", {"text": "rain rain rain"}, index=False)  # not embedded: after the scored ones
        hits = store.search(("notes",), query="rain falls")
        assert [h.key for h in hits] == ["rain", "cats", "plain"]
        assert hits[0].score > 0.5 and hits[2].score is None
    stats = stats_file.read_text()
    assert '"texts": 3' in stats, stats  # two puts' fields and the query, by the proxy
