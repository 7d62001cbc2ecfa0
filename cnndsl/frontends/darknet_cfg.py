"""The Darknet `.cfg` text and the reader state the section translators share.

`parse_cfg` follows Darknet's `read_cfg`: `[section]` headers, `key=value`
options, `#` and `;` comment lines; every option keeps its position so that a
refusal points at it. `Reader` holds the statements emitted so far and each
Darknet layer's output (`Value`), numbered as `[route]` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .writer import Builder, Statement, Value, located

ACTIVATIONS = {
    "linear": None,
    "leaky": "leakyrelu(0.1)",
    "relu": "relu",
    "relu6": "relu6",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "mish": "mish",
    "swish": "silu",
    "elu": "elu",
    "selu": "selu",
}
"""Darknet activation -> the `.cnn` layer (None: nothing)."""

SECTIONS = (
    "convolutional", "conv", "maxpool", "max", "avgpool", "avg", "route", "shortcut", "upsample", "reorg",
    "dropout", "connected", "conn", "softmax", "soft", "yolo", "region",
)  # fmt: skip


@dataclass
class Option:
    value: str
    line: int
    column: int


@dataclass
class Section:
    kind: str
    line: int
    options: dict[str, Option] = field(default_factory=dict)


def parse_cfg(text: str, path) -> list[Section]:
    """The sections of a `.cfg` with every option's position (Darknet's `read_cfg`)."""
    sections: list[Section] = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        column = len(raw) - len(raw.lstrip()) + 1
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            if not line.endswith("]"):
                raise located("E1221", "a section header must end with `]`", path, number, column, len(line))
            sections.append(Section(line[1:-1].strip().lower(), number))
        elif "=" not in line:
            raise located("E1221", f"expected `key=value`, got `{line}`", path, number, column, len(line))
        elif not sections:
            raise located("E1221", "an option before the first section", path, number, column, len(line))
        else:
            key, value = line.split("=", 1)
            at = column + len(key) + 1 + (len(value) - len(value.lstrip()))
            sections[-1].options.setdefault(key.strip(), Option(value.strip(), number, at))  # Darknet: first wins
    return sections


class Reader(Builder):
    """Turns the sections into statements, following shapes."""

    def __init__(self, path: Path, sections: list[Section]):
        super().__init__()
        self.path, self.sections = path, sections
        self.heads: list[str] = []  # outputs named by [yolo] / [region]
        self.used: set[str] = set()  # options of the current section read so far
        self.values: list[Value] = []
        self.loads: list[tuple] = []  # (section, statement, kind, inputs, outputs, size, groups, bn)
        self.section: Section = sections[0]
        self.input: Value | None = None

    # -- options -------------------------------------------------------------------------------

    def option(self, key: str) -> Option | None:
        """The option `key` of the current section, marked as read."""
        self.used.add(key)
        return self.section.options.get(key)

    def unused(self) -> list[str]:
        """Notes for options of the current section that nothing read (Darknet ignores them too)."""
        if self.section.kind in ("yolo", "region", "net", "network"):
            return []
        return [f"{self.path}:{o.line}: `{key}` is not a [{self.section.kind}] option; ignored, as Darknet does"
                for key, o in self.section.options.items() if key not in self.used]  # fmt: skip

    def error(self, message: str, key: str | None = None, hint: str = "", code: str = "E1225"):
        option = self.section.options.get(key) if key else None
        if option:
            return located(code, message, self.path, option.line, option.column, len(option.value), hint)
        return located(code, message, self.path, self.section.line, 1, len(self.section.kind) + 2, hint)

    def integer(self, key: str, default: int | None = None, least: int = 0) -> int:
        option = self.option(key)
        if option is None:
            if default is None:
                raise self.error(f"[{self.section.kind}] needs `{key}=`", code="E1223")
            return default
        try:
            value = int(option.value)
        except ValueError:
            raise self.error(f"`{key}` must be an integer, got `{option.value}`", key, code="E1223") from None
        if not least <= value <= 1_000_000:
            raise self.error(f"`{key}` must be between {least} and 1000000, got {value}", key, code="E1223")
        return value

    def real(self, key: str, default: float) -> float:
        option = self.option(key)
        try:
            return default if option is None else float(option.value)
        except ValueError:
            raise self.error(f"`{key}` must be a number, got `{option.value}`", key, code="E1223") from None

    def refuse(self, key: str, allowed, why: str) -> None:
        """An option whose value other than `allowed` the emitted network could not reproduce."""
        option = self.option(key)
        if option is not None and option.value.strip() not in {str(a) for a in allowed}:
            raise self.error(f"`{key}={option.value}` is not supported: {why}", key)

    def activation(self, default: str = "logistic") -> list[str]:
        option = self.option("activation")
        name = option.value.lower() if option else default
        if name not in ACTIVATIONS:
            known = ", ".join(sorted(ACTIVATIONS))
            raise self.error(f"activation `{name}` has no cnndsl counterpart", "activation", f"supported: {known}")
        return [ACTIVATIONS[name]] if ACTIVATIONS[name] else []

    # -- values --------------------------------------------------------------------------------

    def emit(self, chain: str, shape: tuple) -> Statement:
        value = self.statement(chain, shape, f"l{len(self.values)}")
        self.values.append(value)
        return value.statement

    def previous(self) -> Value:
        return self.values[-1] if self.values else self.input

    def image(self, kind: str) -> tuple:
        shape = self.previous().shape
        if len(shape) != 3:
            raise self.error(f"[{kind}] needs an image input, but the layer before it gives {shape[0]} features")
        return shape
