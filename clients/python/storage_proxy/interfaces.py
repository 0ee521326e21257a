"""The seed's three interfaces (SEED-storage-adapter-plan.md), as written there.

Agent code written against them keeps working when its adapter is replaced by
``StorageProxyClient``, which implements all three.
"""

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional


class StorageAdapter(ABC):
    @abstractmethod
    async def initialize(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def health_check(self) -> bool: ...

    @abstractmethod
    async def save_task(self, task: Dict[str, Any]) -> str: ...

    @abstractmethod
    async def get_task(self, task_id: str) -> Optional[Dict[str, Any]]: ...

    @abstractmethod
    async def list_tasks(self, agent_name: Optional[str] = None, status: Optional[str] = None,
                         limit: int = 100, offset: int = 0) -> List[Dict[str, Any]]: ...

    @abstractmethod
    async def delete_task(self, task_id: str) -> bool: ...

    @abstractmethod
    async def update_task_status(self, task_id: str, status: str, last_run: Optional[datetime] = None,
                                 next_run: Optional[datetime] = None) -> bool: ...

    @abstractmethod
    async def save_log(self, task_id: str, level: str, message: str,
                       metadata: Optional[Dict[str, Any]] = None) -> str: ...

    @abstractmethod
    async def query_logs(self, task_id: Optional[str] = None, level: Optional[str] = None,
                         start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
                         limit: int = 100) -> List[Dict[str, Any]]: ...

    @abstractmethod
    async def delete_old_logs(self, before: datetime) -> int: ...

    @abstractmethod
    async def save_metadata(self, key: str, value: Any) -> None: ...

    @abstractmethod
    async def get_metadata(self, key: str) -> Optional[Any]: ...

    @abstractmethod
    async def begin_transaction(self) -> Any: ...

    @abstractmethod
    async def commit_transaction(self, transaction: Any) -> None: ...

    @abstractmethod
    async def rollback_transaction(self, transaction: Any) -> None: ...


class CacheAdapter(ABC):
    @abstractmethod
    async def initialize(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> Optional[Any]: ...

    @abstractmethod
    async def set(self, key: str, value: Any, ttl: Optional[timedelta] = None) -> bool: ...

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def clear_pattern(self, pattern: str) -> int: ...


class VectorStoreAdapter(ABC):
    @abstractmethod
    async def initialize(self) -> None: ...

    @abstractmethod
    async def add_documents(self, documents: List[str], metadata: List[Dict[str, Any]],
                            embeddings: Optional[List[List[float]]] = None) -> List[str]: ...

    @abstractmethod
    async def search(self, query: str, top_k: int = 5,
                     filter: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]: ...

    @abstractmethod
    async def delete_documents(self, document_ids: List[str]) -> int: ...
