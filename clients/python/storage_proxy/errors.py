"""Errors raised by the clients: one class per JSON-RPC code of protocol/PROTOCOL.md.

Every error carries the server's ``code``, ``message`` and ``data``. The
retryable ones (backend unavailable, overloaded, timeout) share the base class
``RetryableError``, so ``except RetryableError`` is the retry loop's test.
"""

from typing import Any, Dict, Optional, Type


class StorageProxyError(Exception):
    """An error answered by the proxy (or, with ``code`` None, met on the way to it)."""

    code: Optional[int] = None

    def __init__(self, message: str, code: Optional[int] = None, data: Any = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.data = data

    def __str__(self) -> str:
        return f"{self.message} ({self.code})" if self.code is not None else self.message


class RetryableError(StorageProxyError):
    """Trying again later may succeed; ``retry_after`` is the server's hint in seconds, if any."""

    @property
    def retry_after(self) -> Optional[float]:
        if isinstance(self.data, dict) and isinstance(self.data.get("retry_after_ms"), (int, float)):
            return self.data["retry_after_ms"] / 1000.0
        return None


class ParseError(StorageProxyError):
    code = -32700


class InvalidRequest(StorageProxyError):
    code = -32600


class MethodNotFound(StorageProxyError):
    code = -32601


class InvalidParams(StorageProxyError):
    """``data`` names the field: ``{"field": "task.agent_name", "reason": "is required"}``."""

    code = -32602

    @property
    def field(self) -> Optional[str]:
        return self.data.get("field") if isinstance(self.data, dict) else None


class InternalError(StorageProxyError):
    code = -32603


class NotFound(StorageProxyError):
    code = -32001


class Conflict(StorageProxyError):
    code = -32002


class BackendUnavailable(RetryableError):
    code = -32003


class TransactionError(StorageProxyError):
    """The transaction is unknown, expired, or belongs to another connection."""

    code = -32004


class RequestTooLarge(StorageProxyError):
    code = -32005


class Overloaded(RetryableError):
    code = -32006


class Unauthorized(StorageProxyError):
    code = -32007


class Timeout(RetryableError):
    code = -32008


class ProxyConnectionError(StorageProxyError, ConnectionError):
    """The connection to the proxy failed or was lost. A call in flight when it
    was lost may or may not have run; the next call reconnects."""


_BY_CODE: Dict[int, Type[StorageProxyError]] = {
    cls.code: cls
    for cls in (ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, NotFound,
                Conflict, BackendUnavailable, TransactionError, RequestTooLarge, Overloaded,
                Unauthorized, Timeout)
}


def error_from_wire(error: Dict[str, Any]) -> StorageProxyError:
    """The exception for a JSON-RPC ``error`` member."""
    code = error.get("code")
    message = str(error.get("message", "unknown error"))
    data = error.get("data")
    cls = _BY_CODE.get(code) if isinstance(code, int) else None
    if cls is None:
        cls = RetryableError if isinstance(data, dict) and data.get("retryable") else StorageProxyError
    return cls(message, code if isinstance(code, int) else None, data)
