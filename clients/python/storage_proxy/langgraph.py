"""LangGraph on the storage proxy (``pip install "storage-proxy[langgraph]"``): its checkpointer here,
its long-term store (``AsyncProxyStore``, ``ProxyStore``) in ``langgraph_store``.

``AsyncProxySaver`` (asyncio) and ``ProxySaver`` (blocking) are
``BaseCheckpointSaver`` s: every step's state, pending writes, history and time
travel, kept by the proxy (``checkpoint.*``, protocol/PROTOCOL.md) where every
agent process and every proxy on the same database sees them::

    async with AsyncProxySaver("unix:///app/storage/proxy.sock") as saver:
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(inputs, {"configurable": {"thread_id": "t1"}})

Values are serialized here, with LangGraph's own serializer (``serde``); the
proxy stores the bytes and never reads them.
"""

import asyncio
import base64
import json
import random
import threading
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Sequence, Tuple

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (WRITES_IDX_MAP, BaseCheckpointSaver, ChannelVersions, Checkpoint,
                                       CheckpointMetadata, CheckpointTuple, get_checkpoint_id,
                                       get_serializable_checkpoint_metadata)
from langgraph.checkpoint.serde.base import SerializerProtocol

from .blocking import StorageClient
from .client import StorageProxyClient
from .errors import RequestTooLarge
from .langgraph_store import AsyncProxyStore, ProxyStore

__all__ = ["AsyncProxySaver", "ProxySaver", "AsyncProxyStore", "ProxyStore"]

# Checkpoints per checkpoint.list call; a page over server.max_answer_bytes is asked for again in halves.
PAGE = 100


class _Checkpoints:
    """What both savers share: requests built from LangGraph's arguments, tuples built from answers."""

    serde: SerializerProtocol

    def _dump(self, value: Any) -> Tuple[str, str]:
        kind, data = self.serde.dumps_typed(value)
        return kind, base64.b64encode(data).decode("ascii")

    def _load(self, stored: Dict[str, str]) -> Any:
        return self.serde.loads_typed((stored["type"], base64.b64decode(stored["data"])))

    def _put_params(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                    new_versions: ChannelVersions) -> Dict[str, Any]:
        configurable = config["configurable"]
        document = dict(checkpoint)
        values = document.pop("channel_values", {}) or {}
        blobs = []
        for channel, version in new_versions.items():
            kind, data = self._dump(values[channel]) if channel in values else ("empty", "")
            blobs.append({"channel": channel, "version": version, "type": kind, "data": data})
        params = {
            "thread_id": configurable["thread_id"],
            "checkpoint_ns": configurable.get("checkpoint_ns", ""),
            "checkpoint": document,
            "metadata": _json_ready(get_serializable_checkpoint_metadata(config, metadata)),
            "values": blobs,
        }
        if configurable.get("checkpoint_id"):
            params["parent_checkpoint_id"] = configurable["checkpoint_id"]
        return params

    def _writes_params(self, config: RunnableConfig, writes: Sequence[Tuple[str, Any]], task_id: str,
                       task_path: str) -> Dict[str, Any]:
        configurable = config["configurable"]
        rows = []
        for idx, (channel, value) in enumerate(writes):
            kind, data = self._dump(value)
            rows.append({"idx": WRITES_IDX_MAP.get(channel, idx), "channel": channel, "type": kind, "data": data})
        return {"thread_id": configurable["thread_id"], "checkpoint_ns": configurable.get("checkpoint_ns", ""),
                "checkpoint_id": configurable["checkpoint_id"], "task_id": task_id, "task_path": task_path, "writes": rows}

    @staticmethod
    def _get_params(config: RunnableConfig) -> Dict[str, Any]:
        configurable = config["configurable"]
        params = {"thread_id": configurable["thread_id"], "checkpoint_ns": configurable.get("checkpoint_ns", "")}
        if get_checkpoint_id(config):
            params["checkpoint_id"] = get_checkpoint_id(config)
        return params

    @staticmethod
    def _list_params(config: Optional[RunnableConfig], filter: Optional[Dict[str, Any]],
                     before: Optional[RunnableConfig]) -> Dict[str, Any]:
        params: Dict[str, Any] = {}
        if config:
            configurable = config["configurable"]
            if configurable.get("thread_id") is not None:
                params["thread_id"] = configurable["thread_id"]
            if configurable.get("checkpoint_ns") is not None:
                params["checkpoint_ns"] = configurable["checkpoint_ns"]
            if get_checkpoint_id(config):
                params["checkpoint_id"] = get_checkpoint_id(config)
        if filter:
            params["filter"] = _json_ready(filter)
        if before and get_checkpoint_id(before):
            params["before"] = get_checkpoint_id(before)
        return params

    def _tuple(self, stored: Dict[str, Any]) -> CheckpointTuple:
        thread, ns = stored["thread_id"], stored["checkpoint_ns"]
        checkpoint = dict(stored["checkpoint"])
        checkpoint["channel_values"] = {channel: self._load(value) for channel, value in stored["channel_values"].items()}
        parent = stored.get("parent_checkpoint_id")
        return CheckpointTuple(
            config={"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": stored["checkpoint_id"]}},
            checkpoint=checkpoint,
            metadata=stored["metadata"],
            parent_config={"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": parent}} if parent else None,
            pending_writes=[(w["task_id"], w["channel"], self._load(w)) for w in stored["pending_writes"]],
        )

    def get_next_version(self, current: Optional[str], channel: None) -> str:
        # As LangGraph's own savers: a zero-padded counter (sorts as text) and a random tail.
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"


def _json_ready(value: Any) -> Any:
    """Metadata as JSON (the proxy filters on it): what json cannot write is refused, as LangGraph's PostgreSQL saver refuses it."""
    return json.loads(json.dumps(value))


class _Pages:
    """The checkpoint.list calls of one listing: `limit` checkpoints in all (None: every one), each page
    after the one before; fewer a page once a page passed server.max_answer_bytes (big checkpoints)."""

    def __init__(self, params: Dict[str, Any], limit: Optional[int]):
        self.params, self.wanted, self.size, self.done = params, limit, PAGE, False

    def next(self) -> Optional[Dict[str, Any]]:
        if self.done or (self.wanted is not None and self.wanted <= 0):
            return None
        return {**self.params, "limit": self.size if self.wanted is None else min(self.size, self.wanted)}

    def smaller(self) -> bool:
        """Halves the page after -32005; False when it was one checkpoint already."""
        if self.size == 1:
            return False
        self.size //= 2
        return True

    def took(self, page: Dict[str, Any]) -> List[Dict[str, Any]]:
        found = page["checkpoints"]
        if self.wanted is not None:
            self.wanted -= len(found)
        if page["next"] is None:
            self.done = True
        else:
            self.params["after"] = page["next"]
        return found


def _route(params: Dict[str, Any], connections: int) -> int:
    """The connection a call takes: its thread's, so one thread's calls are answered in the order sent."""
    thread = params.get("thread_id") or params.get("target_thread_id")
    return hash(thread) % connections if thread is not None and connections > 1 else 0


class AsyncProxySaver(_Checkpoints, BaseCheckpointSaver[str]):
    """LangGraph's checkpointer over the proxy, for asyncio graphs (``ainvoke``, ``astream``).

    ``address``: ``unix:///path/proxy.sock``, ``tcp://host:port`` or ``tls://host:port?ca=…``;
    ``token``: the proxy's token. ``connections``: how many it opens (a
    connection answers in order, one write at a time, so concurrent graph runs
    spread over several); a thread's calls always take the same one. Or one
    open ``StorageProxyClient`` as ``client``. The sync methods work from other
    threads while the loop runs (as LangGraph's ``AsyncPostgresSaver`` does),
    not from the loop's own thread.
    """

    def __init__(self, address: str = "unix://storage/proxy.sock", *, token: Optional[str] = None,
                 serde: Optional[SerializerProtocol] = None, client: Optional[StorageProxyClient] = None,
                 connections: int = 8):
        super().__init__(serde=serde)
        self.clients = [client] if client else [StorageProxyClient(address, token=token) for _ in range(max(1, connections))]
        self._owns_client = client is None
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def client(self) -> StorageProxyClient:
        return self.clients[0]

    async def __aenter__(self) -> "AsyncProxySaver":
        await self.setup()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def setup(self) -> None:
        """Connects (the proxy's schema needs nothing from the client)."""
        self.loop = asyncio.get_running_loop()
        await asyncio.gather(*(c.initialize() for c in self.clients))

    async def aclose(self) -> None:
        if self._owns_client:
            await asyncio.gather(*(c.close() for c in self.clients))

    async def _call(self, method: str, params: Dict[str, Any]) -> Any:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        return await self.clients[_route(params, len(self.clients))]._call(method, params)

    async def aget_tuple(self, config: RunnableConfig) -> Optional[CheckpointTuple]:
        stored = await self._call("checkpoint.get", self._get_params(config))
        return self._tuple(stored) if stored else None

    async def alist(self, config: Optional[RunnableConfig], *, filter: Optional[Dict[str, Any]] = None,
                    before: Optional[RunnableConfig] = None, limit: Optional[int] = None) -> AsyncIterator[CheckpointTuple]:
        pages = _Pages(self._list_params(config, filter, before), limit)
        while (request := pages.next()) is not None:
            try:
                page = await self._call("checkpoint.list", request)
            except RequestTooLarge:
                if not pages.smaller():
                    raise
                continue
            for stored in pages.took(page):
                yield self._tuple(stored)

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        stored = await self._call("checkpoint.put", self._put_params(config, checkpoint, metadata, new_versions))
        return {"configurable": stored}

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[Tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await self._call("checkpoint.put_writes", self._writes_params(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call("checkpoint.delete_thread", {"thread_id": thread_id})

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            await self._call("checkpoint.delete_for_runs", {"run_ids": list(run_ids)})

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._call("checkpoint.copy_thread", {"source_thread_id": source_thread_id, "target_thread_id": target_thread_id})

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if thread_ids:
            await self._call("checkpoint.prune", {"thread_ids": list(thread_ids), "strategy": strategy})

    # -- the sync API, from another thread than the loop's

    def _sync(self, coroutine: Any) -> Any:
        try:
            if asyncio.get_running_loop() is self.loop:
                coroutine.close()
                raise asyncio.InvalidStateError(
                    "AsyncProxySaver's sync methods are for other threads; in the event loop use the async ones "
                    "(await saver.aget_tuple(...), graph.ainvoke(...)), or use ProxySaver")
        except RuntimeError:
            pass  # no loop running in this thread
        if self.loop is None:
            coroutine.close()
            raise asyncio.InvalidStateError("AsyncProxySaver is not set up: enter it with `async with` first")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def get_tuple(self, config: RunnableConfig) -> Optional[CheckpointTuple]:
        return self._sync(self.aget_tuple(config))

    def list(self, config: Optional[RunnableConfig], *, filter: Optional[Dict[str, Any]] = None,
             before: Optional[RunnableConfig] = None, limit: Optional[int] = None) -> Iterator[CheckpointTuple]:
        async def collect() -> List[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]
        yield from self._sync(collect())

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        return self._sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(self, config: RunnableConfig, writes: Sequence[Tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        self._sync(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._sync(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._sync(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._sync(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._sync(self.aprune(thread_ids, strategy=strategy))


class ProxySaver(_Checkpoints, BaseCheckpointSaver[str]):
    """LangGraph's checkpointer over the proxy, blocking (``invoke``, ``stream``)::

        with ProxySaver("unix:///app/storage/proxy.sock") as saver:
            graph = builder.compile(checkpointer=saver)

    Safe from several threads: ``connections`` connections, each used by one
    call at a time, a thread's calls always on the same one. Its async methods
    run the blocking ones in a worker thread, so an asyncio graph may use it too.
    """

    def __init__(self, address: str = "unix://storage/proxy.sock", *, token: Optional[str] = None,
                 serde: Optional[SerializerProtocol] = None, connections: int = 4):
        super().__init__(serde=serde)
        self._clients = [(StorageClient(address, token=token), threading.Lock()) for _ in range(max(1, connections))]

    def __enter__(self) -> "ProxySaver":
        self.setup()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> "ProxySaver":
        await asyncio.to_thread(self.setup)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await asyncio.to_thread(self.close)

    def setup(self) -> None:
        for client, lock in self._clients:
            with lock:
                client.initialize()

    def close(self) -> None:
        for client, lock in self._clients:
            with lock:
                client.close()

    def _call(self, method: str, params: Dict[str, Any]) -> Any:
        client, lock = self._clients[_route(params, len(self._clients))]
        with lock:
            return client._run(client._client._call(method, params))

    def get_tuple(self, config: RunnableConfig) -> Optional[CheckpointTuple]:
        stored = self._call("checkpoint.get", self._get_params(config))
        return self._tuple(stored) if stored else None

    def list(self, config: Optional[RunnableConfig], *, filter: Optional[Dict[str, Any]] = None,
             before: Optional[RunnableConfig] = None, limit: Optional[int] = None) -> Iterator[CheckpointTuple]:
        pages = _Pages(self._list_params(config, filter, before), limit)
        while (request := pages.next()) is not None:
            try:
                page = self._call("checkpoint.list", request)
            except RequestTooLarge:
                if not pages.smaller():
                    raise
                continue
            for stored in pages.took(page):
                yield self._tuple(stored)

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        return {"configurable": self._call("checkpoint.put", self._put_params(config, checkpoint, metadata, new_versions))}

    def put_writes(self, config: RunnableConfig, writes: Sequence[Tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        self._call("checkpoint.put_writes", self._writes_params(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._call("checkpoint.delete_thread", {"thread_id": thread_id})

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            self._call("checkpoint.delete_for_runs", {"run_ids": list(run_ids)})

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._call("checkpoint.copy_thread", {"source_thread_id": source_thread_id, "target_thread_id": target_thread_id})

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if thread_ids:
            self._call("checkpoint.prune", {"thread_ids": list(thread_ids), "strategy": strategy})

    # -- async: the blocking calls in a worker thread

    async def aget_tuple(self, config: RunnableConfig) -> Optional[CheckpointTuple]:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: Optional[RunnableConfig], *, filter: Optional[Dict[str, Any]] = None,
                    before: Optional[RunnableConfig] = None, limit: Optional[int] = None) -> AsyncIterator[CheckpointTuple]:
        found = await asyncio.to_thread(lambda: list(self.list(config, filter=filter, before=before, limit=limit)))
        for item in found:
            yield item

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[Tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)
