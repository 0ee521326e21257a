"""A LangGraph agent whose state lives in the storage proxy: any process can resume its thread,
and what it published is remembered across threads (LangGraph's store).

    pip install "./clients/python[langgraph]"
    python langgraph_agent.py start  THREAD "draft a post about otters"   # runs until it asks for approval, then exits
    python langgraph_agent.py resume THREAD yes                           # another process (or host) continues it
    python langgraph_agent.py history THREAD                              # every step, newest first
    python langgraph_agent.py published                                   # every thread's posts (the store)

STORAGE_PROXY_ADDRESS: unix://storage/proxy.sock (default), tcp://host:7600 or tls://…;
STORAGE_PROXY_AUTH_TOKEN: the proxy's token, if it has one.
"""

import operator
import os
import sys
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Command, interrupt

from storage_proxy.langgraph import ProxySaver, ProxyStore


class State(TypedDict):
    topic: str
    steps: Annotated[list, operator.add]
    approved: bool


def draft(state: State) -> dict:
    return {"steps": [f"drafted: {state['topic']}"]}


def approve(state: State) -> dict:
    # Pauses the run: the checkpoint is in the proxy, so the process may exit here.
    answer = interrupt({"question": "publish this?", "draft": state["steps"][-1]})
    return {"steps": [f"approval: {answer}"], "approved": answer == "yes"}


def publish(state: State, *, store: BaseStore) -> dict:
    if state["approved"]:  # long-term memory: every thread, every process sees it
        store.put(("posts",), state["topic"], {"draft": state["steps"][0]})
    return {"steps": ["published" if state["approved"] else "shelved"]}


def graph(saver: ProxySaver, store: ProxyStore):
    g = StateGraph(State)
    g.add_node("draft", draft)
    g.add_node("approve", approve)
    g.add_node("publish", publish)
    g.add_edge(START, "draft")
    g.add_edge("draft", "approve")
    g.add_edge("approve", "publish")
    g.add_edge("publish", END)
    return g.compile(checkpointer=saver, store=store)


def main(command: str, thread: str = "", argument: str = "") -> None:
    address = os.environ.get("STORAGE_PROXY_ADDRESS", "unix://storage/proxy.sock")
    token = os.environ.get("STORAGE_PROXY_AUTH_TOKEN")
    with ProxySaver(address, token=token) as saver, ProxyStore(address, token=token) as store:
        agent, config = graph(saver, store), {"configurable": {"thread_id": thread}}
        if command == "published":
            for item in store.search(("posts",), limit=100):
                print(item.key, item.value["draft"])
        elif command == "start":
            state = agent.invoke({"topic": argument, "steps": [], "approved": False}, config)
            print("waiting:", state["__interrupt__"][0].value)
        elif command == "resume":
            print("done:", agent.invoke(Command(resume=argument), config)["steps"])
        else:
            for snapshot in agent.get_state_history(config):
                print(snapshot.metadata["step"], snapshot.metadata["source"], snapshot.next, snapshot.values.get("steps"))


if __name__ == "__main__":
    main(*sys.argv[1:])
