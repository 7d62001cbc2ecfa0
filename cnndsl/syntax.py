"""The syntax tree: immutable records, each with the span it came from."""

from __future__ import annotations

from .errors import Span
from .records import dataclass  # frozen, slotted dataclasses, cheaper to define (records.py)

# -- expressions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class BlockInputRef:
    """`in` inside a block: the block's input value."""

    span: Span


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    target: object
    index: object
    span: Span


@dataclass(frozen=True, slots=True)
class Attribute:
    target: object
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class FunCall:
    """`max(a, b)`, `divisible(v, d=4)`, `normal(0.01)`: a call in an expression.

    `args` are the positional expressions; `keywords` the `name=expr` ones, as :class:`Arg`.
    """

    name: str
    args: tuple
    span: Span
    keywords: tuple = ()
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    left: object
    right: object
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: object
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    """`a == b`, `a < b`, …: a boolean."""

    op: str
    left: object
    right: object
    span: Span


@dataclass(frozen=True, slots=True)
class BoolOp:
    """`a and b`, `a or b`: booleans, the right side evaluated only when needed."""

    op: str
    left: object
    right: object
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: object
    span: Span


@dataclass(frozen=True, slots=True)
class Conditional:
    """`then if condition else orelse`: only the chosen side is evaluated."""

    then: object
    condition: object
    orelse: object
    span: Span


# -- statements and terms ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arg:
    name: str | None
    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """A layer, block or merge applied to the current value: `conv(64, 3)`, `concat { … }`."""

    name: str
    args: tuple[Arg, ...]
    body: tuple | None
    span: Span
    name_span: Span
    has_parens: bool = False


@dataclass(frozen=True, slots=True)
class Repeat:
    count: object
    var: str | None
    body: tuple
    span: Span


@dataclass(frozen=True, slots=True)
class BlockInput:
    """`in` as the first term of a chain."""

    span: Span


@dataclass(frozen=True, slots=True)
class Chain:
    terms: tuple
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    shape: object
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Output:
    name: str
    chain: Chain | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Bind:
    name: str
    chain: Chain
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Let:
    """`let name = expr`: a number, list or symbol for the rest of the body (or file)."""

    name: str
    value: object
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Assert:
    """`assert CONDITION`: checked after the analysis passes, about the network's figures
    (or, inside a block, about each call's); see cnndsl/assertions.py."""

    condition: object
    span: Span
    names: tuple = ()  # the bare names in the condition, found once by the parser


def names_in(expr) -> tuple:
    """The bare names an expression mentions, each once, in order."""
    found: dict = {}
    stack = [expr]
    while stack:
        node = stack.pop()
        if type(node) is Name:
            found[node.name] = None
            continue
        for slot in getattr(node, "__slots__", ()):
            value = getattr(node, slot)
            if isinstance(value, tuple):
                stack.extend(reversed(value))
            elif hasattr(value, "__slots__") and not isinstance(value, Span):
                stack.append(value)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class If:
    """`if condition { body } else { orelse }`; `orelse` is a body, another `If` (`else if`) or None.

    `span` covers `if condition`; `else_span` the `else` keyword, when there is one.
    """

    condition: object
    body: tuple
    orelse: object
    span: Span
    else_span: Span | None = None


# -- definitions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: object | None
    span: Span


@dataclass(frozen=True, slots=True)
class Definition:
    """A `block` (kind 'block') or a `network` (kind 'network')."""

    kind: str
    name: str
    params: tuple[Param, ...]
    body: tuple
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Function:
    """`fn name(params) = expr` at file level: a pure expression function."""

    name: str
    params: tuple[Param, ...]
    body: object
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    file: str
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
    constants: tuple[Let, ...] = ()
    functions: tuple[Function, ...] = ()
