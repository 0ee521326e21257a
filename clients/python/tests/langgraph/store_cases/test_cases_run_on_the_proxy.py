"""The store the copied cases build by name is the proxy's: what it keeps, another client of the proxy finds."""

from storage_proxy import StorageClient

from store_cases import test_store
from store_cases.conftest import ADDRESS, ProxyBackedStore


def test_their_in_memory_store_is_a_proxy_store():
    assert test_store.InMemoryStore is ProxyBackedStore
    store = test_store.InMemoryStore()
    store.put(("memories",), "k", {"v": 1})
    with StorageClient(ADDRESS[0]) as client:
        found = client.call("store.search", namespace_prefix=list(store.root) + ["memories"])
    assert [(item["key"], item["value"]) for item in found] == [("k", {"v": 1})]
    assert type(store).__module__ == "store_cases.conftest"
