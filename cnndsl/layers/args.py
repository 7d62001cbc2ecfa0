"""Argument specifications and converters: source values -> layer attributes.

A converter takes an evaluated source value and returns the attribute value,
or raises :class:`ArgError` with a message naming what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..values import Func, Symbol, describe

REQUIRED = object()


class ArgError(Exception):
    """A value the argument cannot take. `code` E0310 marks an unknown word (an enum); `arg` names
    the argument the error points at when it is not the one being read (a check across arguments)."""

    def __init__(self, message: str, hint: str = "", code: str = "E0301", arg: str = ""):
        super().__init__(message)
        self.message, self.hint, self.code, self.arg = message, hint, code, arg


def unknown_word(what: str, word: str, choices) -> ArgError:
    """An unknown enum word, with the closest choice as a hint."""
    hint = _suggest(word, choices) or f"expected one of {', '.join(choices)}"
    return ArgError(f"unknown {what} `{word}`; expected one of {', '.join(choices)}", hint, "E0310")


@dataclass(frozen=True)
class Arg:
    """One argument of a layer: its source name, converter, default, attribute name."""

    name: str
    convert: object
    default: object = REQUIRED
    attr: str = ""
    doc: str = ""

    @property
    def key(self) -> str:
        return self.attr or self.name


def integer(minimum: int | None = 1):
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgError(f"expected an integer, got {describe(value)}")
        if minimum is not None and value < minimum:
            raise ArgError(f"must be at least {minimum}, got {value}")
        return value

    return convert


def number(minimum: float | None = None, maximum: float | None = None, open_min: bool = False):
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ArgError(f"expected a number, got {describe(value)}")
        if minimum is not None and (value < minimum or (open_min and value == minimum)):
            raise ArgError(f"must be {'above' if open_min else 'at least'} {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ArgError(f"must be at most {maximum}, got {value}")
        return float(value)

    return convert


def boolean(value):
    if not isinstance(value, bool):
        raise ArgError(f"expected `true` or `false`, got {describe(value)}")
    return value


def pair(minimum: int = 1):
    """An int or `[h, w]`, returned as a 2-tuple."""
    one = integer(minimum)

    def convert(value):
        if isinstance(value, list):
            if len(value) != 2:
                raise ArgError(f"expected an integer or [height, width], got a list of {len(value)}")
            return tuple(one(v) for v in value)
        n = one(value)
        return (n, n)

    return convert


def padding(value):
    """`pad=`: int, [h, w], [top, left, bottom, right], `same` or `valid`.

    Returns ``"same"`` or a 4-tuple (top, left, bottom, right) as in ONNX `pads`.
    """
    if isinstance(value, Symbol):
        if value.name == "same":
            return "same"
        if value.name == "valid":
            return (0, 0, 0, 0)
        raise unknown_word("padding", value.name, ("same", "valid"))
    return amounts(value)


def amounts(value):
    """int, [h, w] or [top, left, bottom, right] -> (top, left, bottom, right)."""
    one = integer(0)
    if isinstance(value, list):
        if len(value) == 2:
            h, w = (one(v) for v in value)
            return (h, w, h, w)
        if len(value) == 4:
            return tuple(one(v) for v in value)
        raise ArgError(f"expected 1, 2 or 4 amounts, got a list of {len(value)}")
    n = one(value)
    return (n, n, n, n)


def choice(*names: str):
    def convert(value):
        if not isinstance(value, Symbol) and not (isinstance(value, str) and value in names):
            raise ArgError(f"expected one of {', '.join(names)}; got {describe(value)}")
        name = value.name if isinstance(value, Symbol) else value
        if name not in names:
            raise unknown_word("value", name, names)
        return name

    return convert


INITS = ("he", "xavier", "zeros", "ones", "normal", "uniform")


def initializer(value):
    """`he`, `xavier`, `zeros`, `normal(std)`, `uniform(limit)` or a `"file.npy"` path."""
    if isinstance(value, str):
        if not value.endswith(".npy"):
            raise ArgError(f'expected a ".npy" file, got "{value}"')
        return ("file", value)
    if isinstance(value, Symbol):
        if value.name in ("normal", "uniform"):
            raise ArgError(f"`{value.name}` needs its scale: `{value.name}(0.01)`")
        if value.name not in INITS:
            raise unknown_word("initializer", value.name, INITS)
        return (value.name,)
    if isinstance(value, Func) and value.name in ("normal", "uniform"):
        if len(value.args) != 1:
            raise ArgError(f"`{value.name}` takes one argument, its scale")
        return (value.name, number(0.0, open_min=True)(value.args[0]))
    raise ArgError(f'expected an initializer ({", ".join(INITS)} or a ".npy" path), got {describe(value)}')


def _suggest(word, choices) -> str:
    from ..errors import did_you_mean

    return did_you_mean(word, choices)


LEARNABLE_ARGS = (
    Arg("init", initializer, None, doc="he (default), xavier, zeros, normal(std), uniform(limit) or a .npy path"),
    Arg("trainable", boolean, None, doc="false freezes the layer"),
)
