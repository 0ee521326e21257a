"""LangGraph's own store tests (tests/test_store.py and tests/embed_test_utils.py of the
langgraph-checkpoint 4.3.2 source distribution, MIT licence, copied here unmodified) run
against ProxyStore. They build `InMemoryStore` by name, so it is this module's
`ProxyBackedStore` while they run: a ProxyStore on a real proxy of each edition, each
instance a namespace root of its own (the tests expect every store they make to start
empty), on a proxy started for the session.
"""

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest

import langgraph.store.memory

from storage_proxy.langgraph import ProxyStore

sys.path.insert(0, str(Path(__file__).parent))  # their `from tests.embed_test_utils import …`

# The clients' suites' proxies (tests/conftest.py), under a name of their own: this file is a conftest.py too.
_spec = importlib.util.spec_from_file_location("proxy_processes", Path(__file__).parents[2] / "conftest.py")
proxy_processes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proxy_processes)
EDITIONS, Proxy = proxy_processes.EDITIONS, proxy_processes.Proxy

ADDRESS = [""]


class ProxyBackedStore(ProxyStore):
    """What their `InMemoryStore(index=…)` makes here: a ProxyStore on the session's proxy."""

    def __init__(self, *, index=None, ttl=None):
        super().__init__(ADDRESS[0], index=index, ttl=ttl, root=("t" + uuid.uuid4().hex[:12],))


langgraph.store.memory.InMemoryStore = ProxyBackedStore


@pytest.fixture(scope="session", params=EDITIONS, autouse=True)
def served(request):
    proxy = Proxy(request.param)
    ADDRESS[0] = proxy.address
    yield proxy
    proxy.stop()

