"""LangChain's ``VectorStore`` over the proxy's vector store (``vector.*``,
protocol/PROTOCOL.md): one collection per store, shared by every process and
proxy on the same database. See ``storage_proxy.langchain``."""

import json
import uuid
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from .client import StorageProxyClient
from .errors import InvalidParams, RequestTooLarge
from .threaded import ThreadedClient

# A vector.add_documents call: at most this many documents (far below vector.max_documents_per_call)
# and about this many bytes of texts, metadata and base64 vectors (half a line's 16 MiB default: 1,000
# documents of 4,096 dimensions alone would pass it).
ADD_BATCH = 1000
ADD_BYTES = 8 << 20
# Ids per vector.get_documents / vector.delete_documents call (the proxy takes up to 10,000).
ID_BATCH = 1000


class ProxyVectorStore(VectorStore):
    """Documents, their metadata and embeddings in the proxy's collection ``collection``.

    ``embedding``: LangChain's ``Embeddings`` embeds texts and queries here; with
    ``None`` the proxy's embedder does (``vector.embedder`` in its configuration).
    ``metric``: ``cosine`` (default), ``dot`` or ``l2``, fixed when the collection
    is made (by the first add; ``dimension`` is its size where the proxy embeds). A filter is the proxy's: ``{"year": {"$gte": 2020}}``,
    ``$and``/``$or``/``$not``, dotted paths (PROTOCOL.md, "Filters"), as LangChain
    writes them. Scores: the cosine similarity or inner product (higher is
    nearer), or the Euclidean distance (``l2``, lower is nearer).

    Blocking and asyncio methods alike; its connection lives on a thread of its
    own. ``close()`` ends it.
    """

    def __init__(self, address: str = "unix://storage/proxy.sock", embedding: Optional[Embeddings] = None, *,
                 collection: str = "langchain", metric: str = "cosine", dimension: Optional[int] = None,
                 token: Optional[str] = None):
        self.embedding = embedding
        self.collection = collection
        self.metric = metric
        self.dimension = dimension
        self._proxy = ThreadedClient(address, token=token, name=f"ProxyVectorStore {collection}")

    @property
    def embeddings(self) -> Optional[Embeddings]:
        return self.embedding

    def close(self) -> None:
        self._proxy.close()

    @classmethod
    def from_texts(cls, texts: List[str], embedding: Optional[Embeddings], metadatas: Optional[List[dict]] = None, *,
                   ids: Optional[List[str]] = None, **kwargs: Any) -> "ProxyVectorStore":
        """A store (``address``, ``collection``… in ``kwargs``) holding ``texts``."""
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(cls, texts: List[str], embedding: Optional[Embeddings], metadatas: Optional[List[dict]] = None,
                          *, ids: Optional[List[str]] = None, **kwargs: Any) -> "ProxyVectorStore":
        store = cls(embedding=embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    # -- adds

    def add_texts(self, texts: Iterable[str], metadatas: Optional[List[dict]] = None, *,
                  ids: Optional[Sequence[Optional[str]]] = None, **kwargs: Any) -> List[str]:
        texts, metadatas, ids = _rows(texts, metadatas, ids)
        vectors = self.embedding.embed_documents(texts) if self.embedding and texts else None
        return self._proxy.run(lambda client: self._add(client, texts, metadatas, ids, vectors))

    async def aadd_texts(self, texts: Iterable[str], metadatas: Optional[List[dict]] = None, *,
                         ids: Optional[Sequence[Optional[str]]] = None, **kwargs: Any) -> List[str]:
        texts, metadatas, ids = _rows(texts, metadatas, ids)
        vectors = await self.embedding.aembed_documents(texts) if self.embedding and texts else None
        return await self._proxy.arun(lambda client: self._add(client, texts, metadatas, ids, vectors))

    async def _add(self, client: StorageProxyClient, texts: List[str], metadatas: List[Optional[dict]],
                   ids: List[str], vectors: Optional[List[List[float]]]) -> List[str]:
        dimension = len(vectors[0]) if vectors else self.dimension
        for start, end in _batches(texts, metadatas, dimension if vectors else 0):
            add = lambda: client.add_documents(texts[start:end], metadatas[start:end],  # noqa: E731
                                               None if vectors is None else vectors[start:end],
                                               ids=ids[start:end], collection=self.collection)
            try:
                await add()
            except InvalidParams as error:
                # Not made yet (or dropped since, by any store): made here, with the settings given.
                if error.field != "collection" or dimension is None:
                    raise
                await client.create_collection(self.collection, dimension, self.metric)
                await add()
        return ids

    # -- reads and deletes

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        return self._proxy.run(lambda client: self._get(client, ids))

    async def aget_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        return await self._proxy.arun(lambda client: self._get(client, ids))

    async def _get(self, client: StorageProxyClient, ids: Sequence[str], embeddings: bool = False) -> List[Any]:
        found = []
        for start in range(0, len(ids), ID_BATCH):
            for stored in await self._stored(client, list(ids[start:start + ID_BATCH])):
                if stored is not None:
                    found.append(stored if embeddings else _document(stored))
        return found

    async def _stored(self, client: StorageProxyClient, ids: List[str]) -> List[Optional[Dict[str, Any]]]:
        """vector.get_documents, asked again in halves while the answer passes server.max_answer_bytes
        (wide embeddings come back with every document)."""
        try:
            return await _or_empty(client.get_documents(ids, self.collection), [])
        except RequestTooLarge:
            if len(ids) == 1:
                raise
            half = len(ids) // 2
            return await self._stored(client, ids[:half]) + await self._stored(client, ids[half:])

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        return self._proxy.run(lambda client: self._delete(client, ids))

    async def adelete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        return await self._proxy.arun(lambda client: self._delete(client, ids))

    async def _delete(self, client: StorageProxyClient, ids: Optional[List[str]]) -> bool:
        """``ids`` None: the whole collection (LangChain's "delete all")."""
        if ids is None:
            await client.drop_collection(self.collection)
            return True
        for start in range(0, len(ids), ID_BATCH):
            await _or_empty(client.delete_documents(list(ids[start:start + ID_BATCH]), collection=self.collection), 0)
        return True

    # -- searches

    def similarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None, **kwargs: Any) -> List[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                 **kwargs: Any) -> List[Document]:
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                     **kwargs: Any) -> List[Tuple[Document, float]]:
        vector = self.embedding.embed_query(query) if self.embedding else None
        return self._proxy.run(lambda client: self._search(client, query, vector, k, filter, **kwargs))

    async def asimilarity_search_with_score(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                            **kwargs: Any) -> List[Tuple[Document, float]]:
        vector = await self.embedding.aembed_query(query) if self.embedding else None
        return await self._proxy.arun(lambda client: self._search(client, query, vector, k, filter, **kwargs))

    def similarity_search_by_vector(self, embedding: List[float], k: int = 4, filter: Optional[dict] = None,
                                    **kwargs: Any) -> List[Document]:
        found = self._proxy.run(lambda client: self._search(client, None, embedding, k, filter, **kwargs))
        return [doc for doc, _ in found]

    async def asimilarity_search_by_vector(self, embedding: List[float], k: int = 4, filter: Optional[dict] = None,
                                           **kwargs: Any) -> List[Document]:
        found = await self._proxy.arun(lambda client: self._search(client, None, embedding, k, filter, **kwargs))
        return [doc for doc, _ in found]

    async def _search(self, client: StorageProxyClient, query: Optional[str], vector: Optional[List[float]], k: int,
                      filter: Optional[dict], exact: Optional[bool] = None,
                      ef: Optional[int] = None) -> List[Tuple[Document, float]]:
        # With a vector: by it alone (LangChain's similarity). Without (the proxy's embedder): the
        # query's text, embedded by the proxy, ranked by vectors too.
        hits = await _or_empty(client.search(None if vector is not None else query, top_k=k, filter=filter,
                                             embedding=vector, mode="vector", collection=self.collection,
                                             exact=exact, ef=ef), [])
        return [(_document(hit), hit["score"]) for hit in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        # The proxy answers similarities for cosine and dot, distances for l2 (LangChain's relevance
        # functions take distances: a cosine similarity is already 1 - its distance).
        if self.metric == "l2":
            return lambda distance: self._euclidean_relevance_score_fn(distance ** 0.5)
        if self.metric == "dot":
            return lambda similarity: self._max_inner_product_relevance_score_fn(-similarity)
        return lambda similarity: similarity

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
                                      filter: Optional[dict] = None, **kwargs: Any) -> List[Document]:
        vector = self._query_vector(self.embedding.embed_query(query) if self.embedding else None)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter, **kwargs)

    async def amax_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                             lambda_mult: float = 0.5, filter: Optional[dict] = None,
                                             **kwargs: Any) -> List[Document]:
        vector = self._query_vector(await self.embedding.aembed_query(query) if self.embedding else None)
        return await self.amax_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter, **kwargs)

    def max_marginal_relevance_search_by_vector(self, embedding: List[float], k: int = 4, fetch_k: int = 20,
                                                lambda_mult: float = 0.5, filter: Optional[dict] = None,
                                                **kwargs: Any) -> List[Document]:
        return self._proxy.run(lambda client: self._mmr(client, embedding, k, fetch_k, lambda_mult, filter, **kwargs))

    async def amax_marginal_relevance_search_by_vector(self, embedding: List[float], k: int = 4, fetch_k: int = 20,
                                                       lambda_mult: float = 0.5, filter: Optional[dict] = None,
                                                       **kwargs: Any) -> List[Document]:
        return await self._proxy.arun(
            lambda client: self._mmr(client, embedding, k, fetch_k, lambda_mult, filter, **kwargs))

    async def _mmr(self, client: StorageProxyClient, vector: List[float], k: int, fetch_k: int, lambda_mult: float,
                   filter: Optional[dict], **kwargs: Any) -> List[Document]:
        """The ``fetch_k`` nearest, then ``k`` of them chosen for relevance and diversity (LangChain's
        own ``maximal_marginal_relevance`` over their stored embeddings)."""
        candidates = [doc for doc, _ in await self._search(client, None, vector, fetch_k, filter, **kwargs)]
        stored = {s["id"]: s["embedding"] for s in await self._get(client, [d.id for d in candidates], embeddings=True)}
        candidates = [d for d in candidates if stored.get(d.id) is not None]
        chosen = maximal_marginal_relevance(_array(vector), [stored[d.id] for d in candidates], lambda_mult, k)
        return [candidates[i] for i in chosen]

    def _query_vector(self, vector: Optional[List[float]]) -> List[float]:
        if vector is None:
            raise ValueError("max_marginal_relevance_search needs the store's embedding (LangChain Embeddings)")
        return vector


def _rows(texts: Iterable[str], metadatas: Optional[List[dict]],
          ids: Optional[Sequence[Optional[str]]]) -> Tuple[List[str], List[Optional[dict]], List[str]]:
    """The texts with a metadata and an id each: ids the caller left out are made here, before
    sending, so a retried add replaces what a lost answer had stored instead of adding it twice."""
    texts = list(texts)
    metadatas = list(metadatas) if metadatas else [None] * len(texts)
    given = list(ids) if ids else [None] * len(texts)
    if len(metadatas) != len(texts) or len(given) != len(texts):
        raise ValueError(f"{len(texts)} texts, {len(metadatas)} metadatas and {len(given)} ids: one each is needed")
    return texts, metadatas, [i if i is not None else str(uuid.uuid4()) for i in given]


def _batches(texts: List[str], metadatas: List[Optional[dict]], dimension: int) -> Iterator[Tuple[int, int]]:
    """(start, end) of each add call: ADD_BATCH documents, or fewer where their JSON passes ADD_BYTES."""
    start, size = 0, 0
    for i, (text, metadata) in enumerate(zip(texts, metadatas)):
        row = len(json.dumps(text)) + len(json.dumps(metadata)) + dimension * 16 // 3 + 64
        if i > start and (i - start == ADD_BATCH or size + row > ADD_BYTES):
            yield start, i
            start, size = i, 0
        size += row
    if start < len(texts):
        yield start, len(texts)


def _document(stored: Dict[str, Any]) -> Document:
    return Document(id=stored["id"], page_content=stored["document"], metadata=stored.get("metadata") or {})


async def _or_empty(call: Any, empty: Any) -> Any:
    """A collection never made (by a first add) holds nothing: the proxy names it unknown."""
    try:
        return await call
    except InvalidParams as error:
        if error.field == "collection":
            return empty
        raise


def _array(vector: List[float]) -> Any:
    import numpy as np  # LangChain's MMR helper works on numpy arrays (langchain-core installs numpy)
    return np.asarray(vector, dtype=np.float32)
