"""The asyncio client: the seed's ``StorageAdapter``, ``CacheAdapter`` and
``VectorStoreAdapter``, method for method, over one pipelined connection.

    client = StorageProxyClient("unix:///app/storage/proxy.sock")
    await client.initialize()
    task_id = await client.save_task({...})
    async with client.transaction() as tx:
        await tx.update_task_status(task_id, "running")
"""

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence

from .connection import Connection, describe
from .errors import ProxyConnectionError, error_from_wire
from .interfaces import CacheAdapter, StorageAdapter, VectorStoreAdapter
from .methods import RETRY_SAFE
from .subscription import Subscription
from .wire import (Address, logs_from_wire, parse_address, parse_time, request_line, seconds, task_from_wire,
                   tasks_from_wire, vector_to_wire)


class _FromSchedule:
    def __repr__(self) -> str:
        return "FROM_SCHEDULE"


#: ``complete_task(next_run=FROM_SCHEDULE)``: the proxy computes the next run from the task's schedule.
FROM_SCHEDULE = _FromSchedule()




def _params(**fields: Any) -> Dict[str, Any]:
    """Named parameters, leaving out the ones not given (the proxy's defaults apply)."""
    return {k: v for k, v in fields.items() if v is not None}


class StorageMethods:
    """The seed's storage methods; a ``Transaction`` runs the same ones inside its transaction."""

    _transaction: Optional[str] = None

    async def _call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        raise NotImplementedError

    async def _in_tx(self, method: str, params: Dict[str, Any]) -> Any:
        if self._transaction is not None:
            params["transaction"] = self._transaction
        return await self._call(method, params)

    async def save_task(self, task: Dict[str, Any]) -> str:
        return await self._in_tx("save_task", {"task": task})

    async def add_documents(self, documents: List[str], metadata: Optional[List[Optional[Dict[str, Any]]]] = None,
                            embeddings: Optional[Sequence[Optional[Sequence[float]]]] = None, *,
                            ids: Optional[List[str]] = None, collection: Optional[str] = None) -> List[str]:
        """Stores the documents (an id already stored is replaced) and returns their ids."""
        vectors = None if embeddings is None else [vector_to_wire(e) for e in embeddings]
        return await self._in_tx("vector.add_documents", _params(documents=list(documents), metadata=metadata,
                                                                 embeddings=vectors, ids=ids, collection=collection))

    async def delete_documents(self, document_ids: List[str], *, collection: Optional[str] = None) -> int:
        return await self._in_tx("vector.delete_documents", _params(ids=list(document_ids), collection=collection))

    async def get_documents(self, document_ids: Sequence[str], collection: Optional[str] = None) -> List[Optional[Dict[str, Any]]]:
        """The stored documents, in the order asked: {id, document, metadata, embedding}, None for an id not stored."""
        return await self._in_tx("vector.get_documents", _params(ids=list(document_ids), collection=collection))

    async def get_task(self, task_id: str) -> Optional[Dict[str, Any]]:
        return task_from_wire(await self._in_tx("get_task", {"task_id": task_id}))

    async def list_tasks(self, agent_name: Optional[str] = None, status: Optional[str] = None,
                         limit: int = 100, offset: int = 0) -> List[Dict[str, Any]]:
        params = _params(agent_name=agent_name, status=status, limit=limit, offset=offset)
        return tasks_from_wire(await self._in_tx("list_tasks", params))

    async def count_tasks(self, agent_name: Optional[str] = None, status: Optional[str] = None,
                          leased_at: Optional[datetime] = None, group_by: Optional[str] = None) -> Any:
        """How many tasks match; ``leased_at``: only those running under a lease live then (what a
        claim's ``max_running`` counts); ``group_by`` ("status" or "agent_name"): a dict of counts."""
        return await self._in_tx("count_tasks", _params(agent_name=agent_name, status=status, leased_at=leased_at,
                                                        group_by=group_by))

    async def delete_task(self, task_id: str) -> bool:
        return await self._in_tx("delete_task", {"task_id": task_id})

    async def update_task_status(self, task_id: str, status: str, last_run: Optional[datetime] = None,
                                 next_run: Optional[datetime] = None) -> bool:
        params = _params(task_id=task_id, status=status, last_run=last_run, next_run=next_run)
        return await self._in_tx("update_task_status", params)

    async def save_log(self, task_id: str, level: str, message: str,
                       metadata: Optional[Dict[str, Any]] = None) -> str:
        params = _params(task_id=task_id, level=level, message=message, metadata=metadata)
        return await self._in_tx("save_log", params)

    async def query_logs(self, task_id: Optional[str] = None, level: Optional[str] = None,
                         start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
                         limit: int = 100) -> List[Dict[str, Any]]:
        params = _params(task_id=task_id, level=level, start_time=start_time, end_time=end_time, limit=limit)
        return logs_from_wire(await self._in_tx("query_logs", params))

    async def delete_old_logs(self, before: datetime) -> int:
        return await self._in_tx("delete_old_logs", {"before": before})

    async def save_metadata(self, key: str, value: Any) -> None:
        await self._in_tx("save_metadata", {"key": key, "value": value})

    async def get_metadata(self, key: str) -> Optional[Any]:
        return await self._in_tx("get_metadata", {"key": key})

    async def list_metadata(self, prefix: str = "", after: Optional[str] = None, limit: int = 100) -> List[str]:
        """Stored keys starting with `prefix`, in byte order, after `after`: one page."""
        return await self._in_tx("list_metadata", _params(prefix=prefix, after=after, limit=limit))

    async def delete_metadata(self, key: str) -> bool:
        return await self._in_tx("delete_metadata", {"key": key})


class Transaction(StorageMethods):
    """The storage methods, run inside one transaction on the client's connection."""

    def __init__(self, client: "StorageProxyClient", handle: str):
        self._client = client
        self._transaction = handle

    @property
    def handle(self) -> str:
        return self._transaction

    async def _call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        return await self._client._call(method, params)

    async def commit(self) -> None:
        await self._client.commit_transaction(self._transaction)

    async def rollback(self) -> None:
        await self._client.rollback_transaction(self._transaction)


class _TransactionScope:
    """``async with client.transaction() as tx``: commit on success, roll back on an exception."""

    def __init__(self, client: "StorageProxyClient"):
        self._client = client
        self._tx: Optional[Transaction] = None

    async def __aenter__(self) -> Transaction:
        self._tx = Transaction(self._client, await self._client.begin_transaction())
        return self._tx

    async def __aexit__(self, kind, error, traceback) -> bool:
        assert self._tx is not None
        if kind is None:
            await self._tx.commit()
        else:
            try:
                await self._tx.rollback()
            except Exception:
                pass  # the exception that got us here is the one to see
        return False


class StorageProxyClient(StorageMethods, StorageAdapter, CacheAdapter, VectorStoreAdapter):
    """All three seed interfaces over one connection; safe for any number of concurrent tasks.

    ``address``: ``unix:///path/proxy.sock``, ``tcp://host:port`` or
    ``tls://host:port[?ca=FILE&cert=FILE&key=FILE]``. ``token``: the
    server's ``auth_token`` (TCP). The first connect is tried once, for at most
    ``first_connect_timeout`` seconds: a proxy that is not there is an error at once,
    not a long wait. A lost connection is reopened by the next call, retrying for up
    to ``connect_timeout`` seconds (a proxy restarting).
    """

    def __init__(self, address: str = "unix://storage/proxy.sock", token: Optional[str] = None,
                 connect_timeout: float = 10.0, first_connect_timeout: float = 1.0):
        self.address: Address = parse_address(address)
        self._token = token
        self._connect_timeout = connect_timeout
        self._first_connect_timeout = first_connect_timeout
        self._ever_connected = False
        self._connection: Optional[Connection] = None
        self._connecting: Optional[asyncio.Lock] = None
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"StorageProxyClient({describe(self.address)!r})"

    # -- the connection

    async def initialize(self) -> None:
        await self._connected()

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def __aenter__(self) -> "StorageProxyClient":
        await self.initialize()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def _connected(self) -> Connection:
        connection = self._connection
        if connection is not None and not connection.closed:
            return connection
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one reconnect for all the calls that found it closed
            if self._connection is not None and not self._connection.closed:
                return self._connection
            self._connection = await self._open()
            return self._connection

    async def _open(self) -> Connection:
        if not self._ever_connected:
            # Never reached yet: a wrong address or a proxy not started is told at once.
            try:
                connection = await asyncio.wait_for(Connection.open(self.address), self._first_connect_timeout)
            except asyncio.TimeoutError:
                raise ProxyConnectionError(f"cannot connect to {describe(self.address)}: "
                                           f"no answer within {self._first_connect_timeout} s") from None
        else:
            connection = await self._reopen()
        self._ever_connected = True
        return await self._authenticated(connection)

    async def _reopen(self) -> Connection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_timeout
        delay = 0.05
        while True:
            try:
                return await asyncio.wait_for(Connection.open(self.address), max(0.05, deadline - loop.time()))
            except (ProxyConnectionError, asyncio.TimeoutError):
                if loop.time() + delay > deadline:
                    raise ProxyConnectionError(f"cannot connect to {describe(self.address)} "
                                               f"within {self._connect_timeout} s") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _authenticated(self, connection: Connection) -> Connection:
        if self._token is not None:
            call_id = next(self._ids)
            answer = await connection.send(call_id, request_line(call_id, "auth", {"token": self._token}))
            if "error" in answer:
                await connection.close()
                raise error_from_wire(answer["error"])
        return connection

    async def _call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        try:
            answer = await self._send(method, params)
        except ProxyConnectionError:
            # A read that changes nothing is safe to send again on a new
            # connection (not inside a transaction: that ended with the old one).
            if method not in RETRY_SAFE or (params and "transaction" in params):
                raise
            answer = await self._send(method, params)
        if "error" in answer:
            raise error_from_wire(answer["error"])
        return answer.get("result")

    async def _send(self, method: str, params: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        connection = await self._connected()
        call_id = next(self._ids)
        return await connection.send(call_id, request_line(call_id, method, params))

    async def call(self, method: str, **params: Any) -> Any:
        """Any method by name (``server.status``, ``rpc.discover``, …)."""
        return await self._call(method, params or None)

    # -- StorageAdapter (the rest is in StorageMethods)

    async def health_check(self) -> bool:
        return await self._call("health_check")

    async def begin_transaction(self) -> str:
        return await self._call("begin_transaction")

    async def commit_transaction(self, transaction: Any) -> None:
        await self._call("commit_transaction", {"transaction": _handle(transaction)})

    async def rollback_transaction(self, transaction: Any) -> None:
        await self._call("rollback_transaction", {"transaction": _handle(transaction)})

    def transaction(self) -> _TransactionScope:
        return _TransactionScope(self)

    # -- Claims and leases (never inside a transaction: a claim commits before the work starts)

    async def claim_due_tasks(self, worker: str, limit: int = 1, lease_seconds: Any = 60,
                              agent_name: Optional[str] = None, now: Optional[datetime] = None,
                              max_running: Optional[int] = None, agent_prefix: Optional[str] = None) -> List[Dict[str, Any]]:
        """Take up to ``limit`` due tasks for ``worker``, leased for ``lease_seconds`` (seconds or a timedelta),
        of ``agent_name`` or of the agents whose names start with ``agent_prefix``; with ``max_running``,
        only while fewer than that many of ``agent_name``'s tasks run under live leases."""
        params = _params(worker=worker, limit=limit, lease_seconds=seconds(lease_seconds, "lease_seconds"),
                         agent_name=agent_name, now=now, max_running=max_running, agent_prefix=agent_prefix)
        return tasks_from_wire(await self._call("claim_due_tasks", params))

    async def renew_lease(self, task_id: str, worker: str, lease_seconds: Any = 60,
                          now: Optional[datetime] = None) -> Dict[str, Any]:
        """Extend ``worker``'s lease to ``lease_seconds`` after ``now`` (default: the proxy's clock);
        ``Conflict`` (``.data["owner"]``) when it does not hold the task."""
        params = _params(task_id=task_id, worker=worker, lease_seconds=seconds(lease_seconds, "lease_seconds"), now=now)
        return task_from_wire(await self._call("renew_lease", params))

    async def complete_task(self, task_id: str, worker: str, status: str = "completed",
                            next_run: Any = FROM_SCHEDULE, result: Any = None,
                            now: Optional[datetime] = None) -> Dict[str, Any]:
        """End ``worker``'s run. ``next_run``: ``FROM_SCHEDULE`` (the proxy computes it, after ``now``:
        default the proxy's clock), a datetime, or ``None`` for no next run. ``Conflict``
        (``.data["owner"]``) when the worker does not hold it."""
        params: Dict[str, Any] = _params(task_id=task_id, worker=worker, status=status, now=now)
        if next_run is not FROM_SCHEDULE:
            params["next_run"] = next_run
        if result is not None:
            params["result"] = result
        return task_from_wire(await self._call("complete_task", params))

    async def next_runs(self, schedule_type: str, schedule_value: str, time_zone: Optional[str] = None,
                        after: Optional[datetime] = None, count: int = 5) -> List[datetime]:
        """What the proxy computes for a schedule: its next ``count`` runs after ``after`` (default now)."""
        params = _params(schedule_type=schedule_type, schedule_value=schedule_value, time_zone=time_zone,
                         after=after, count=count)
        return [parse_time(t) for t in await self._call("schedule.next_runs", params)]

    # -- Live events

    def subscribe(self, topics: Optional[List[str]] = None, agent_name: Optional[str] = None,
                  task_id: Optional[str] = None, agent_prefix: Optional[str] = None,
                  leases: Optional[bool] = None, raw: bool = False) -> Subscription:
        """Committed changes as they happen: ``async for event in client.subscribe(["tasks"])``, or
        ``async with client.subscribe(...) as events`` (unsubscribes on exit). ``topics``: any of
        ``"tasks"`` and ``"logs"`` (default both); ``agent_name``/``task_id``/``agent_prefix`` narrow it;
        ``leases=False`` leaves out claims and lease renewals (updates after which a task is running);
        ``raw=True`` yields each event as the wire has it (timestamps as strings, not datetimes): less
        work for a listener that reads a field or two of thousands of events."""
        return Subscription(self._connected, self._call, {"topics": topics, "agent_name": agent_name, "task_id": task_id,
                                                          "agent_prefix": agent_prefix, "leases": leases}, raw)

    # -- CacheAdapter

    async def get(self, key: str) -> Optional[Any]:
        return await self._call("cache.get", {"key": key})

    async def set(self, key: str, value: Any, ttl: Optional[timedelta] = None) -> bool:
        params = {"key": key, "value": value}  # a None value is stored as null, not left out
        if ttl is not None:
            params["ttl"] = seconds(ttl)
        return await self._call("cache.set", params)

    async def delete(self, key: str) -> bool:
        return await self._call("cache.delete", {"key": key})

    async def exists(self, key: str) -> bool:
        return await self._call("cache.exists", {"key": key})

    async def clear_pattern(self, pattern: str) -> int:
        return await self._call("cache.clear_pattern", {"pattern": pattern})

    # -- VectorStoreAdapter: search and collections (adds and deletes are in StorageMethods)

    async def search(self, query: Optional[str] = None, top_k: int = 5, filter: Optional[Dict[str, Any]] = None, *,
                     embedding: Optional[Sequence[float]] = None, mode: Optional[str] = None,
                     collection: Optional[str] = None, exact: Optional[bool] = None,
                     ef: Optional[int] = None) -> List[Dict[str, Any]]:
        """Best first: by keyword with ``query``, by vector similarity with ``embedding``,
        both fused (hybrid) with both; ``mode`` forces one. Each hit: ``id``, ``document``,
        ``metadata``, ``score``, ``matched``. ``filter``: ``{key: value}``, operators ``$eq $ne $gt $gte $lt $lte $in $nin
        $exists $not`` on a field (a dotted path reaches into nested metadata), ``$and $or $not``
        joining filters (PROTOCOL.md "Filters"). Vector search is exact below
        ``vector.approximate_from_documents`` and through the HNSW graph from it;
        ``exact`` True or False forces one, ``ef`` widens the graph walk (recall)."""
        return await self._call("vector.search", _params(query=query, top_k=top_k, filter=filter, mode=mode,
                                                         embedding=vector_to_wire(embedding), collection=collection,
                                                         exact=exact, ef=ef))

    async def create_collection(self, name: str, dimension: int, metric: str = "cosine") -> Dict[str, Any]:
        """``metric``: cosine, dot or l2. Returns the collection; ``created`` is False when it existed alike."""
        return await self._call("vector.create_collection", {"name": name, "dimension": dimension, "metric": metric})

    async def list_collections(self) -> List[Dict[str, Any]]:
        return await self._call("vector.list_collections")

    async def drop_collection(self, name: str) -> bool:
        return await self._call("vector.drop_collection", {"name": name})


def _handle(transaction: Any) -> str:
    return transaction.handle if isinstance(transaction, Transaction) else transaction
