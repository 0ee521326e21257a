"""One asyncio connection to the proxy, shared by every concurrent call.

Calls are written at once, without waiting for earlier answers (pipelining),
and the proxy answers them in the order they were sent, so a FIFO of futures
is all the matching needed (each answer's id is still checked).

    call() ──line──▶ writer ──▶ proxy ──▶ reader task ──▶ pending[0].set_result
                                                   └──▶ events[subscription].put (notifications, no id)
"""

import asyncio
import json
import ssl
from collections import deque
from typing import Any, Deque, Dict, Optional, Tuple

from .errors import ProxyConnectionError
from .wire import Address

# Answers can be large (list_tasks with limit 10000); the proxy caps requests at 1 MiB by default.
MAX_ANSWER_BYTES = 256 * 1024 * 1024
# Past this many unsent bytes a caller waits for the socket to drain (backpressure).
HIGH_WATER = 1024 * 1024


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer
        self._pending: Deque[Tuple[int, "asyncio.Future[Dict[str, Any]]"]] = deque()
        # Live events by subscription id. A queue is made by whichever comes
        # first, the event or the subscriber: an event can be read before the
        # coroutine that asked for the subscription has resumed.
        self.events: Dict[str, "asyncio.Queue[Optional[Dict[str, Any]]]"] = {}
        self.closed = False
        self._reading = asyncio.ensure_future(self._read_answers())

    @classmethod
    async def open(cls, address: Address) -> "Connection":
        try:
            if address.kind == "unix":
                reader, writer = await asyncio.open_unix_connection(address.where, limit=MAX_ANSWER_BYTES)
            elif address.kind == "tls":
                reader, writer = await asyncio.open_connection(address.where, address.port, limit=MAX_ANSWER_BYTES,
                                                               ssl=tls_context(address), server_hostname=address.where)
            else:
                reader, writer = await asyncio.open_connection(address.where, address.port, limit=MAX_ANSWER_BYTES)
        except OSError as e:
            raise ProxyConnectionError(f"cannot connect to the proxy at {describe(address)}: {e.strerror or e}") from None
        return cls(reader, writer)

    async def send(self, call_id: int, line: bytes) -> Dict[str, Any]:
        """Writes one request line and waits for its answer (a JSON-RPC response object)."""
        if self.closed:
            raise ProxyConnectionError("the connection to the proxy is closed")
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._pending.append((call_id, future))
        self._writer.write(line)
        transport = self._writer.transport
        if transport is not None and transport.get_write_buffer_size() > HIGH_WATER:
            await self._writer.drain()
        return await future

    async def _read_answers(self) -> None:
        why = "the proxy closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                answer = json.loads(line)
                if isinstance(answer, dict) and answer.get("method") == "event" and "id" not in answer:
                    params = answer.get("params") or {}
                    self.event_queue(str(params.get("subscription"))).put_nowait(params)
                    continue
                if not self._pending:
                    why = "the proxy answered a request that was not sent"
                    break
                call_id, future = self._pending.popleft()
                if isinstance(answer, dict) and answer.get("id") not in (call_id, None):
                    why = f"answer for id {answer.get('id')!r} where {call_id} was expected"
                    future.set_exception(ProxyConnectionError(why))
                    break
                if not future.done():
                    future.set_result(answer)
        except (OSError, ValueError, asyncio.LimitOverrunError) as e:
            why = f"the connection to the proxy failed: {e}"
        except asyncio.CancelledError:
            why = "the connection was closed"
        self._fail_pending(why)

    def event_queue(self, subscription: str) -> "asyncio.Queue[Optional[Dict[str, Any]]]":
        return self.events.setdefault(subscription, asyncio.Queue())

    def _fail_pending(self, why: str) -> None:
        self.closed = True
        for queue in self.events.values():
            queue.put_nowait(None)  # the subscription's connection is gone
        while self._pending:
            _, future = self._pending.popleft()
            if not future.done():
                future.set_exception(ProxyConnectionError(why + "; the call may or may not have run"))
        self._writer.close()

    async def close(self) -> None:
        if not self._reading.done():
            self._reading.cancel()
            try:
                await self._reading
            except asyncio.CancelledError:
                pass
        self.closed = True
        try:
            await self._writer.wait_closed()
        except OSError:
            pass


def tls_context(address: Address) -> ssl.SSLContext:
    """Checks the proxy's certificate (and host name) against ``ca``, else the system's authorities."""
    context = ssl.create_default_context(cafile=address.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if address.cert:
        context.load_cert_chain(address.cert, address.key)
    return context


def describe(address: Address) -> str:
    return f"unix://{address.where}" if address.kind == "unix" else f"{address.kind}://{address.where}:{address.port}"
