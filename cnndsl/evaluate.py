"""Evaluation of argument expressions: numbers, lists, names, `in.channels`."""

from __future__ import annotations

import math

from . import syntax as syn
from .errors import error
from .values import Func, Symbol, describe

MAX_DEPTH = 100
MAX_INT = 2**53  # beyond any real size; keeps arithmetic on huge numbers from exhausting the machine
MAX_LIST = 10_000
MAX_FLOAT = 1e300  # finite floats only; products of two in-range floats cannot overflow unnoticed
FUNCTIONS = {"min": min, "max": max, "len": len}


UNKNOWN = object()
"""The value of a parameter whose own definition failed (already reported)."""


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
        args = tuple(evaluate(a, scope, depth + 1) for a in expr.args)
        return _function(expr, args)
    if kind is syn.BlockInputRef:
        raise error("E0303", "`in` is a tensor; use `in.channels`, `in.height` or `in.width`", expr.span)
    raise AssertionError(f"unknown expression {expr!r}")


def _name(expr: syn.Name, scope: Scope):
    if expr.name in scope.variables:
        value = scope.variables[expr.name]
        if value is UNKNOWN:
            raise Poisoned()
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
        "//": lambda: left // right,
        "%": lambda: left % right,
    }[expr.op]()


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


def _function(expr: syn.FunCall, args):
    if expr.name in FUNCTIONS:
        try:
            return (
                FUNCTIONS[expr.name](*args) if len(args) != 1 or expr.name == "len" else FUNCTIONS[expr.name](args[0])
            )
        except (TypeError, ValueError) as exc:
            raise error("E0302", f"`{expr.name}`: {exc}", expr.span) from None
    return Func(expr.name, args)
