"""LangGraph's long-term store on the storage proxy: ``AsyncProxyStore`` and ``ProxyStore``
(``BaseStore``), exported by ``storage_proxy.langgraph``.

Items are JSON objects by (namespace, key), shared by every agent process and
thread (``store.*``, protocol/PROTOCOL.md). With ``index`` (LangGraph's
``IndexConfig``: ``dims``, ``embed``, ``fields``) the texts of the indexed
fields are embedded here, by your embedder, and ``search(query=…)`` ranks by
them in the proxy; ``"embed": "proxy"`` has the proxy's own embedder
(``vector.embedder``) embed them instead. With ``ttl`` (``TTLConfig``) items
expire, reads refresh them, and the proxy deletes what expired.
"""

import asyncio
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from langgraph.store.base import (BaseStore, GetOp, IndexConfig, Item, ListNamespacesOp, Op, PutOp, Result, SearchItem,
                                  SearchOp, TTLConfig, ensure_embeddings, get_text_at_path, tokenize_path,
                                  validate_op_namespace)

from .client import StorageProxyClient
from .threaded import LoopThread
from .wire import parse_time, vector_to_wire

__all__ = ["AsyncProxyStore", "ProxyStore"]


class _StoreCalls:
    """What both stores share: ops into calls, answers into items; a namespace root of their own (``root``)."""

    supports_ttl = True

    def _configure(self, index: Optional[IndexConfig], ttl: Optional[TTLConfig], root: Sequence[str]) -> None:
        self.ttl_config = ttl
        self.root = tuple(root)
        self.index_config = dict(index) if index else None
        # "proxy": the proxy's embedder makes the vectors (texts and queries go to it as text).
        self.proxy_embeds = bool(index) and index.get("embed") == "proxy"
        self.embeddings = ensure_embeddings(index.get("embed")) if index and not self.proxy_embeds else None
        if self.index_config is not None:
            self.index_config["__tokenized_fields"] = [(p, tokenize_path(p)) if p != "$" else (p, p)
                                                      for p in (self.index_config.get("fields") or ["$"])]

    def _ns(self, namespace: Tuple[str, ...]) -> List[str]:
        return list(self.root + tuple(namespace))

    def _item(self, stored: Dict[str, Any], search: bool) -> Item:
        fields = dict(namespace=tuple(stored["namespace"][len(self.root):]), key=stored["key"], value=stored["value"],
                      created_at=parse_time(stored["created_at"]), updated_at=parse_time(stored["updated_at"]))
        return SearchItem(**fields, score=stored.get("score")) if search else Item(**fields)

    def _texts(self, op: PutOp) -> List[Tuple[str, str]]:
        """The (field, text) pairs of a put to embed, as LangGraph's in-memory store picks them."""
        if not (self.embeddings or self.proxy_embeds) or op.value is None or op.index is False:
            return []
        paths = self.index_config["__tokenized_fields"] if op.index is None else [(p, tokenize_path(p)) for p in op.index]
        pairs = []
        for path, field in paths:
            texts = get_text_at_path(op.value, field)
            pairs += [(f"{path}.{i}", t) for i, t in enumerate(texts)] if len(texts) > 1 else [(path, t) for t in texts]
        return pairs

    def _refresh(self, wanted: bool) -> bool:
        if self.ttl_config is not None and "refresh_on_read" in self.ttl_config:
            return bool(wanted and self.ttl_config["refresh_on_read"])
        return bool(wanted)

    def _call_for(self, op: Op, embedded: Optional[List[List[float]]], query: Optional[List[float]]) -> Tuple[str, Dict[str, Any]]:
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            return "store.get", {"namespace": self._ns(op.namespace), "key": op.key, "refresh_ttl": self._refresh(op.refresh_ttl)}
        if isinstance(op, PutOp):
            if op.value is None:
                return "store.delete", {"namespace": self._ns(op.namespace), "key": op.key}
            params: Dict[str, Any] = {"namespace": self._ns(op.namespace), "key": op.key, "value": dict(op.value)}
            if op.ttl is not None:
                params["ttl"] = op.ttl
            if embedded is not None:
                params["vectors"] = [{"field": f, "embedding": vector_to_wire(e)} for (f, _), e in zip(self._texts(op), embedded)]
            elif self.proxy_embeds and (texts := self._texts(op)):
                params["texts"] = [{"field": f, "text": t} for f, t in texts]
            return "store.put", params
        if isinstance(op, SearchOp):
            params = {"namespace_prefix": self._ns(op.namespace_prefix), "limit": op.limit, "offset": op.offset,
                      "refresh_ttl": self._refresh(op.refresh_ttl)}
            if op.filter:
                params["filter"] = op.filter
            if query is not None:
                params["query_embedding"] = vector_to_wire(query)
            elif op.query and self.proxy_embeds:
                params["query"] = op.query
            return "store.search", params
        if isinstance(op, ListNamespacesOp):
            params = {"limit": op.limit, "offset": op.offset, "prefix": list(self.root)}
            for condition in op.match_conditions or ():
                if condition.match_type == "prefix":
                    params["prefix"] = list(self.root + tuple(condition.path))
                else:
                    params["suffix"] = list(condition.path)
            if op.max_depth is not None:
                params["max_depth"] = op.max_depth + len(self.root)
            return "store.list_namespaces", params
        raise ValueError(f"Unknown operation type: {type(op)}")

    async def _aprepared(self, ops: Iterable[Op]) -> List[Tuple[Op, Any, Any]]:
        """Each op with the embeddings this side makes for it (``index`` with an embedder), by its async methods."""
        prepared = []
        for op in ops:
            validate_op_namespace(op)
            embedded = query = None
            if isinstance(op, PutOp) and self.embeddings and (texts := self._texts(op)):
                embedded = await self.embeddings.aembed_documents([t for _, t in texts])
            if isinstance(op, SearchOp) and op.query and self.embeddings:
                query = await self.embeddings.aembed_query(op.query)
            prepared.append((op, embedded, query))
        return prepared

    def _result(self, op: Op, answer: Any) -> Result:
        if isinstance(op, GetOp):
            return self._item(answer, search=False) if answer else None
        if isinstance(op, SearchOp):
            return [self._item(a, search=True) for a in answer]
        if isinstance(op, ListNamespacesOp):
            return [tuple(ns[len(self.root):]) for ns in answer]
        return None


class AsyncProxyStore(_StoreCalls, BaseStore):
    """LangGraph's ``BaseStore`` over the proxy, for asyncio code::

        async with AsyncProxyStore("unix:///app/storage/proxy.sock", index={"dims": 1536, "embed": embeddings}) as store:
            graph = builder.compile(checkpointer=saver, store=store)

    ``root``: labels put before every namespace (a store of its own inside the proxy's).
    """

    def __init__(self, address: str = "unix://storage/proxy.sock", *, token: Optional[str] = None,
                 index: Optional[IndexConfig] = None, ttl: Optional[TTLConfig] = None, root: Sequence[str] = (),
                 client: Optional[StorageProxyClient] = None):
        self._configure(index, ttl, root)
        self.client = client or StorageProxyClient(address, token=token)
        self._owns_client = client is None

    async def __aenter__(self) -> "AsyncProxyStore":
        await self.client.initialize()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._owns_client:
            await self.client.close()

    async def abatch(self, ops: Iterable[Op]) -> List[Result]:
        results = []
        for op, embedded, query in await self._aprepared(ops):  # in order: a read after a put of the same batch sees it
            method, params = self._call_for(op, embedded, query)
            results.append(self._result(op, await self.client._call(method, params)))
        return results

    def batch(self, ops: Iterable[Op]) -> List[Result]:
        raise asyncio.InvalidStateError("AsyncProxyStore is for asyncio code (await store.aput/aget/asearch); use ProxyStore")


class ProxyStore(_StoreCalls, BaseStore):
    """LangGraph's ``BaseStore`` over the proxy, blocking (``put``, ``get``, ``search``…), and usable from
    asyncio code too (``aput``…): its connection lives on a thread of its own. Safe from several threads."""

    def __init__(self, address: str = "unix://storage/proxy.sock", *, token: Optional[str] = None,
                 index: Optional[IndexConfig] = None, ttl: Optional[TTLConfig] = None, root: Sequence[str] = ()):
        self._configure(index, ttl, root)
        self._thread = LoopThread("ProxyStore")
        self._inner = AsyncProxyStore(address, token=token, ttl=ttl, root=root)  # its connection; this one embeds

    def __enter__(self) -> "ProxyStore":
        self._run(self._inner.client.initialize())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> "ProxyStore":
        await self._thread.arun(self._inner.client.initialize())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        self._thread.close(self._inner.client.close)

    def __del__(self) -> None:
        LoopThread.dropped(self.close)

    def _run(self, coroutine: Any) -> Any:
        return self._thread.run(coroutine)

    def _prepared(self, ops: Iterable[Op]) -> List[Tuple[Op, Any, Any]]:
        """`_aprepared` by the embedder's blocking methods, in the caller's thread (the inner store has no embedder)."""
        prepared = []
        for op in ops:
            validate_op_namespace(op)
            texts = self._texts(op) if isinstance(op, PutOp) and self.embeddings else []
            embedded = self.embeddings.embed_documents([t for _, t in texts]) if texts else None
            query = self.embeddings.embed_query(op.query) if isinstance(op, SearchOp) and op.query and self.embeddings else None
            prepared.append((op, embedded, query))
        return prepared

    async def _send(self, prepared: List[Tuple[Op, Any, Any]]) -> List[Result]:
        out = []
        for op, embedded, query in prepared:
            method, params = self._call_for(op, embedded, query)
            out.append(self._result(op, await self._inner.client._call(method, params)))
        return out

    def batch(self, ops: Iterable[Op]) -> List[Result]:
        return self._run(self._send(self._prepared(ops)))

    async def abatch(self, ops: Iterable[Op]) -> List[Result]:
        prepared = await self._aprepared(ops)
        return await self._thread.arun(self._send(prepared))
