"""LangGraph's own conformance suite for checkpointers (langgraph-checkpoint-conformance,
installed from PyPI, unmodified) against both savers on both editions: each of its 81
spec tests as a pytest item of its own, on a fresh saver entered with ``async with``;
and its own runner (``validate``), which must find every capability and pass them all."""

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import Capability, DetectedCapabilities
from langgraph.checkpoint.conformance.spec.test_copy_thread import ALL_COPY_THREAD_TESTS
from langgraph.checkpoint.conformance.spec.test_delete_for_runs import ALL_DELETE_FOR_RUNS_TESTS
from langgraph.checkpoint.conformance.spec.test_delete_thread import ALL_DELETE_THREAD_TESTS
from langgraph.checkpoint.conformance.spec.test_get_tuple import ALL_GET_TUPLE_TESTS
from langgraph.checkpoint.conformance.spec.test_list import ALL_LIST_TESTS
from langgraph.checkpoint.conformance.spec.test_prune import ALL_PRUNE_TESTS
from langgraph.checkpoint.conformance.spec.test_put import ALL_PUT_TESTS
from langgraph.checkpoint.conformance.spec.test_put_writes import ALL_PUT_WRITES_TESTS

from storage_proxy.langgraph import AsyncProxySaver, ProxySaver

from conftest import EDITIONS, Proxy

BASE = ALL_PUT_TESTS + ALL_PUT_WRITES_TESTS + ALL_GET_TUPLE_TESTS + ALL_LIST_TESTS + ALL_DELETE_THREAD_TESTS
OPTIONAL = ALL_DELETE_FOR_RUNS_TESTS + ALL_COPY_THREAD_TESTS + ALL_PRUNE_TESTS
SAVERS = {"AsyncProxySaver": AsyncProxySaver, "ProxySaver": ProxySaver}


@pytest.fixture(scope="module", params=EDITIONS)
def served(request):
    proxy = Proxy(request.param)
    yield proxy
    proxy.stop()


def test_the_suite_is_the_one_the_issue_names():
    assert (len(BASE), len(OPTIONAL)) == (58, 23)


@pytest.mark.parametrize("saver_class", SAVERS)
@pytest.mark.parametrize("spec", BASE + OPTIONAL, ids=lambda f: f.__name__)
async def test_spec(served, saver_class, spec):
    async with SAVERS[saver_class](served.address) as saver:
        await spec(saver)


@pytest.mark.parametrize("saver_class", SAVERS)
async def test_the_suites_own_runner_finds_and_passes_every_capability(served, saver_class):
    @checkpointer_test(name=saver_class)
    async def fresh():
        async with SAVERS[saver_class](served.address) as saver:
            yield saver

    async with SAVERS[saver_class](served.address) as saver:
        assert DetectedCapabilities.from_instance(saver).missing == frozenset()
    report = await validate(fresh)
    for capability in Capability:
        result = report.results[capability.value]
        assert result.detected and result.passed, f"{capability.value}: {result}"
