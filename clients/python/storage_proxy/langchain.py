"""LangChain on the storage proxy (``pip install "storage-proxy[langchain]"``).

- ``ProxyVectorStore``: LangChain's ``VectorStore`` (retrieval) over a collection
  of the proxy's vector store, with LangChain's filters passed through;
- ``ProxyCache``: its LLM cache (``BaseCache``, ``set_llm_cache``) over ``cache.*``;
- ``ProxyByteStore``: its ``ByteStore`` (``BaseStore[str, bytes]``) over the
  proxy's durable metadata.

Each has blocking and asyncio methods; its connection lives on a thread of its
own (``close()`` ends it)::

    store = ProxyVectorStore("unix:///app/storage/proxy.sock", embeddings, collection="docs")
    store.add_texts(["the proxy pools its connections"], [{"topic": "ops"}])
    store.similarity_search("pooling", k=4, filter={"topic": {"$in": ["ops", "dev"]}})

Judged by LangChain's own standard tests (langchain-tests, clients/python/tests/langchain).
"""

from .langchain_bytestore import ProxyByteStore
from .langchain_cache import ProxyCache
from .langchain_vectorstore import ProxyVectorStore

__all__ = ["ProxyVectorStore", "ProxyCache", "ProxyByteStore"]
