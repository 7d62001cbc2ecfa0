"""One argument binder for layer calls and block calls.

A call's arguments are matched to the callee's parameters (positional, then
keyword), converted, and the missing ones filled from their defaults. What
differs between a layer and a block — how a value is converted, where a
default comes from, how a message names the callee — is a :class:`Signature`.
"""

from __future__ import annotations

from .. import syntax as syn
from ..errors import CnnError, Collector, Label, did_you_mean, error
from ..evaluate import Poisoned, Scope, evaluate
from ..layers import ArgError, Layer
from ..layers.args import REQUIRED

UNMATCHED = ("E0211", "E0214", "E0215")  # an argument that found no parameter


class Signature:
    """What the binder needs to know about one callee."""

    takes_tensors = False  # a block takes bound tensors as extra inputs
    tensor_args: tuple = ()  # a layer's keyword arguments that name a tensor (`like=`)

    def __init__(self, name: str, params: list, required: set):
        self.name, self.params, self.required = name, params, required

    def convert(self, param: str, value, arg):
        return value

    def default(self, param: str, values: dict, errors: Collector):
        raise NotImplementedError

    def too_many(self, arg, given: int) -> CnnError:
        raise NotImplementedError

    def unknown(self, arg) -> CnnError:
        raise NotImplementedError

    def twice(self, arg, first) -> CnnError:
        return error("E0213", f"argument `{arg.name}` is given twice", arg.span)

    def missing(self, param: str, call) -> CnnError:
        raise NotImplementedError


class LayerSignature(Signature):
    """A layer kind's arguments (its `Arg` specs), under the name it is called by."""

    def __init__(self, cls: type[Layer], name: str):
        self.cls, self.spec = cls, {a.name: a for a in cls.arguments}
        self.tensor_args = cls.tensor_args
        required = {a.name for a in cls.arguments if a.default is REQUIRED}
        super().__init__(name, [a.name for a in cls.arguments], required)

    def text(self) -> str:
        parts = [a.name if a.default is REQUIRED else f"{a.name}=…" for a in self.cls.arguments]
        return f"`{self.name}({', '.join(parts)})`" if parts else f"`{self.name}` takes no arguments"

    def convert(self, param, value, arg):
        try:
            return self.spec[param].convert(value)
        except ArgError as exc:
            message = f"`{self.cls.kind}` argument `{param}`: {exc.message}"
            raise error(exc.code, message, arg.value.span, hint=exc.hint) from None

    def default(self, param, values, errors):
        return self.cls.defaults()[self.spec[param].key]

    def too_many(self, arg, given):
        most = len(self.params)
        takes = "at most " + _count(most, "argument") if most else "no arguments"
        return error("E0214", f"`{self.name}` takes {takes}, got {given}", arg.span, hint=self.text())

    def unknown(self, arg):
        hint = did_you_mean(arg.name, self.spec) or self.text()
        return error("E0211", f"`{self.name}` has no argument `{arg.name}`", arg.span, hint=hint)

    def twice(self, arg, first):
        notes = [Label(first.span, "first given here")]
        return error("E0213", f"argument `{arg.name}` is given twice", arg.span, notes=notes)

    def missing(self, param, call):
        return error("E0212", f"`{call.name}` is missing its argument `{param}`", call.span, hint=self.text())


class BlockSignature(Signature):
    """A block's parameters; defaults are expressions over the arguments bound before them."""

    takes_tensors = True

    def __init__(self, definition: syn.Definition, names: dict):
        self.definition, self.names = definition, names  # names: file-level `let`s and `fn`s
        self.declared = {p.name: p for p in definition.params}
        required = {p.name for p in definition.params if p.default is None}
        super().__init__(definition.name, [p.name for p in definition.params], required)

    def _defined_here(self):
        return [Label(self.definition.name_span, "defined here")]

    def default(self, param, values, errors):
        expr = self.declared[param].default
        try:
            return evaluate(expr, Scope({**self.names, **values}, {}))
        except CnnError as exc:
            errors.add(exc)
        except Poisoned:  # depends on a value already reported
            pass
        return None

    def too_many(self, arg, given):
        message = f"block `{self.name}` takes {len(self.params)} arguments, got {given}"
        return error("E0214", message, arg.span, notes=self._defined_here())

    def unknown(self, arg):
        hint = did_you_mean(arg.name, self.params) or f"parameters: {', '.join(self.params)}"
        message = f"block `{self.name}` has no parameter `{arg.name}`"
        return error("E0211", message, arg.span, hint=hint, notes=self._defined_here())

    def missing(self, param, call):
        notes = [Label(self.declared[param].span, "declared here")]
        return error("E0212", f"block `{self.name}` is missing its argument `{param}`", call.span, notes=notes)


def bind(signature: Signature, call: syn.Call, scope: Scope, resolve=None) -> tuple[dict, dict, dict]:
    """Bind `call`'s arguments: (values by parameter, tensors by parameter, argument syntax by parameter).

    `resolve(arg)` turns a layer's tensor argument (`like=NAME`) into a TensorRef.
    Independent mistakes are collected and raised together.
    """
    values, tensors, given, errors = {}, {}, {}, Collector()
    for position, arg in enumerate(call.args):
        try:
            if arg.name in signature.tensor_args:
                if arg.name in given:
                    raise signature.twice(arg, given[arg.name])
                given[arg.name] = arg
                tensors[arg.name] = resolve(arg)
                continue
            param = _parameter(signature, call, arg, position, given)
            given[param] = arg
            if signature.takes_tensors and type(arg.value) is syn.Name and arg.value.name in scope.tensors:
                tensors[param] = scope.tensors[arg.value.name]  # a tensor argument: a second input
            else:
                values[param] = signature.convert(param, evaluate(arg.value, scope), arg)
        except CnnError as exc:
            errors.add(exc)
    unmatched = any(d.code in UNMATCHED for d in errors.diagnostics)
    for param in signature.params:
        if param in given:
            continue
        if param in signature.required:
            if not unmatched:  # a misspelt or misplaced argument is the likely cause
                errors.add(signature.missing(param, call))
        else:
            values[param] = signature.default(param, values, errors)
    errors.raise_if_any()
    return values, tensors, given


def _parameter(signature: Signature, call, arg, position: int, given: dict) -> str:
    if arg.name is None:
        if any(a.name is not None for a in call.args[:position]):
            raise error("E0215", "a positional argument follows a keyword argument", arg.span)
        if position >= len(signature.params):
            raise signature.too_many(arg, len(call.args))
        return signature.params[position]
    if arg.name not in signature.params:
        raise signature.unknown(arg)
    if arg.name in given:
        raise signature.twice(arg, given[arg.name])
    return arg.name


_SIGNATURES: dict = {}
"""LayerSignature by (layer kind, the name it is called by): made once, they never change."""


def bind_layer(cls: type[Layer], call: syn.Call, scope: Scope, resolve=None) -> Layer:
    """The layer a call makes: arguments matched to `cls.arguments`, converted, checked.

    Tensor arguments (`like=NAME`, see `Layer.tensor_args`) become TensorRefs in the attributes.
    """
    try:
        signature = _SIGNATURES[cls, call.name]
    except KeyError:
        signature = _SIGNATURES[cls, call.name] = LayerSignature(cls, call.name)
    values, tensors, given = bind(signature, call, scope, resolve)
    layer = cls({**{cls.arguments[i].key: values[a.name] for i, a in enumerate(cls.arguments)}, **tensors})
    check = getattr(layer, "check", None)
    if check is not None:
        try:
            check()
        except ArgError as exc:
            arg = given.get(exc.arg)
            span = arg.value.span if arg else call.span
            raise error(exc.code, f"`{call.name}`: {exc.message}", span, hint=exc.hint) from None
    return layer


def bind_block(definition: syn.Definition, call: syn.Call, scope: Scope, names: dict) -> tuple[dict, dict]:
    """(numbers and symbols, tensors) bound to the block's parameters; defaults also see `names`."""
    values, tensors, _ = bind(BlockSignature(definition, names), call, scope)
    return values, tensors


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
