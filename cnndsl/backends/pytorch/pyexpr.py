"""cnndsl expressions as Python source, for the parametric PyTorch module.

The translation keeps cnndsl's meaning where Python's differs: `/` of two
integers is exact (written `//` when both sides are known integers, else the
generated `divide` helper), `//` always gives an integer (`int(a // b)` unless
both sides are known integers), `floor`/`ceil` are `math.floor`/`math.ceil`,
and a bare word that names no variable is a symbol, written as a string.
A construct with no Python form raises :class:`Unsupported`; the caller then
falls back to the literal module.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from ... import syntax as syn
from ...functions import BUILTINS
from ...values import Symbol

# Names the generated file uses itself; a cnndsl name equal to one is written with a trailing `_`.
RESERVED = frozenset(
    {
        "self", "nn", "torch", "functional", "math", "divide", "range", "int", "float", "getattr", "super",
        "min", "max", "len", "abs", "round", "isinstance", "print", "list", "tuple", "dict", "str", "bool",
        "in_channels", "out_channels", "x", "x_in", "True", "False", "None", "type", "sum", "any", "all",
    }
)  # fmt: skip


class Unsupported(Exception):
    """A construct the parametric module cannot express; the message says which."""


def python_name(name: str) -> str:
    """A cnndsl name as a Python identifier: `lambda` -> `lambda_`, `in` stays impossible."""
    if keyword.iskeyword(name) or name in RESERVED or not name.isidentifier():
        text = re.sub(r"\W", "_", name)
        return text + "_" if text.isidentifier() else "v_" + text
    return name


# Python operator precedence, higher binds tighter
_PREC = {"if": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 7, "-": 7, "*": 8, "/": 8, "//": 8, "%": 8}
_ATOM = 11


@dataclass
class Names:
    """What a name means where an expression is translated.

    `variables`: cnndsl name -> (Python source, type) for parameters, `let`s and loop
    variables; `constants`: file-level `let`s; `functions`: file-level `fn`s. A type is
    "int", "float", "bool", "list", "str" or None (not known).
    """

    variables: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)
    functions: set = field(default_factory=set)
    in_channels: str | None = None  # `in.channels` (inside a block)
    helpers: set = field(default_factory=set)  # "math", "divide"


def value_type(value) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, (str, Symbol)):
        return "str"
    return None


def literal(value) -> str:
    """A cnndsl value as Python source."""
    if isinstance(value, (Symbol, str)):
        return _string(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise Unsupported(f"the value {value} has no Python form here")


def translate(expr, names: Names) -> str:
    return _translate(expr, names)[0]


def type_of(expr, names: Names) -> str | None:
    return _translate(expr, names)[2]


def _translate(expr, names: Names) -> tuple[str, int, str | None]:
    """(source, precedence, type)."""
    kind = type(expr)
    if kind is syn.Literal:
        return literal(expr.value), _ATOM, value_type(expr.value)
    if kind is syn.Name:
        return _name(expr.name, names)
    if kind is syn.ListExpr:
        return "[" + ", ".join(translate(i, names) for i in expr.items) + "]", _ATOM, "list"
    if kind is syn.BinOp:
        return _binary(expr, names)
    if kind is syn.Neg:
        text, prec, typ = _translate(expr.operand, names)
        return "-" + _wrap(text, prec, 9), 9, typ
    if kind is syn.Compare:
        left, right = _operand(expr.left, names, 6), _operand(expr.right, names, 6)
        return f"{left} {expr.op} {right}", _PREC["cmp"], "bool"
    if kind is syn.BoolOp:
        prec = _PREC[expr.op]
        return f"{_operand(expr.left, names, prec)} {expr.op} {_operand(expr.right, names, prec + 1)}", prec, "bool"
    if kind is syn.Not:
        return "not " + _operand(expr.operand, names, 4), 4, "bool"
    if kind is syn.Conditional:
        then, then_prec, then_type = _translate(expr.then, names)
        orelse, _, else_type = _translate(expr.orelse, names)
        text = f"{_wrap(then, then_prec, 2)} if {_operand(expr.condition, names, 2)} else {orelse}"
        return text, 1, then_type if then_type == else_type else None
    if kind is syn.Index:
        return f"{_operand(expr.target, names, _ATOM)}[{translate(expr.index, names)}]", _ATOM, None
    if kind is syn.Attribute:
        if type(expr.target) is syn.BlockInputRef and expr.name == "channels" and names.in_channels:
            return names.in_channels, _ATOM, "int"
        raise Unsupported(f"`in.{expr.name}` (only `in.channels` is tracked in the generated constructor)")
    if kind is syn.FunCall:
        return _call(expr, names)
    raise Unsupported(f"the expression at {expr.span.line}:{expr.span.column}")


def _name(name: str, names: Names):
    if name in names.variables:
        source, typ = names.variables[name]
        return source, _ATOM, typ
    if name in names.constants:
        source, typ = names.constants[name]
        return source, _ATOM, typ
    if name in names.functions:
        raise Unsupported(f"the function `{name}` used as a value")
    return _string(name), _ATOM, "str"  # a symbol


def _string(text: str) -> str:
    return f'"{text}"' if text.isidentifier() else repr(text)


def _binary(expr: syn.BinOp, names: Names):
    op, prec = expr.op, _PREC[expr.op]
    left, lprec, ltype = _translate(expr.left, names)
    right, rprec, rtype = _translate(expr.right, names)
    ints = ltype == "int" and rtype == "int"
    typ = "int" if ints else "float" if {ltype, rtype} <= {"int", "float"} else None
    if op == "+" and "list" in (ltype, rtype):
        typ = "list"
    if op == "/":
        if ints:
            op = "//"  # exact in cnndsl: equal to floor division wherever cnndsl accepts it
        elif "float" in (ltype, rtype) and typ == "float":
            return f"{_wrap(left, lprec, prec)} / {_wrap(right, rprec, prec + 1)}", prec, "float"
        else:
            names.helpers.add("divide")
            return f"divide({left}, {right})", _ATOM, None
    text = f"{_wrap(left, lprec, prec)} {op} {_wrap(right, rprec, prec + 1)}"
    if expr.op == "//":
        return (text, prec, "int") if ints else (f"int({text})", _ATOM, "int")
    return text, prec, typ


def _call(expr: syn.FunCall, names: Names):
    args = [translate(a, names) for a in expr.args]
    if expr.name in BUILTINS:
        if expr.name in ("floor", "ceil"):
            names.helpers.add("math")
            return f"math.{expr.name}({', '.join(args)})", _ATOM, "int"
        typ = "int" if expr.name == "len" or (expr.name == "round" and len(args) == 1) else None
        if expr.name in ("min", "max", "abs"):
            types = {type_of(a, names) for a in expr.args}
            typ = types.pop() if len(types) == 1 else None
        return f"{expr.name}({', '.join(args)})", _ATOM, typ
    if expr.name not in names.functions:
        raise Unsupported(f"the call `{expr.name}(…)` in an expression")
    keywords = [f"{python_name(k.name)}={translate(k.value, names)}" for k in expr.keywords]
    return f"{python_name(expr.name)}({', '.join([*args, *keywords])})", _ATOM, None


def _operand(expr, names: Names, prec: int) -> str:
    text, own, _ = _translate(expr, names)
    return _wrap(text, own, prec)


def _wrap(text: str, own: int, needed: int) -> str:
    return f"({text})" if own < needed else text


def free_names(expr) -> set:
    """The names an expression reads (variables or symbols), and `in` as "in"."""
    out: set = set()
    _free(expr, out)
    return out


def _free(expr, out: set) -> None:
    kind = type(expr)
    if kind is syn.Name:
        out.add(expr.name)
    elif kind in (syn.BlockInputRef,):
        out.add("in")
    elif kind is syn.FunCall:
        for a in (*expr.args, *(k.value for k in expr.keywords)):
            _free(a, out)
    elif kind is syn.ListExpr:
        for a in expr.items:
            _free(a, out)
    else:
        for attr in ("left", "right", "operand", "then", "condition", "orelse", "target", "index"):
            sub = getattr(expr, attr, None)
            if sub is not None and not isinstance(sub, str):
                _free(sub, out)
