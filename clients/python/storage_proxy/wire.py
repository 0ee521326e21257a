"""What crosses the wire: addresses, request lines, and the conversion of
timestamps (``datetime`` in the API, RFC 3339 strings on the wire)."""

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .errors import StorageProxyError

TASK_TIMES = ("created_at", "updated_at", "last_run", "next_run", "lease_until")

Address = Tuple[str, str, int]  # ("unix", path, 0) or ("tcp", host, port)


def parse_address(address: str) -> Address:
    """``unix:///path/proxy.sock``, ``tcp://host:port``, or a plain socket path."""
    if address.startswith("unix://"):
        path = address[len("unix://"):]
        if not path:
            raise ValueError("unix:// needs a path: unix:///path/to/proxy.sock")
        return ("unix", path, 0)
    if address.startswith("tcp://"):
        parts = urlsplit(address)
        if not parts.hostname or parts.port is None:
            raise ValueError("tcp:// needs a host and a port: tcp://host:port")
        return ("tcp", parts.hostname, parts.port)
    if "://" in address:
        raise ValueError(f"unsupported address {address!r}: use unix:///path or tcp://host:port")
    return ("unix", address, 0)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # without an offset the proxy takes it as UTC
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def request_line(call_id: int, method: str, params: Optional[Dict[str, Any]]) -> bytes:
    message: Dict[str, Any] = {"jsonrpc": "2.0", "id": call_id, "method": method}
    if params:
        message["params"] = params
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default).encode() + b"\n"


def parse_time(text: Optional[str]) -> Optional[datetime]:
    if text is None:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"  # Python < 3.11 does not read "Z"
    return datetime.fromisoformat(text)


def task_from_wire(task: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if task is None:
        return None
    for field in TASK_TIMES:
        if isinstance(task.get(field), str):
            task[field] = parse_time(task[field])
    return task


def log_from_wire(log: Dict[str, Any]) -> Dict[str, Any]:
    if isinstance(log.get("created_at"), str):
        log["created_at"] = parse_time(log["created_at"])
    return log


def tasks_from_wire(tasks: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [task_from_wire(t) for t in tasks]


def logs_from_wire(logs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [log_from_wire(entry) for entry in logs]


def seconds(ttl: Any, name: str = "ttl") -> Optional[float]:
    """A ``timedelta`` (the seed's type) or a number of seconds; ``name`` is the parameter's, for the error."""
    if ttl is None:
        return None
    if hasattr(ttl, "total_seconds"):
        return ttl.total_seconds()
    if isinstance(ttl, (int, float)):
        return ttl
    raise StorageProxyError(f"{name} must be a timedelta or seconds, not {type(ttl).__name__}")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
