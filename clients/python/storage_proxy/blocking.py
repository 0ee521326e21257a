"""The blocking client, for scripts: the same methods as ``StorageProxyClient``,
each one a plain call. It runs the asyncio client on a private event loop, so
both behave alike (reconnects, errors, datetimes). One thread at a time.

    with StorageClient("unix:///app/storage/proxy.sock") as client:
        client.save_task({...})
        with client.transaction() as tx:
            tx.update_task_status("t1", "done")
"""

import asyncio
import functools
from typing import Any, Optional

from .client import StorageMethods, StorageProxyClient, Transaction
from .subscription import Subscription

# Every coroutine method of the async client that the blocking one offers as-is.
_METHODS = [name for name in dir(StorageProxyClient)
            if not name.startswith("_") and asyncio.iscoroutinefunction(getattr(StorageProxyClient, name))]
_TX_METHODS = [name for name in dir(StorageMethods)
               if not name.startswith("_") and asyncio.iscoroutinefunction(getattr(StorageMethods, name))]


class StorageClient:
    def __init__(self, address: str = "unix://storage/proxy.sock", token: Optional[str] = None,
                 connect_timeout: float = 10.0, first_connect_timeout: float = 1.0):
        self._loop = asyncio.new_event_loop()
        self._client = StorageProxyClient(address, token=token, connect_timeout=connect_timeout,
                                          first_connect_timeout=first_connect_timeout)

    def _run(self, coroutine: Any) -> Any:
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._client.close())
            self._loop.close()

    def __del__(self) -> None:
        # A client dropped without close() (a script that simply ends): close its
        # connection here, or asyncio warns "Task was destroyed but it is pending".
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "StorageClient":
        self.initialize()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def transaction(self) -> "BlockingTransaction":
        return BlockingTransaction(self)

    def subscribe(self, topics: Any = None, agent_name: Optional[str] = None, task_id: Optional[str] = None,
                  agent_prefix: Optional[str] = None, leases: Optional[bool] = None) -> "BlockingSubscription":
        """``for event in client.subscribe(["tasks"])``; subscribed when this returns.
        ``events.next(timeout)`` waits at most ``timeout`` seconds (None when nothing came)."""
        subscription = self._client.subscribe(topics, agent_name, task_id, agent_prefix, leases)
        self._run(subscription.start())
        return BlockingSubscription(self, subscription)


class BlockingSubscription:
    """The blocking face of ``Subscription``: an iterator, and a context manager that unsubscribes."""

    def __init__(self, client: StorageClient, subscription: Subscription):
        self._owner = client
        self._subscription = subscription

    @property
    def id(self) -> Optional[str]:
        return self._subscription.id

    def next(self, timeout: Optional[float] = None) -> Any:
        return self._owner._run(self._subscription.next(timeout))

    def __iter__(self) -> "BlockingSubscription":
        return self

    def __next__(self) -> Any:
        event = self.next()
        if event is None:  # closed
            raise StopIteration
        return event

    def close(self) -> None:
        self._owner._run(self._subscription.close())

    def __enter__(self) -> "BlockingSubscription":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class BlockingTransaction:
    """``with client.transaction() as tx``: commit on success, roll back on an exception."""

    def __init__(self, client: StorageClient):
        self._owner = client
        self._tx: Optional[Transaction] = None

    def __enter__(self) -> "BlockingTransaction":
        self._tx = Transaction(self._owner._client, self._owner.begin_transaction())
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            self._owner.commit_transaction(self.handle)
        else:
            try:
                self._owner.rollback_transaction(self.handle)
            except Exception:
                pass
        return False

    @property
    def handle(self) -> str:
        assert self._tx is not None
        return self._tx.handle


def _blocking(owner: type, name: str, target: Any) -> None:
    method = getattr(target, name)

    @functools.wraps(method)
    def call(self, *args: Any, **kwargs: Any) -> Any:
        if owner is StorageClient:
            return self._run(method(self._client, *args, **kwargs))
        return self._owner._run(method(self._tx, *args, **kwargs))

    setattr(owner, name, call)


for _name in _METHODS:
    if _name not in ("close",):
        _blocking(StorageClient, _name, StorageProxyClient)
for _name in _TX_METHODS:
    _blocking(BlockingTransaction, _name, StorageMethods)
