"""The built-in functions of expressions: `min`, `max`, `len`, `abs`, `round`, `floor`, `ceil`.

Each takes evaluated values and returns a value, or raises a located error
naming what it expected. Integer results stay within the evaluator's bound.
"""

from __future__ import annotations

import math

from .errors import error
from .values import describe

VALUE_FUNCTIONS = ("normal", "uniform", "gaussian")
"""Function-like values that layers interpret (`init=normal(0.01)`, `weights=gaussian(1.5)`)."""


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(expr, value):
    if not _is_number(value):
        raise error("E0302", f"`{expr.name}` needs a number, got {describe(value)}", expr.span)
    return value


def _finite(expr, value: float) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise error("E0302", f"`{expr.name}` of {describe(value)} has no integer value", expr.span)
    return value


def _extreme(pick):
    def apply(expr, args):
        values = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        if not values:
            raise error("E0302", f"`{expr.name}` of an empty list", expr.span)
        for value in values:
            _number(expr, value)
        return pick(values)

    return apply


def _len(expr, args):
    (value,) = args
    if not isinstance(value, (list, str)):
        raise error("E0302", f"`len` needs a list or a string, got {describe(value)}", expr.span)
    return len(value)


def _abs(expr, args):
    return abs(_number(expr, args[0]))


def _round(expr, args):
    """Python's rounding: halves go to the even neighbour (`round(2.5)` is 2), as numpy and torch do."""
    value = _number(expr, args[0])
    if len(args) == 1:
        return round(_finite(expr, value))
    digits = args[1]
    if not isinstance(digits, int) or isinstance(digits, bool) or not -20 <= digits <= 20:
        raise error(
            "E0302", f"`round` takes its digits as an integer from -20 to 20, got {describe(digits)}", expr.span
        )
    return round(value, digits)


def _floor(expr, args):
    return math.floor(_finite(expr, _number(expr, args[0])))


def _ceil(expr, args):
    return math.ceil(_finite(expr, _number(expr, args[0])))


# name: (fewest arguments, most arguments or None for any number, implementation)
BUILTINS = {
    "min": (1, None, _extreme(min)),
    "max": (1, None, _extreme(max)),
    "len": (1, 1, _len),
    "abs": (1, 1, _abs),
    "round": (1, 2, _round),
    "floor": (1, 1, _floor),
    "ceil": (1, 1, _ceil),
}


def call_builtin(expr, args: tuple, limit: int):
    """`expr.name(*args)` for a built-in; integers beyond `limit` are refused (E0605)."""
    fewest, most, apply = BUILTINS[expr.name]
    if len(args) < fewest:
        least = "at least " if most != fewest else ""
        raise error("E0212", f"`{expr.name}` needs {least}{_count(fewest)}, got {len(args)}", expr.span)
    if most is not None and len(args) > most:
        span = expr.args[most].span
        raise error(
            "E0214", f"`{expr.name}` takes {'at most ' if most > fewest else ''}{_count(most)}, got {len(args)}", span
        )
    result = apply(expr, args)
    if isinstance(result, int) and not -limit <= result <= limit:
        raise error("E0605", f"`{expr.name}` gives a number too large", expr.span, hint=f"the limit is {limit:,}")
    return result


def _count(n: int) -> str:
    return "1 argument" if n == 1 else f"{n} arguments"
