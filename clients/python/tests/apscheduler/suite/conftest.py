"""APScheduler's own data store tests (tests/test_datastores.py of the APScheduler 4.0.0a6 source
distribution, MIT licence, copied here unmodified) run against ProxyDataStore. This conftest
stands in for theirs: `raw_datastore` is an unstarted ProxyDataStore (the tests start it with
their broker) on a real proxy of each edition, each test in a namespace of its own and started
from scratch; `local_broker`, `logger` and `anyio_backend` are theirs as they define them.
"""

import importlib.util
import logging
import uuid
from pathlib import Path

import pytest

from storage_proxy.apscheduler import ProxyDataStore

# The clients' suites' proxies (tests/conftest.py), under a name of their own: this file is a conftest.py too.
_spec = importlib.util.spec_from_file_location("proxy_processes", Path(__file__).parents[2] / "conftest.py")
proxy_processes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proxy_processes)


@pytest.fixture(scope="session")
def proxies():
    started = {}
    yield started
    for proxy in started.values():
        proxy.stop()


@pytest.fixture(params=proxy_processes.EDITIONS)
def raw_datastore(request, proxies):
    if request.param not in proxies:
        proxies[request.param] = proxy_processes.Proxy(request.param)
    return ProxyDataStore(proxies[request.param].address, start_from_scratch=True,
                          namespace="aps-" + uuid.uuid4().hex[:12])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def local_broker():
    from apscheduler.eventbrokers.local import LocalEventBroker

    return LocalEventBroker()


@pytest.fixture(scope="session")
def logger() -> logging.Logger:
    return logging.getLogger("apscheduler")


@pytest.fixture
def memory_store():
    from apscheduler.datastores.memory import MemoryDataStore

    yield MemoryDataStore()
