"""Short fuzzing runs: generated and mutated programs never cause an internal error.

The long run is `python tests/fuzz/run.py --count 100000` (results in docs/errors.md).
"""

from __future__ import annotations

import random

import pytest
from fuzz.programs import (
    ARCHITECTURES,
    EXTREMES,
    MAX_ORACLE_PARAMS,
    calls_with,
    compile_text,
    deep_chain,
    mutate,
    onnx_oracle,
    programs,
)
from hypothesis import given, settings

import cnndsl


@settings(max_examples=100, deadline=None)  # the long run: tests/fuzz/run.py
@given(programs())
def test_generated_programs_never_crash(text):
    assert compile_text(text) in ("ok", "error")


@pytest.mark.parametrize("path", ARCHITECTURES, ids=lambda p: p.stem)
def test_mutated_architectures_never_crash(path):
    rng = random.Random(path.stem)
    original = path.read_text()
    outcomes = {compile_text(mutate(original, rng), name=str(path)) for _ in range(15)}
    assert outcomes <= {"ok", "error"}


def test_generator_reaches_valid_programs():
    """The generator is not only noise: some of its programs compile."""
    from hypothesis import find

    find(programs(), lambda text: compile_text(text) == "ok", settings=settings(max_examples=2000, deadline=None))


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(programs())
def test_every_compiled_program_gives_a_model_that_loads(text):
    """The ONNX oracle: what compiles passes onnx.checker's full check and loads in onnxruntime."""
    pytest.importorskip("onnxruntime")
    try:
        network = cnndsl.loads(text, name="<fuzz>")
    except cnndsl.CnnError:
        return
    if network.totals["params"] + network.totals["state"] <= MAX_ORACLE_PARAMS:
        onnx_oracle(network)


@pytest.mark.parametrize("value", EXTREMES)
def test_argument_extremes_are_answered(value):
    """Huge, tiny and non-finite floats, 10^k strides and kernels: a result or a located error."""
    for dims in ("[1, 1, 1]", "[3, 8, 8]"):
        for call in calls_with(value):
            assert compile_text(f"network N {{\n  input x: {dims}\n  {call}\n}}\n") in ("ok", "error")


@pytest.mark.parametrize("depth", [64, 65, 330, 1000])
def test_deep_block_chains_are_answered(depth):
    text = deep_chain(depth) + f"network N {{\n  input x: [3, 8, 8]\n  B{depth - 1}\n}}\n"
    assert compile_text(text) in ("ok", "error")
