"""Size variables: `input image: [3, H, W]` names its spatial sizes instead of giving them.

A name in an input's height or width that is not a parameter, `let` or `fn`
is a *size variable* (docs/sizes.md). `--set H=224` gives it a value, which
makes the program concrete; without values `cnndsl report` gives formulas and
`cnndsl sizes` the valid values (cnndsl/sizes/).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import syntax as syn
from ..errors import Span, error
from ..layers import LAYERS

MAX_SIZE_VALUE = 2**31 - 1  # a size given with --set (ONNX dimensions are int64; this keeps products sane)


@dataclass(frozen=True)
class SizeVariable:
    """One size variable and where it stands: the inputs and axes (2 = height, 3 = width) it sizes."""

    name: str
    span: Span  # its first use
    places: tuple  # ((input name, axis), ...)


def size_variables(definition: syn.Definition, names) -> dict[str, SizeVariable]:
    """The size variables of a network, in order of first use; `names` are the defined names
    (parameters, file-level `let`s and `fn`s, blocks)."""
    found: dict[str, SizeVariable] = {}
    for stmt in definition.body:
        if type(stmt) is not syn.Input or type(stmt.shape) is not syn.ListExpr:
            continue
        for position, item in enumerate(stmt.shape.items):
            if type(item) is not syn.Name or item.name in names or item.name in LAYERS:
                continue  # a layer's name stays the symbol it was (E0301)
            if len(stmt.shape.items) != 3 or position == 0:
                raise error(
                    "E1301",
                    f"`{item.name}` is not defined; only an input's height and width may be size variables",
                    item.span,
                    hint="write the channels (or the features of a flat input) as a number",
                )
            place = (stmt.name, position + 1)
            known = found.get(item.name)
            places = (*known.places, place) if known else (place,)
            found[item.name] = SizeVariable(item.name, known.span if known else item.span, places)
    return found


def unset(variable: SizeVariable):
    """E1300: a concrete compile of a program whose size variable has no value."""
    return error(
        "E1300",
        f"the input size `{variable.name}` has no value",
        variable.span,
        hint=f"give it one with --set {variable.name}=224 (`cnndsl report` and `cnndsl sizes` take it symbolic)",
    )
