"""Live events: ``async for event in client.subscribe(...)``.

Each event is the ``params`` of the proxy's ``event`` notification, with its
task or log decoded like ``get_task``/``query_logs`` results::

    {"subscription": "s1", "topic": "tasks", "op": "updated", "task": {...}}
    {"subscription": "s1", "topic": "logs", "op": "created", "log": {...}}
    {"subscription": "s1", "op": "lagged", "dropped": {"tasks": 120}}

A ``lagged`` event means changes were missed (the reader was too slow, or the
connection was lost and the subscription made again, with a ``reason``): re-read
what you follow. A lost connection is reopened and the subscription renewed by
the iterator itself.
"""

import asyncio
from typing import Any, Awaitable, Callable, Dict, Optional

from .connection import Connection
from .errors import ProxyConnectionError
from .wire import log_from_wire, task_from_wire

# What a subscription needs of its client (and no more, so this module does not import the client's):
# the connection its calls go out on, and a call on it.
Connect = Callable[[], Awaitable[Connection]]
Call = Callable[[str, Dict[str, Any]], Awaitable[Any]]


class Subscription:
    def __init__(self, connect: Connect, call: Call, params: Dict[str, Any], raw: bool = False):
        self._connect = connect
        self._call = call
        self._params = {k: v for k, v in params.items() if v is not None}
        self._raw = raw
        self._connection: Optional[Connection] = None
        self.id: Optional[str] = None
        self._closed = False

    async def start(self) -> "Subscription":
        """Subscribes now (iterating does it too): changes committed after this returns are seen."""
        if self.id is None:
            self._connection = await self._connect()
            result = await self._call("subscribe", dict(self._params))
            self.id = result["subscription"]
            self._connection.event_queue(self.id)
        return self

    async def next(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The next event; None when ``timeout`` seconds pass without one, or once closed."""
        if self._closed:
            return None
        await self.start()
        assert self._connection is not None and self.id is not None
        queue = self._connection.event_queue(self.id)
        try:
            params = await asyncio.wait_for(queue.get(), timeout) if timeout is not None else await queue.get()
        except asyncio.TimeoutError:
            return None
        if params is None:  # the connection was lost: subscribe again, and say so
            self._connection.events.pop(self.id, None)
            self.id = None
            await self.start()
            return {"subscription": self.id, "op": "lagged", "dropped": {},
                    "reason": "the connection to the proxy was lost and the subscription made again"}
        return params if self._raw else _decoded(params)

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Dict[str, Any]:
        event = await self.next()
        if event is None:  # closed
            raise StopAsyncIteration
        return event

    async def close(self) -> None:
        """Unsubscribes (the proxy frees it at once) and ends the iteration."""
        if self._closed:
            return
        self._closed = True
        if self.id is not None and self._connection is not None and not self._connection.closed:
            try:
                await self._call("unsubscribe", {"subscription": self.id})
            except ProxyConnectionError:
                pass
            self._connection.events.pop(self.id, None)

    aclose = close

    async def __aenter__(self) -> "Subscription":
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


def _decoded(params: Dict[str, Any]) -> Dict[str, Any]:
    event = dict(params)
    if isinstance(event.get("task"), dict):
        event["task"] = task_from_wire(event["task"])
    if isinstance(event.get("log"), dict):
        event["log"] = log_from_wire(event["log"])
    return event
