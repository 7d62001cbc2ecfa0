"""Run-time values of the argument language (besides int, float, bool, str, list)."""

from __future__ import annotations

from dataclasses import dataclass as std_dataclass

from .records import dataclass  # frozen, slotted, cheaper to define


@dataclass(frozen=True, slots=True)
class Symbol:
    """A bare word that names no variable: `same`, `project`, `nearest`."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Func:
    """A function-like value: `normal(0.01)`, `gaussian(1.5)`."""

    name: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.args))})"


@std_dataclass(frozen=True, slots=True, eq=False)
class Function:
    """A file-level `fn`: its definition, and the file-level names its body sees."""

    definition: object  # syntax.Function
    names: dict
    calls: object = None  # evaluate.Calls: results by arguments and a budget, shared by one compilation

    @property
    def name(self) -> str:
        return self.definition.name

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class TensorRef:
    """A tensor named in a layer argument (`upsample(like=skip)`): an extra input of the layer."""

    name: str  # as written: a bound name, an input's name, or `in`
    node: object  # the graph node it names (None when that value failed)

    def __str__(self) -> str:
        return self.name


def describe(value) -> str:
    """A phrase for error messages: 'the list [1, 2]', 'the symbol `same`'."""
    if isinstance(value, bool):
        return f"the boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, Symbol):
        return f"the word `{value.name}`"
    if isinstance(value, Func):
        return f"`{value}`"
    if isinstance(value, list):
        return f"the list {format_value(value)}"
    if isinstance(value, Function):
        return f"the function `{value.name}`"
    if isinstance(value, TensorRef):
        return f"the tensor `{value.name}`"
    return repr(value)


def format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


SUFFIXES = {"K": 10**3, "M": 10**6, "G": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
"""Number suffixes: `5M` is 5,000,000 (powers of ten, like params and MACs), `64MiB` is 67,108,864
(powers of two, like memory)."""


def sized_value(text: str, span) -> int:
    """The whole number a suffixed literal stands for: `2.5M` -> 2500000; `1.0001K` is an error (E1321)."""
    from decimal import Decimal

    from .errors import error

    digits = text.rstrip("KMGiB")
    suffix = text[len(digits) :]
    if len(digits) > 100:
        raise error("E0605", f"a number of {len(digits):,} digits is too large", span)
    value = Decimal(digits) * SUFFIXES[suffix]
    if value != value.to_integral_value():
        raise error(
            "E1321",
            f"`{text}` is {value.normalize():f}, not a whole number",
            span,
            hint="a number with a suffix (K M G, KiB MiB GiB) must come out whole; write it without the suffix",
        )
    return int(value)
