"""A check of the parametric module against the compiled graph, without torch.

The generated source is run with stand-ins for `torch` and `nn` that only record
what the constructors build: every submodule's path and, for PyTorch's own
layers, its constructor call as text. That must equal the literal form of the
compiled graph (:mod:`.layers`, one entry per node): the same paths (the
`state_dict()` names) and the same constructor calls. A program on which the
two differ — a construct the parametric writer gets wrong — is exported in the
literal form instead, so an export is never wrong at the exported parameters.
"""

from __future__ import annotations

from .layers import HELPERS, torch_for
from .pyexpr import Unsupported


class _Anything:
    """Stands for any torch value: every attribute and call gives another."""

    def __getattr__(self, name):
        return _Anything()

    def __call__(self, *args, **kwargs):
        return _Anything()


# PyTorch's defaults: an option given its default value reads the same as one left out
DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "output_padding": 0}
DEFAULTS.update(ceil_mode=False, eps=1e-05, count_include_pad=True)


def _same(value):
    """`(3, 3)` and `[3, 3]` are `3` to PyTorch's layers; lists are tuples."""
    if isinstance(value, (list, tuple)):
        value = tuple(value)
        return value[0] if value and all(v == value[0] and type(v) is type(value[0]) for v in value) else value
    return value


class _Layer:
    """A PyTorch layer (`nn.Conv2d(…)`): its constructor call, as text, in one spelling of its meaning."""

    def __init__(self, *args, **kwargs):
        args = [_same(a) for a in args]
        kwargs = {k: _same(v) for k, v in kwargs.items()}
        if "Pool" in type(self).__name__ and args and kwargs.get("stride") == args[-1]:
            del kwargs["stride"]  # a pool's stride defaults to its kernel
        options = [repr(a) for a in args]
        options += [f"{k}={v!r}" for k, v in kwargs.items() if k not in DEFAULTS or v != DEFAULTS[k]]
        self.text = f"nn.{type(self).__name__}({', '.join(options)})"

    def __getattr__(self, name):
        return _Anything()

    def requires_grad_(self, flag=True):
        return self


class _Module:
    """`nn.Module`: keeps its submodules in order."""

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "children", {})

    def __setattr__(self, name, value):
        if isinstance(value, (_Module, _Layer)):
            self.children[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name, value):
        setattr(self, name, value)

    def requires_grad_(self, flag=True):
        return self

    def __getattr__(self, name):
        return _Anything()


class _NN:
    Module = _Module

    def __init__(self):
        self.classes: dict = {}

    def __getattr__(self, name):
        if name not in self.classes:
            self.classes[name] = type(name, (_Layer,), {})
        return self.classes[name]


def _built(source: str, class_name: str) -> dict:
    """path -> constructor text (None for a module of the file's own) of what the network class builds."""
    namespace: dict = {"__name__": "cnndsl_check"}
    lines = [line for line in source.splitlines() if not line.startswith(("import torch", "from torch"))]
    namespace.update(nn=_NN(), torch=_Anything(), functional=_Anything())
    exec(compile("\n".join(lines), "<cnndsl check>", "exec"), namespace)  # noqa: S102 - our own output
    root = namespace[class_name]()
    out: dict = {}

    def visit(module, prefix):
        for name, child in module.children.items():
            path = prefix + name
            if isinstance(child, _Layer):
                out[path] = child.text if type(child).__mro__[1] is _Layer else None  # LayerNorm2d: its own
            elif type(child).__name__ in HELPERS:
                out[path] = None  # a helper module of the file (ChannelScale, DropPath)
            else:
                visit(child, path + ".")

    visit(root, "")
    return out


def check(source: str, class_name: str, graph) -> None:
    """Raise Unsupported unless `source` builds the modules of `graph`'s literal form."""
    try:
        built = _built(source, class_name)
    except Exception as exc:  # noqa: BLE001 - any failure of the stand-in run means: do not trust it
        raise Unsupported(f"a construct the check could not run ({type(exc).__name__}: {exc})") from None
    expected, nn = {}, _NN()
    for node in graph.nodes():
        if node.op == "input":
            continue
        torch = torch_for(node, [graph[i].shape for i in node.inputs])
        if torch.module is not None:
            literal = torch.module.startswith("nn.")
            text = eval(torch.module, {"nn": nn}).text if literal else None  # noqa: S307 - our own literal
            expected[node.name.replace("/", ".")] = text
    if set(built) != set(expected):
        differ = sorted(set(built) ^ set(expected))[:3]
        raise Unsupported(f"a construct whose submodule names came out differently ({', '.join(differ)})")
    for path, text in built.items():
        if text is not None and expected[path] is not None and text != expected[path]:
            raise Unsupported(f"`{path}`: {text} where the compiled network has {expected[path]}")
