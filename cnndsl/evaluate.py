"""Evaluation of argument expressions: numbers, lists, names, `in.channels`,
comparisons and conditions, built-in functions and file-level `fn`s."""

from __future__ import annotations

import math

from . import syntax as syn
from .errors import CnnError, Label, did_you_mean, error
from .functions import BUILTINS, VALUE_FUNCTIONS, call_builtin
from .values import Func, Function, Symbol, describe

MAX_DEPTH = 100
MAX_INT = 2**53  # beyond any real size; keeps arithmetic on huge numbers from exhausting the machine
MAX_LIST = 10_000
MAX_CALLS = 10_000  # `fn` bodies evaluated per compilation (results are reused: functions are pure)
MAX_FLOAT = 1e300  # finite floats only; products of two in-range floats cannot overflow unnoticed


UNKNOWN = object()
"""The value of a parameter whose own definition failed (already reported)."""


class Calls:
    """The `fn` calls of one compilation: each result by its arguments, and a budget of evaluations.

    Functions are pure, so a call with arguments seen before reuses the result; the
    budget stops a program whose functions call each other exponentially often.
    """

    def __init__(self, limit: int = MAX_CALLS):
        self.results: dict = {}
        self.left = limit


class Poisoned(Exception):
    """The value depends on an earlier error; stay silent rather than cascade."""


class Scope:
    """What a name means where an expression is evaluated."""

    def __init__(self, variables: dict, tensors: dict, input_shape=None, in_block: bool = False):
        self.variables = variables
        self.tensors = tensors  # bound tensor names (not usable as numbers)
        self.input_shape = input_shape  # shape of `in`, or None if unknown
        self.in_block = in_block


def evaluate(expr, scope: Scope, depth: int = 0):
    """The value of `expr`: int, float, bool, str, list, Symbol or Func."""
    if depth > MAX_DEPTH:
        raise error("E0601", f"expression nested more than {MAX_DEPTH} levels deep", expr.span)
    kind = type(expr)
    if kind is syn.Literal:
        if type(expr.value) is int and expr.value > MAX_INT:
            text = str(expr.value)
            shown = text if len(text) <= 24 else text[:20] + "…"
            raise error("E0605", f"the number {shown} is too large", expr.span, hint=f"the limit is {MAX_INT:,}")
        if type(expr.value) is float and not abs(expr.value) <= MAX_FLOAT:
            raise error("E0605", "the number is too large for a float", expr.span, hint=f"the limit is {MAX_FLOAT:g}")
        return expr.value
    if kind is syn.Name:
        return _name(expr, scope)
    if kind is syn.ListExpr:
        if len(expr.items) > MAX_LIST:
            raise error("E0605", f"a list of {len(expr.items):,} items is longer than {MAX_LIST:,}", expr.span)
        return [evaluate(item, scope, depth + 1) for item in expr.items]
    if kind is syn.BinOp:
        return _binary(expr, evaluate(expr.left, scope, depth + 1), evaluate(expr.right, scope, depth + 1))
    if kind is syn.Neg:
        value = evaluate(expr.operand, scope, depth + 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error("E0302", f"cannot negate {describe(value)}", expr.span)
        return -value
    if kind is syn.Index:
        return _index(expr, evaluate(expr.target, scope, depth + 1), evaluate(expr.index, scope, depth + 1))
    if kind is syn.Attribute:
        return _attribute(expr, scope, depth)
    if kind is syn.FunCall:
        return _call(expr, scope, depth)
    if kind is syn.Compare:
        return _compare(expr, evaluate(expr.left, scope, depth + 1), evaluate(expr.right, scope, depth + 1))
    if kind is syn.BoolOp:
        left = truth(evaluate(expr.left, scope, depth + 1), expr.left, f"`{expr.op}`")
        if left is (expr.op == "or"):
            return left  # the right side is not evaluated (`i < len(xs) and xs[i] > 0`)
        return truth(evaluate(expr.right, scope, depth + 1), expr.right, f"`{expr.op}`")
    if kind is syn.Not:
        return not truth(evaluate(expr.operand, scope, depth + 1), expr.operand, "`not`")
    if kind is syn.Conditional:
        chosen = truth(evaluate(expr.condition, scope, depth + 1), expr.condition, "a condition")
        return evaluate(expr.then if chosen else expr.orelse, scope, depth + 1)
    if kind is syn.BlockInputRef:
        raise error("E0303", "`in` is a tensor; use `in.channels`, `in.height` or `in.width`", expr.span)
    raise AssertionError(f"unknown expression {expr!r}")


def truth(value, expr, what: str = "a condition") -> bool:
    """`value` if it is a boolean; otherwise a located error (no guessing from numbers or lists)."""
    if isinstance(value, bool):
        return value
    name = expr.name if type(expr) is syn.Name else "x"
    example = f"len({name}) > 0" if isinstance(value, list) else f"{name} != 0"
    if isinstance(value, Symbol):
        example = f"{name} == {value.name}"
    raise error(
        "E0313",
        f"{what} must be `true` or `false`, got {describe(value)}",
        expr.span,
        hint=f"write a comparison, e.g. `{example}`",
    )


def _name(expr: syn.Name, scope: Scope):
    if expr.name in scope.variables:
        value = scope.variables[expr.name]
        if value is UNKNOWN:
            raise Poisoned()
        if type(value) is Function:
            raise error("E0302", f"`{expr.name}` is a function", expr.span, hint=f"call it: `{expr.name}(…)`")
        return value
    if expr.name in scope.tensors:
        raise error(
            "E0304",
            f"`{expr.name}` is a tensor, not a number",
            expr.span,
            hint="arguments take numbers; use a block parameter or `in.channels`",
        )
    return Symbol(expr.name)


def _binary(expr: syn.BinOp, left, right):
    result = _arithmetic(expr, left, right)
    if isinstance(result, int) and not -MAX_INT <= result <= MAX_INT:
        raise error("E0605", f"`{expr.op}` gives a number too large ({_digits(result)} digits)", expr.span)
    if isinstance(result, float) and not (math.isfinite(result) and abs(result) <= MAX_FLOAT):
        what = "not a number" if math.isnan(result) else "too large for a float"
        raise error("E0605", f"`{expr.op}` gives a number {what}", expr.span, hint=f"the limit is {MAX_FLOAT:g}")
    return result


def _digits(value: int) -> int:
    return len(str(abs(value))) if abs(value) < 10**4000 else value.bit_length() * 3 // 10


def _arithmetic(expr: syn.BinOp, left, right):
    for value in (left, right):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if expr.op == "+" and isinstance(left, list) and isinstance(right, list):
                if len(left) + len(right) > MAX_LIST:
                    raise error("E0605", f"`+` gives a list longer than {MAX_LIST:,} items", expr.span)
                return left + right
            raise error("E0302", f"`{expr.op}` needs numbers, got {describe(value)}", expr.span)
    if expr.op in ("/", "//", "%") and right == 0:
        raise error("E0305", "division by zero", expr.span)
    if expr.op == "/":
        if isinstance(left, int) and isinstance(right, int):
            if left % right:
                raise error(
                    "E0306",
                    f"{left} / {right} is not a whole number",
                    expr.span,
                    hint=f"use `//` to floor ({left // right}) or write a float",
                )
            return left // right
        return left / right
    return {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "//": lambda: _floor_divide(left, right),
        "%": lambda: left % right,
    }[expr.op]()


def _floor_divide(left, right):
    """`//` floors to an integer, for floats too (`35.2 // 8` is 4), so that sizes computed
    from a float multiplier (`(v + 4) // 8 * 8`) are whole numbers a layer accepts."""
    result = left // right
    return int(result) if isinstance(result, float) and math.isfinite(result) else result


def _index(expr: syn.Index, target, index):
    if not isinstance(target, list):
        raise error("E0302", f"only lists can be indexed, not {describe(target)}", expr.span)
    if isinstance(index, bool) or not isinstance(index, int):
        raise error("E0302", f"a list index must be an integer, got {describe(index)}", expr.index.span)
    if not -len(target) <= index < len(target):
        raise error("E0307", f"index {index} is out of range for a list of {len(target)}", expr.index.span)
    return target[index]


_DIMS = {"channels": 1, "height": 2, "width": 3}


def _attribute(expr: syn.Attribute, scope: Scope, depth: int):
    if type(expr.target) is not syn.BlockInputRef:
        raise error("E0302", f"`.{expr.name}` applies to `in` only", expr.span)
    if not scope.in_block:
        raise error("E0308", "`in` is only defined inside a block", expr.target.span)
    if expr.name not in (*_DIMS, "features", "shape"):
        raise error("E0309", f"`in` has no `{expr.name}`", expr.span, hint="use channels, height, width or shape")
    shape = scope.input_shape
    if shape is None:
        raise Poisoned()
    if expr.name == "shape":
        return list(shape[1:])
    if expr.name == "features":
        return shape[1] if len(shape) == 2 else _no_dim(expr, shape)
    axis = _DIMS[expr.name]
    return shape[axis] if axis < len(shape) else _no_dim(expr, shape)


def _no_dim(expr, shape):
    raise error("E0309", f"`in` has shape {list(shape)}, with no {expr.name}", expr.span)


_ORDER = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _compare(expr: syn.Compare, left, right) -> bool:
    if expr.op in ("==", "!="):
        return same(left, right) is (expr.op == "==")
    for value in (left, right):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error("E0302", f"`{expr.op}` compares numbers, got {describe(value)}", expr.span)
    return _ORDER[expr.op](left, right)


def same(a, b) -> bool:
    """`==`: booleans equal only booleans, numbers compare by value, lists item by item."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _call(expr: syn.FunCall, scope: Scope, depth: int):
    name = expr.name
    if name in BUILTINS or name in VALUE_FUNCTIONS:
        if expr.keywords:
            raise error("E0211", f"`{name}` takes no keyword arguments", expr.keywords[0].span)
        args = tuple(evaluate(a, scope, depth + 1) for a in expr.args)
        return call_builtin(expr, args, MAX_INT) if name in BUILTINS else Func(name, args)
    target = scope.variables.get(name)
    if type(target) is Function:
        return _call_function(expr, target, scope, depth)
    span = expr.name_span or expr.span
    if target is UNKNOWN:
        raise Poisoned()
    if name in scope.variables:
        raise error("E0312", f"`{name}` is not a function", span, hint=f"it is {describe(target)}")
    functions = [*BUILTINS, *VALUE_FUNCTIONS, *(k for k, v in scope.variables.items() if type(v) is Function)]
    hint = did_you_mean(name, functions) or f"functions: {', '.join(functions)}"
    raise error("E0311", f"unknown function `{name}`", span, hint=hint)


def _call_function(expr: syn.FunCall, function: Function, scope: Scope, depth: int):
    """A file-level `fn`: bind the arguments, then evaluate its body with file-level names only."""
    definition = function.definition
    values = _function_arguments(expr, definition, scope, depth)
    calls = function.calls
    if calls is None:
        return _evaluate_function(expr, function, values, depth)
    key = (definition.name, tuple((name, _key(value)) for name, value in values.items()))
    if key not in calls.results:
        calls.left -= 1
        if calls.left < 0:
            raise error(
                "E0606",
                f"functions are called more than {MAX_CALLS:,} times",
                expr.span,
                hint="the `fn`s call each other too often; simplify them",
            )
        calls.results[key] = _evaluate_function(expr, function, values, depth)
    return calls.results[key]


def _key(value):
    """A hashable key that tells `1`, `1.0` and `true` apart."""
    if isinstance(value, list):
        return ("list", tuple(_key(v) for v in value))
    if isinstance(value, Func):
        return ("func", value.name, tuple(_key(v) for v in value.args))
    return (type(value).__name__, value)


def _evaluate_function(expr: syn.FunCall, function: Function, values: dict, depth: int):
    definition = function.definition
    names = dict(function.names)
    for param in definition.params:
        if param.name in values:
            names[param.name] = values[param.name]
        elif param.default is None:
            raise error(
                "E0212",
                f"`{definition.name}` is missing its argument `{param.name}`",
                expr.span,
                notes=[Label(param.span, "declared here")],
            )
        else:
            names[param.name] = evaluate(param.default, Scope(names, {}), depth + 1)
    try:
        return evaluate(definition.body, Scope(names, {}), depth + 1)
    except CnnError as exc:
        for d in exc.diagnostics:
            if len(d.notes) < 3 and d.code != "E0606":  # the innermost calls; a limit needs no trace
                d.notes.append(Label(expr.span, f"in this call of `{definition.name}`"))
        raise


def _function_arguments(expr: syn.FunCall, definition, scope: Scope, depth: int) -> dict:
    order = [p.name for p in definition.params]
    if expr.keywords and any(_after(a.span, expr.keywords[0].span) for a in expr.args):
        raise error("E0215", "a positional argument follows a keyword argument", expr.span)
    if len(expr.args) > len(order):
        most = "at most " if any(p.default is not None for p in definition.params) else ""
        raise error(
            "E0214",
            f"`{definition.name}` takes {most}{_arguments(len(order))}, got {len(expr.args) + len(expr.keywords)}",
            expr.args[len(order)].span,
            notes=[Label(definition.name_span, "defined here")],
        )
    values = {p: evaluate(a, scope, depth + 1) for p, a in zip(order, expr.args)}
    for keyword in expr.keywords:
        if keyword.name not in order:
            hint = did_you_mean(keyword.name, order) or f"parameters: {', '.join(order) or 'none'}"
            raise error("E0211", f"`{definition.name}` has no parameter `{keyword.name}`", keyword.span, hint=hint)
        if keyword.name in values:
            raise error("E0213", f"argument `{keyword.name}` is given twice", keyword.span)
        values[keyword.name] = evaluate(keyword.value, scope, depth + 1)
    return values


def _after(a, b) -> bool:
    return (a.line, a.column) > (b.line, b.column)


def _arguments(n: int) -> str:
    return "no arguments" if n == 0 else "1 argument" if n == 1 else f"{n} arguments"
