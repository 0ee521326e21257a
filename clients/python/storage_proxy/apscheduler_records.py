"""How ``storage_proxy.apscheduler`` keeps APScheduler's objects in the proxy: their
marshalled form as JSON (datetimes, durations, bytes and ids tagged), and the
states a job's proxy task goes through."""

import base64
from datetime import timedelta
from datetime import datetime
from enum import Enum
from typing import Any, Dict
from uuid import UUID

# A job's proxy task is a job while pending or running; released, its status is the outcome's name.
LIVE = ("pending", "running")
TAGS = {"$time", "$seconds", "$bytes", "$uuid", "$object"}


def to_json(value: Any) -> Any:
    """APScheduler's marshalled values as JSON: datetimes, durations, bytes and ids tagged (a
    one-key object of a tag's shape that is data, in a job's metadata say, is wrapped)."""
    if isinstance(value, dict):
        encoded = {k: to_json(v) for k, v in value.items()}
        return {"$object": encoded} if len(value) == 1 and next(iter(value)) in TAGS else encoded
    if isinstance(value, (list, tuple, frozenset, set)):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$seconds": value.total_seconds()}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, Enum):
        return value.name  # APScheduler's fields take an enum's name
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "$time":
                return datetime.fromisoformat(inner)
            if tag == "$seconds":
                return timedelta(seconds=inner)
            if tag == "$bytes":
                return base64.b64decode(inner)
            if tag == "$uuid":
                return UUID(inner)
            if tag == "$object":
                return {k: from_json(v) for k, v in inner.items()}
        return {k: from_json(v) for k, v in value.items()}
    return value


def event_to_json(event: Any) -> Dict[str, Any]:
    """An event's fields as plain JSON (ids and times as strings, enums by name): APScheduler's own
    converters read them back (``unmarshal``), with none of ``from_json``'s work, which every worker
    would pay for every release it hears."""
    return {k: str(v) if isinstance(v, UUID) else v.isoformat() if isinstance(v, datetime) else
            v.name if isinstance(v, Enum) else v for k, v in event.marshal().items()}


def job_id_of(stored: Dict[str, Any]) -> UUID:
    """The APScheduler job id of a job's proxy task (``<namespace>:j:<uuid>``)."""
    return UUID(stored["id"].rsplit(":", 1)[1])
