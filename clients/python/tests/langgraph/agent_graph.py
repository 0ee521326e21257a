"""A small LangGraph agent for the end-to-end tests: plan → research → ask (interrupt) → act.

    python agent_graph.py ADDRESS THREAD start    runs from the start (research waits while $SLOW_RESEARCH names a file)
    python agent_graph.py ADDRESS THREAD resume   continues the thread, answers the interrupt "yes", prints the result

Each run is a process of its own with its own saver: what it finds is what the proxy kept.
"""

import asyncio
import json
import operator
import os
import sys
import time
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class State(TypedDict):
    log: Annotated[list, operator.add]
    answer: str


def plan(state: State) -> dict:
    return {"log": ["plan"]}


def research(state: State) -> dict:
    flag = os.environ.get("SLOW_RESEARCH")
    if flag:
        with open(flag, "w") as f:
            f.write("researching")
        time.sleep(120)  # killed here
    return {"log": ["research"]}


def ask(state: State) -> dict:
    answer = interrupt({"question": "publish?", "seen": list(state["log"])})
    return {"log": [f"asked:{answer}"], "answer": answer}


def act(state: State) -> dict:
    return {"log": ["published" if state["answer"] == "yes" else "dropped"]}


def builder() -> StateGraph:
    g = StateGraph(State)
    for node in (plan, research, ask, act):
        g.add_node(node.__name__, node)
    g.add_edge(START, "plan")
    g.add_edge("plan", "research")
    g.add_edge("research", "ask")
    g.add_edge("ask", "act")
    g.add_edge("act", END)
    return g


def history(graph, config) -> list:
    """What get_state_history says, without ids and times: step, source, next nodes, values, interrupts."""
    return [[s.metadata.get("step"), s.metadata.get("source"), list(s.next), s.values,
             [i.value for t in s.tasks for i in t.interrupts]] for s in graph.get_state_history(config)]


async def ahistory(graph, config) -> list:
    return [[s.metadata.get("step"), s.metadata.get("source"), list(s.next), s.values,
             [i.value for t in s.tasks for i in t.interrupts]] async for s in graph.aget_state_history(config)]


def start(address: str, thread: str) -> None:
    from storage_proxy.langgraph import ProxySaver
    with ProxySaver(address) as saver:
        graph = builder().compile(checkpointer=saver)
        graph.invoke({"log": ["start"], "answer": ""}, {"configurable": {"thread_id": thread}})


async def resume(address: str, thread: str) -> None:
    from storage_proxy.langgraph import AsyncProxySaver
    async with AsyncProxySaver(address) as saver:
        graph = builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": thread}}
        paused = await graph.ainvoke(None, config)
        done = await graph.ainvoke(Command(resume="yes"), config)
        print(json.dumps({"paused": paused["__interrupt__"][0].value, "done": done, "history": await ahistory(graph, config)}))


if __name__ == "__main__":
    address, thread, mode = sys.argv[1:4]
    if mode == "start":
        start(address, thread)
    else:
        asyncio.run(resume(address, thread))
