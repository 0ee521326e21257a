"""What crosses the wire: addresses, request lines, and the conversion of
timestamps (``datetime`` in the API, RFC 3339 strings on the wire)."""

import base64
import json
import sys
from array import array
from datetime import datetime, timezone
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Union
from urllib.parse import parse_qs, urlsplit

from .errors import StorageProxyError

TASK_TIMES = ("created_at", "updated_at", "last_run", "next_run", "lease_until")

class Address(NamedTuple):
    """Where the proxy listens: ``kind`` is "unix" (``where`` a path), "tcp" or
    "tls" (``where`` a host); a TLS address may name PEM files: the authority
    to trust (``ca``, else the system's) and a client certificate (``cert``,
    ``key``) for mutual TLS."""
    kind: str
    where: str
    port: int = 0
    ca: Optional[str] = None
    cert: Optional[str] = None
    key: Optional[str] = None


def parse_address(address: str) -> Address:
    """``unix:///path/proxy.sock``, ``tcp://host:port``,
    ``tls://host:port[?ca=FILE&cert=FILE&key=FILE]``, or a plain socket path."""
    if address.startswith("unix://"):
        path = address[len("unix://"):]
        if not path:
            raise ValueError("unix:// needs a path: unix:///path/to/proxy.sock")
        return Address("unix", path)
    if address.startswith(("tcp://", "tls://")):
        parts = urlsplit(address)
        kind = parts.scheme
        if not parts.hostname or parts.port is None:
            raise ValueError(f"{kind}:// needs a host and a port: {kind}://host:port")
        files: Dict[str, str] = {}
        for name, values in parse_qs(parts.query, strict_parsing=bool(parts.query)).items():
            if kind != "tls" or name not in ("ca", "cert", "key"):
                raise ValueError(f"unknown option {name!r} in {address!r} (tls:// takes ca, cert and key)")
            files[name] = values[-1]
        return Address(kind, parts.hostname, parts.port, **files)
    if "://" in address:
        raise ValueError(f"unsupported address {address!r}: use unix:///path, tcp://host:port or tls://host:port")
    return Address("unix", address)


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


def vector_to_wire(vector: Optional[Sequence[float]]) -> Union[None, str, List[Any]]:
    """A vector (a list, a tuple, a numpy array) as the proxy takes it fastest: the
    base64 of its components as little-endian float32, which the proxy stores
    anyway. Formatting 384 floats as JSON text costs Python about 0.4 ms, this
    about 0.02. Numbers ``array`` refuses go as a JSON list, for the proxy to
    name the bad component."""
    if vector is None:
        return None
    if hasattr(vector, "astype") and hasattr(vector, "tobytes"):  # numpy, without importing it
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    try:
        packed = array("f", vector)
    except (TypeError, ValueError, OverflowError):
        return list(vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")
