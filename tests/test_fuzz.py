"""Short fuzzing runs: generated and mutated programs never cause an internal error.

The long run is `python tests/fuzz/run.py --count 100000` (results in docs/errors.md).
"""

from __future__ import annotations

import random

import pytest
from fuzz.programs import ARCHITECTURES, compile_text, mutate, programs
from hypothesis import given, settings


@settings(max_examples=150, deadline=None)
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
