"""LangChain's own standard tests (langchain-tests, installed from PyPI, unmodified) against the
LangChain adapters on both editions: each fixture hands over an empty instance of its own (a
collection, a cache key prefix, a byte-store namespace named for the test), so a ``clear()`` or a
delete touches only that instance's data."""

import uuid

import pytest
from langchain_tests.integration_tests import (AsyncCacheTestSuite, BaseStoreAsyncTests, BaseStoreSyncTests,
                                               SyncCacheTestSuite, VectorStoreIntegrationTests)

from storage_proxy.langchain import ProxyByteStore, ProxyCache, ProxyVectorStore

from conftest import EDITIONS, Proxy


@pytest.fixture(scope="module", params=EDITIONS)
def served(request):
    proxy = Proxy(request.param)
    yield proxy
    proxy.stop()


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class TestProxyVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, served):
        store = ProxyVectorStore(served.address, self.get_embeddings(), collection=fresh("lc"))
        yield store
        store.close()


class CacheFixture:
    @pytest.fixture
    def cache(self, served):
        cache = ProxyCache(served.address, prefix=fresh("llm") + ":")
        yield cache
        cache.close()


class TestProxyCache(CacheFixture, SyncCacheTestSuite):
    pass


class TestProxyCacheAsync(CacheFixture, AsyncCacheTestSuite):
    pass


class ByteStoreFixtures:
    @pytest.fixture
    def kv_store(self, served):
        store = ProxyByteStore(served.address, namespace=fresh("bytes") + ":")
        yield store
        store.close()

    @pytest.fixture
    def three_values(self):
        # Every byte value, a NUL and bytes that are not UTF-8, and nothing at all: kept exactly.
        return bytes(range(256)), b"\x00bar\xff", b""


class TestProxyByteStore(ByteStoreFixtures, BaseStoreSyncTests[bytes]):
    pass


class TestProxyByteStoreAsync(ByteStoreFixtures, BaseStoreAsyncTests[bytes]):
    pass
