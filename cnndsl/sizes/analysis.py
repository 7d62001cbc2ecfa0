"""`cnndsl sizes`: the valid values of every size variable of a loaded program."""

from __future__ import annotations

from ..errors import Label, error
from .solve import MAX_PERIOD, solve


def analyse_sizes(loaded) -> dict:
    """{variable: solve.Answer} for every variable of `loaded` (cnndsl/sizes/symbolic.py)."""
    graph = loaded.network.graph
    per_variable: dict = {name: [] for name in loaded.variables}
    for need in loaded.needs:
        names = need.left.variables | (need.right.variables if need.right is not None else frozenset())
        if len(names) > 1:
            a, b = sorted(names)
            raise error(
                "E1306",
                f"`{graph[need.node].op}` ties the sizes `{a}` and `{b}` together ({need.what})",
                graph[need.node].span,
                hint="use one variable for both (`[3, S, S]`), or give one of them a value with --set",
            )
        for name in names:
            per_variable[name].append((need.left, need.right))
    answers = {}
    for name, needs in per_variable.items():
        answer = solve(name, needs)
        if answer is None:
            raise _too_long(loaded, name)
        answers[name] = answer
    return answers


def _too_long(loaded, name: str):
    variable = loaded.variables.get(name)
    notes = [Label(variable.span, "the size variable")] if variable is not None else []
    return error(
        "E1307",
        f"the sizes of `{name}` repeat with a period over {MAX_PERIOD:,}: too many to examine",
        loaded.network.graph[loaded.network.graph.inputs[0]].span,
        notes=notes,
        hint="give the size a value with --set and compile it",
    )
