"""One layer call as parametric PyTorch source: its module, its call, its output channels.

The literal form of every layer kind lives in :mod:`.layers` (one function per
kind, from a built layer). A call whose arguments depend on parameters is
built twice with *sentinel* numbers in place of those arguments and of the
input channels; where a sentinel shows up in the literal source, the Python
expression of its argument goes. When the two builds disagree once the
sentinels are replaced (an argument that is transformed, not passed through,
such as a kernel that decides `same` padding), the call has no parametric form
and :class:`Unsupported` says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction

from ... import syntax as syn
from ...errors import CnnError
from ...evaluate import Scope
from ...lower.binder import bind_layer
from ...values import TensorRef
from .layers import torch_for
from .pyexpr import Names, Unsupported, free_names, translate, type_of

CHANNELS = (9918720, 10402560)  # the input channels of the two builds: divisible by many small numbers
_INT = (7340033, 8340037)
_FLOAT = (0.0734, 0.0834)
_TOKEN = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


@dataclass(frozen=True)
class LayerCode:
    module: str | None  # constructor source, `None` for a functional operation
    call: str  # `{m}` the module, `{0}`, `{1}`, … the inputs
    out_channels: str
    setup: tuple = ()
    constants: tuple = ()
    uses: tuple = ()
    helpers: tuple = ()
    frozen: bool = False
    batch_norm: bool = False


@dataclass
class _FakeNode:
    layer: object
    shape: tuple | None

    @property
    def op(self) -> str:
        return self.layer.kind


def layer_code(term: syn.Call, cls, names: Names, static: dict, channels: str, instances: list, frozen: bool):
    """The parametric source of layer call `term` with input channels `channels` (Python source).

    `static`: the file-level values; `instances`: the shapes of the nodes this call made at
    the exported parameters (they stand in for spatial sizes the call needs).
    """
    dynamic = {}  # argument position -> (source, type)
    for position, arg in enumerate(term.args):
        if arg.name in cls.tensor_args:
            continue
        if free_names(arg.value) & ({*names.variables, "in"}):
            dynamic[position] = (translate(arg.value, names), type_of(arg.value, names))
    try:
        builds = [_build(term, cls, static, dynamic, run, instances) for run in (0, 1)]
    except Unsupported:  # an argument of unknown type that must be a fraction (`droppath(drop * j / n)`)
        dynamic = {k: (source, "float" if typ is None else typ) for k, (source, typ) in dynamic.items()}
        builds = [_build(term, cls, static, dynamic, run, instances) for run in (0, 1)]
    texts = [_replace_sentinels(b, run, dynamic) for run, b in enumerate(builds)]
    if texts[0] != texts[1]:
        raise Unsupported(f"`{term.name}` at line {term.span.line}: an argument is transformed, not passed through")
    for shape in {(i.input_shape[2:], i.shape[2:]): i for i in instances[1:]}.values():
        if _replace_sentinels(_build(term, cls, static, dynamic, 0, [shape]), 0, dynamic) != texts[0]:
            raise Unsupported(f"`{term.name}` at line {term.span.line}: its form depends on the image size")
    layer, torch, _ = builds[0]
    exprs = {f"\x00a{k}\x00": source for k, (source, _) in dynamic.items()}
    exprs["\x00c\x00"] = channels
    fill = lambda text: _fill(text, exprs)  # noqa: E731
    module, call, setup, out = texts[0]
    if "\x00c\x00" in call:
        raise Unsupported(f"`{term.name}` at line {term.span.line}: its call depends on the input channels")
    learnable = type(layer).learnable and (frozen or not layer.trainable)
    return LayerCode(
        fill(module) if module is not None else None,
        fill(call),
        _out_channels(layer, builds, out, fill, channels, instances),
        tuple(fill(s) for s in setup),
        torch.constants,
        torch.uses,
        torch.helpers,
        learnable,
        layer.kind == "bn" and learnable,
    )


def _build(term, cls, static: dict, dynamic: dict, run: int, instances: list):
    args = []
    for position, arg in enumerate(term.args):
        if position in dynamic:
            sentinel = (_FLOAT if dynamic[position][1] == "float" else _INT)[run]
            sentinel = sentinel + position * (1009 if isinstance(sentinel, int) else 0.0001)
            args.append(replace(arg, value=syn.Literal(round(sentinel, 6), arg.value.span)))
        else:
            args.append(arg)
    refs = iter(range(1, 100))
    resolve = lambda arg: TensorRef(getattr(arg.value, "name", "in"), f"__tensor{next(refs)}")  # noqa: E731
    try:
        layer = bind_layer(cls, replace(term, args=tuple(args)), Scope(static, {}), resolve)
    except CnnError as exc:
        raise Unsupported(f"`{term.name}` at line {term.span.line}: {exc.diagnostics[0].message}") from None
    shape = _input_shape(instances, CHANNELS[run])
    extra = [value for value in layer.attrs.values() if type(value) is TensorRef]
    node = _FakeNode(layer, instances[0].shape if instances else None)
    try:
        torch = torch_for(node, [shape] * (1 + len(extra)))
    except (CnnError, TypeError, KeyError, IndexError, ValueError) as exc:
        raise Unsupported(f"`{term.name}` at line {term.span.line}: {exc}") from None
    try:
        out = layer.output_shape([shape] * (1 + len(extra)))[1]
    except Exception:  # noqa: BLE001 - a sentinel kernel larger than the image: the instances decide
        out = None
    return layer, torch, out


def _input_shape(instances: list, channels: int) -> tuple:
    if instances:
        graph_shape = instances[0].input_shape
        return ("N", channels, *graph_shape[2:])
    return ("N", channels, 64, 64)


def _replace_sentinels(build, run: int, dynamic: dict):
    layer, torch, out = build
    table = {str(CHANNELS[run]): "\x00c\x00"}
    for position, (_, typ) in dynamic.items():
        sentinel = (_FLOAT if typ == "float" else _INT)[run]
        sentinel = sentinel + position * (1009 if isinstance(sentinel, int) else 0.0001)
        table[repr(round(sentinel, 6))] = f"\x00a{position}\x00"
    swap = lambda text: _TOKEN.sub(lambda m: table.get(m.group(1), m.group(1)), text)  # noqa: E731
    module = swap(torch.module) if torch.module is not None else None
    out_text = swap(str(layer.attrs["out"])) if "out" in layer.attrs else None
    return module, swap(torch.call), tuple(swap(s) for s in torch.setup), out_text


def _fill(text: str, exprs: dict) -> str:
    for key, source in exprs.items():
        text = text.replace(key, source)
    return text


def _out_channels(layer, builds, out_text, fill, channels: str, instances: list) -> str:
    """The output channels as Python source: the `out` argument, the input's, or a fixed ratio of them."""
    if out_text is not None:
        return fill(out_text)
    outs = [b[2] for b in builds]
    if None not in outs:
        if outs[0] == outs[1] and outs[0] not in CHANNELS:
            return str(outs[0])
        ratios = {Fraction(o, c) for o, c in zip(outs, CHANNELS)}
    else:
        ratios = {Fraction(n.shape[1], n.input_shape[1]) for n in instances}
    if len(ratios) != 1:
        raise Unsupported(f"the output channels of `{layer.kind}` are not a fixed ratio of its input's")
    ratio = ratios.pop()
    if ratio == 1:
        return channels
    if layer.kind == "flatten" and instances and len(instances[0].input_shape) == 4:
        height, width = instances[0].input_shape[2:]
        if ratio == height * width:
            return f"{_atom(channels)} * {height} * {width}"
    if ratio.denominator == 1:
        return f"{_atom(channels)} * {ratio.numerator}"
    if ratio.numerator == 1:
        return f"{_atom(channels)} // {ratio.denominator}"
    raise Unsupported(f"the output channels of `{layer.kind}` are {ratio} of its input's")


def _atom(text: str) -> str:
    return text if text.replace(".", "").replace("_", "").isalnum() else f"({text})"
