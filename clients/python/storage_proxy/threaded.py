"""Connections that live on a thread of their own, for adapters whose
interfaces are blocking and asyncio at once (LangChain's ``VectorStore``,
``BaseCache``, ``BaseStore``; LangGraph's ``ProxyStore``): a blocking call from
any thread and an awaited one from any event loop reach the same connection,
and no connection is tied to a caller's loop (a test's loop, closed after it,
would take it along).
"""

import asyncio
import sys
import threading
from typing import Any, Awaitable, Callable, Coroutine, Optional, TypeVar

from .client import StorageProxyClient

T = TypeVar("T")

# Seconds close() waits for the connection to close and the thread to end.
CLOSE_WAIT = 5.0


class LoopThread:
    """An event loop running on a daemon thread, and coroutines sent to it."""

    def __init__(self, name: str):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """``coroutine`` run on the loop's thread; this thread waits for it."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a blocking call from the loop's own thread would wait for itself")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """``coroutine`` run on the loop's thread; the caller's loop goes on meanwhile."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    def close(self, last: Optional[Callable[[], Awaitable[Any]]] = None) -> None:
        """``last()`` run on the loop (a connection's close), then the loop and its thread ended."""
        if self._loop.is_running():
            try:
                if last is not None:
                    asyncio.run_coroutine_threadsafe(last(), self._loop).result(CLOSE_WAIT)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(CLOSE_WAIT)

    @staticmethod
    def dropped(close: Callable[[], None]) -> None:
        """For ``__del__``: ``close()``, but not while the interpreter shuts down: the thread (a
        daemon) is stopped by then and would never answer (a script's exit hung on it); the
        process's exit closes the connection anyway."""
        if sys.is_finalizing():
            return
        try:
            close()
        except Exception:
            pass


class ThreadedClient:
    """A ``StorageProxyClient`` on a ``LoopThread``: ``run(lambda client: client.get(key))``."""

    def __init__(self, address: str, *, token: Optional[str] = None, name: str = "storage-proxy"):
        self._thread = LoopThread(name)
        self.client = StorageProxyClient(address, token=token)

    def run(self, call: Callable[[StorageProxyClient], Coroutine[Any, Any, T]]) -> T:
        return self._thread.run(call(self.client))

    async def arun(self, call: Callable[[StorageProxyClient], Coroutine[Any, Any, T]]) -> T:
        return await self._thread.arun(call(self.client))

    def close(self) -> None:
        self._thread.close(self.client.close)

    def __del__(self) -> None:
        LoopThread.dropped(self.close)
