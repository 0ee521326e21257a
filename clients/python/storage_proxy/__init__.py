"""Thin client of the storage proxy (see protocol/PROTOCOL.md).

``StorageProxyClient`` (asyncio) implements the seed's ``StorageAdapter``,
``CacheAdapter`` and ``VectorStoreAdapter``; ``StorageClient`` offers the same
methods blocking. Standard library only.
"""

from .blocking import BlockingSubscription, BlockingTransaction, StorageClient
from .client import FROM_SCHEDULE, StorageProxyClient, Transaction
from .errors import (BackendUnavailable, Conflict, InternalError, InvalidParams, InvalidRequest, MethodNotFound,
                     NotFound, Overloaded, ParseError, ProxyConnectionError, RequestTooLarge, RetryableError,
                     StorageProxyError, Timeout, TransactionError, Unauthorized)
from .interfaces import CacheAdapter, StorageAdapter, VectorStoreAdapter
from .subscription import Subscription

__all__ = [
    "StorageProxyClient", "Transaction", "FROM_SCHEDULE", "StorageClient", "BlockingTransaction",
    "Subscription", "BlockingSubscription",
    "StorageAdapter", "CacheAdapter", "VectorStoreAdapter",
    "StorageProxyError", "RetryableError", "ParseError", "InvalidRequest", "MethodNotFound", "InvalidParams",
    "InternalError", "NotFound", "Conflict", "BackendUnavailable", "TransactionError", "RequestTooLarge",
    "Overloaded", "Unauthorized", "Timeout", "ProxyConnectionError",
]
