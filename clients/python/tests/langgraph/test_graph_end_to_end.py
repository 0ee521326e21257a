"""A real StateGraph checkpointed through the proxy, judged against LangGraph's InMemorySaver
running the same graph: an agent process killed with kill -9 mid-run (and its proxy with it)
is resumed by another process through a second proxy on the same PostgreSQL; its history and
a time-travel fork give exactly what InMemorySaver gives."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from storage_proxy.langgraph import AsyncProxySaver, ProxySaver

from conftest import EDITIONS, Proxy

sys.path.insert(0, str(Path(__file__).parent))
import agent_graph  # noqa: E402

AGENT = str(Path(__file__).parent / "agent_graph.py")


def reference(thread: str = "ref"):
    """The same run on LangGraph's own in-memory saver, uninterrupted: (interrupt, final state, history, graph, config)."""
    graph = agent_graph.builder().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": thread}}
    paused = graph.invoke({"log": ["start"], "answer": ""}, config)
    done = graph.invoke(Command(resume="yes"), config)
    return paused["__interrupt__"][0].value, done, agent_graph.history(graph, config), graph, config


def test_killed_mid_run_and_resumed_through_another_proxy():
    first = Proxy("enterprise")
    second = Proxy("enterprise", same_store_as=first)
    try:
        thread = "t-" + uuid.uuid4().hex[:8]
        flag = first.folder / "researching"
        agent = subprocess.Popen([sys.executable, AGENT, first.address, thread, "start"],
                                 env={**os.environ, "SLOW_RESEARCH": str(flag)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while not flag.exists():
            assert agent.poll() is None, agent.stderr.read().decode()
            assert time.time() < deadline, "the agent never reached research"
            time.sleep(0.05)
        agent.send_signal(signal.SIGKILL)  # mid-run: plan's checkpoint saved, research running
        first.process.send_signal(signal.SIGKILL)  # and its proxy
        agent.wait()
        first.process.wait()

        run = subprocess.run([sys.executable, AGENT, second.address, thread, "resume"], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr.decode()
        resumed = json.loads(run.stdout)
        question, done, history, _, _ = reference()
        assert resumed["paused"] == question
        assert resumed["done"] == done == {"log": ["start", "plan", "research", "asked:yes", "published"], "answer": "yes"}
        assert resumed["history"] == json.loads(json.dumps(history))
    finally:
        second.stop()
        first.stop()


@pytest.fixture(params=EDITIONS)
def served(request):
    proxy = Proxy(request.param)
    yield proxy
    proxy.stop()


def test_history_and_time_travel_match_in_memory_saver(served):
    """Blocking graph on ProxySaver: the run, its history, and a fork from the checkpoint before research."""
    _, done, history, ref_graph, ref_config = reference()
    with ProxySaver(served.address) as saver:
        graph = agent_graph.builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "tt-" + uuid.uuid4().hex[:8]}}
        graph.invoke({"log": ["start"], "answer": ""}, config)
        assert graph.invoke(Command(resume="yes"), config) == done
        assert agent_graph.history(graph, config) == history

        def fork(g, c):
            before = next(s for s in g.get_state_history(c) if s.next == ("research",))
            paused = g.invoke(None, before.config)
            return paused["__interrupt__"][0].value, g.invoke(Command(resume="no"), c), agent_graph.history(g, c)

        ours, theirs = fork(graph, config), fork(ref_graph, ref_config)
        assert ours == theirs
        assert ours[1]["log"][-1] == "dropped" and len(ours[2]) > len(history)


async def test_async_graph_with_both_savers(served):
    """ainvoke on AsyncProxySaver, and on ProxySaver (its async methods run the blocking ones in a thread)."""
    _, done, history, _, _ = reference()
    for make in (lambda: AsyncProxySaver(served.address), lambda: ProxySaver(served.address)):
        async with make() as saver:
            graph = agent_graph.builder().compile(checkpointer=saver)
            config = {"configurable": {"thread_id": "a-" + uuid.uuid4().hex[:8]}}
            await graph.ainvoke({"log": ["start"], "answer": ""}, config)
            assert await graph.ainvoke(Command(resume="yes"), config) == done
            assert await agent_graph.ahistory(graph, config) == history
