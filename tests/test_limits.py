"""Depth and size limits answer before the work: no RecursionError, no unrolling of what must fail.

Named after issue #9's classes 5 (depth and size limits) and 7 (the one-second
promise). Instead of timing, these count the work done: the nodes added to the
graph and the statements lowered before the error.
"""

from __future__ import annotations

import sys

import pytest

import cnndsl
from cnndsl.graph import Graph
from cnndsl.lower.walk import Walk


@pytest.fixture
def work(monkeypatch):
    """Counts of graph nodes added and statements lowered."""
    counts = {"nodes": 0, "statements": 0}
    add, statement = Graph.add, Walk.statement

    def counted_add(self, node):
        counts["nodes"] += 1
        return add(self, node)

    def counted_statement(self, *args):
        counts["statements"] += 1
        return statement(self, *args)

    monkeypatch.setattr(Graph, "add", counted_add)
    monkeypatch.setattr(Walk, "statement", counted_statement)
    return counts


def _error(text: str):
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads(text)
    return caught.value.diagnostics


def _chain(n: int) -> str:
    blocks = "block B0 { relu }\n" + "".join(f"block B{i} {{ B{i - 1} }}\n" for i in range(1, n))
    return blocks + f"network N {{ input x: [3, 8, 8]; B{n - 1} }}"


@pytest.mark.parametrize("depth", [330, 1000, 3 * sys.getrecursionlimit()])
def test_depth_limits_a_chain_of_nested_block_calls(depth):
    (diagnostic,) = _error(_chain(depth))
    assert diagnostic.code == "E0603"


@pytest.mark.parametrize("items, refused", [(10_000, False), (10_001, True), (50_000, True)])
def test_depth_and_size_limits_lists_of_10000_items(items, refused):
    text = f"network N(sizes=[{', '.join(['1'] * items)}]) {{ input x: [3, 8, 8]; relu }}"
    if not refused:
        assert cnndsl.loads(text).totals["params"] == 0
        return
    (diagnostic,) = _error(text)
    assert diagnostic.code == "E0605" and f"{items:,} items" in diagnostic.message


FANOUTS = {
    "sequence": "network N { input x: [3, 8, 8]; B; B; B; B }",
    "chain": "network N { input x: [3, 8, 8]; B -> B -> B -> B }",
    "inside a block": "block C { B; B; B; B }\nnetwork N { input x: [3, 8, 8]; C }",
    "branches": "network N { input x: [3, 8, 8]; concat { B; B; B; B } }",
    "residual body": "network N { input x: [3, 8, 8]; residual { B; B; B; B } }",
    "arguments": "block D(n) { repeat n { relu } }\n"
    "network N { input x: [3, 8, 8]; D(300000); D(300000); D(300000); D(300000) }",
}


@pytest.mark.parametrize("program", FANOUTS.values(), ids=FANOUTS.keys())
def test_one_second_promise_block_expansion_is_refused_before_unrolling(program, work):
    (diagnostic,) = _error("block B { repeat 300000 { relu } }\n" + program)
    assert diagnostic.code == "E0604"
    assert work["nodes"] < 10, work  # the first three calls (900,000 nodes) were never built


def test_one_second_promise_a_failed_input_is_not_expanded(work):
    (diagnostic,) = _error("network N { input x: [3, 8, -1]; repeat 999999 { relu }; dense(10) }")
    assert (diagnostic.code, diagnostic.span.column) == ("E0301", 22)
    assert work["statements"] < 10, work


def test_a_failed_input_still_checks_the_repeated_body_once():
    diagnostics = _error("network N { input x: [3, 8, -1]; repeat 999999 { relu -> rleu } }")
    assert [d.code for d in diagnostics] == ["E0301", "E0210"]


def test_a_program_just_under_the_limit_still_compiles():
    net = cnndsl.loads("block B(n) { repeat n { relu } }\nnetwork N { input x: [1, 1, 1]; B(200); B(300) }")
    assert len(net.graph) == 501
