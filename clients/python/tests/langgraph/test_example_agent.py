"""The README's LangGraph example (examples/langgraph_agent.py): started in one process,
resumed in another, its history and its long-term memory read by others, on each edition."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import EDITIONS, Proxy

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "langgraph_agent.py")


@pytest.mark.parametrize("edition", EDITIONS)
def test_two_processes_share_a_thread(edition):
    proxy = Proxy(edition)
    try:
        env = {**os.environ, "STORAGE_PROXY_ADDRESS": proxy.address}
        thread = uuid.uuid4().hex

        def run(*args):
            done = subprocess.run([sys.executable, EXAMPLE, *args], env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert "'draft': 'drafted: otters'" in run("start", thread, "otters")
        assert run("resume", thread, "yes").strip() == "done: ['drafted: otters', 'approval: yes', 'published']"
        history = run("history", thread).splitlines()
        assert len(history) == 5 and history[0].startswith("3 loop () ") and history[-1].startswith("-1 input ('__start__',)")
        other = uuid.uuid4().hex
        run("start", other, "badgers")
        run("resume", other, "no")  # shelved: not remembered
        assert run("published").splitlines() == ["otters drafted: otters"]
    finally:
        proxy.stop()
