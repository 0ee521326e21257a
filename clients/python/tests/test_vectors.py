"""protocol/vectors/*.jsonl replayed from Python against a real proxy: the wire
this client speaks and the server answers cannot drift apart. Each file is one
conversation on one fresh connection to a fresh proxy (vectors/README.md)."""

import json
import re
import socket
from pathlib import Path

import pytest

from conftest import REPO, Proxy

VECTORS = sorted((REPO / "protocol" / "vectors").glob("*.jsonl"))
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def mismatch(actual, pattern, captures, path="$"):
    """None when ``actual`` matches ``pattern``, else where and why not."""
    if isinstance(pattern, str):
        if pattern == "$any":
            return None
        if pattern == "$string":
            return None if isinstance(actual, str) else f"{path}: expected a string"
        if pattern == "$timestamp":
            return None if isinstance(actual, str) and TIMESTAMP.match(actual) else f"{path}: expected a timestamp, got {actual!r}"
        if pattern == "$uuid":
            return None if isinstance(actual, str) and UUID.match(actual) else f"{path}: expected a uuid, got {actual!r}"
        if pattern.startswith("$capture:"):
            if not isinstance(actual, str):
                return f"{path}: expected a string to capture"
            captures[pattern[len("$capture:"):]] = actual
            return None
        expected = substitute(pattern, captures)
        return None if actual == expected else f"{path}: expected {expected!r}, got {actual!r}"
    if isinstance(pattern, dict):
        if not isinstance(actual, dict) or set(actual) != set(pattern):
            return f"{path}: expected keys {sorted(pattern)}, got {actual!r}"
        for key, value in pattern.items():
            why = mismatch(actual[key], value, captures, f"{path}.{key}")
            if why:
                return why
        return None
    if isinstance(pattern, list):
        if not isinstance(actual, list) or len(actual) != len(pattern):
            return f"{path}: expected {len(pattern)} elements, got {actual!r}"
        for i, (a, p) in enumerate(zip(actual, pattern)):
            why = mismatch(a, p, captures, f"{path}[{i}]")
            if why:
                return why
        return None
    same = actual == pattern and type(actual) is type(pattern)
    return None if same else f"{path}: expected {pattern!r}, got {actual!r}"


def substitute(text, captures):
    for name, value in captures.items():
        text = text.replace("${" + name + "}", value)
    return text


def test_there_are_vectors():
    assert len(VECTORS) >= 5


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path):
    proxy = Proxy("personal")
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(proxy.socket_path)
            s.settimeout(10)
            answers = s.makefile("rb")
            captures = {}
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                step = json.loads(line)
                s.sendall(substitute(step["send"], captures).encode() + b"\n")
                # The answer and the events the line causes, in whichever order they come.
                expect, events = step["expect"], step.get("events", [])
                answer, got = None, []
                while (expect is not None and answer is None) or len(got) < len(events):
                    message = json.loads(answers.readline())
                    if isinstance(message, dict) and message.get("method") == "event" and "id" not in message:
                        got.append(message)
                    else:
                        answer = message
                if expect is not None:
                    why = mismatch(answer, expect, captures)
                    assert why is None, f"{path.name} line {number}: {why}"
                for event, pattern in zip(got, events):
                    why = mismatch(event, pattern, captures)
                    assert why is None, f"{path.name} line {number} event: {why}"
    finally:
        proxy.stop()
