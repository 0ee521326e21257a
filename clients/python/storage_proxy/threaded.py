"""A client whose connection lives on a thread of its own, for adapters whose
interfaces are blocking and asyncio at once (LangChain's ``VectorStore``,
``BaseCache``, ``BaseStore``): a blocking call from any thread and an awaited
one from any event loop reach the same connection, and no connection is tied
to a caller's loop (a test's loop, closed after it, would take it along).
"""

import asyncio
import sys
import threading
from typing import Any, Awaitable, Callable, Optional, TypeVar

from .client import StorageProxyClient

T = TypeVar("T")

# Seconds close() waits for the connection to close and the thread to end.
CLOSE_WAIT = 5.0


class ThreadedClient:
    def __init__(self, address: str, *, token: Optional[str] = None, name: str = "storage-proxy"):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self.client = StorageProxyClient(address, token=token)

    def run(self, call: Callable[[StorageProxyClient], Awaitable[T]]) -> T:
        """``call(client)`` on the client's thread; this thread waits for it."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a blocking call from the client's own thread would wait for itself")
        return asyncio.run_coroutine_threadsafe(call(self.client), self._loop).result()

    async def arun(self, call: Callable[[StorageProxyClient], Awaitable[T]]) -> T:
        """``call(client)`` on the client's thread; the caller's loop goes on meanwhile."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(self.client), self._loop))

    def close(self) -> None:
        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self.client.close(), self._loop).result(CLOSE_WAIT)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(CLOSE_WAIT)

    def __del__(self) -> None:
        # Not while the interpreter shuts down: the client's thread (a daemon) is stopped by then
        # and would never answer; the process's exit closes the connection anyway.
        if sys.is_finalizing():
            return
        try:
            self.close()
        except Exception:
            pass
