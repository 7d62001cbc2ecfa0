"""The parametric PyTorch module: one class per `block`, one for the network, from the syntax tree.

A block's class takes the channels of its input and the block's parameters
(same names, same defaults); the network's class takes the network's
parameters as keyword arguments with their `.cnn` defaults (or the values a
`--set` chose). `repeat` is a Python `for`, `if` a Python `if`, `let` and `fn`
Python assignments and functions. The statements themselves are written by
:mod:`.walker`; this module assembles the file: imports, file-level `let`s and
`fn`s, helpers, classes (callees first) and their signatures.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import namedtuple

from ... import __version__
from ... import syntax as syn
from ...errors import CnnError
from ...evaluate import Poisoned, Scope, evaluate
from ...lower.conditions import Conditions
from .layers import HELPERS
from .pyexpr import RESERVED, Names, Unsupported, free_names, literal, python_name, translate, value_type
from .verify import check
from .walker import INDENT, Value, Walker

Instance = namedtuple("Instance", "shape input_shape")

# attributes of nn.Module a stored parameter must not replace
MODULE_ATTRIBUTES = frozenset(
    {
        "training", "forward", "train", "eval", "parameters", "buffers", "modules", "children", "state_dict",
        "load_state_dict", "to", "cuda", "cpu", "type", "float", "double", "half", "apply", "zero_grad",
        "register_buffer", "register_parameter", "add_module", "named_parameters", "named_buffers",
        "named_modules", "named_children", "requires_grad_", "extra_repr", "dump_patches", "call_super_init",
    }
)  # fmt: skip

DIVIDE = '''def divide(a, b):
    """cnndsl's `/`: exact on two integers (an error where it is not whole), true division otherwise."""
    if isinstance(a, int) and isinstance(b, int):
        if a % b:
            raise ValueError(f"{a} / {b} is not a whole number")
        return a // b
    return a / b'''


class ModuleWriter:
    """Writes the whole file for one network."""

    def __init__(self, network, overrides: dict):
        self.network, self.program, self.graph = network, network.program, network.graph
        self.overrides = overrides
        self.static = Conditions(self.program).file_names()
        self.constants = {
            name: (python_name(name), value_type(value))
            for name, value in self.static.items()
            if name in self.program.constants
        }
        self.functions = set(self.program.functions)
        self.spans: dict = {}
        for node in self.graph.nodes():
            if node.inputs:
                shape = Instance(node.shape, self.graph[node.inputs[0]].shape)
                self.spans.setdefault(node.span, []).append(shape)
        self.class_names: dict[str, str] = {}
        self._tensor_params: dict | None = None
        self.classes: list[str] = []
        self.helpers: dict[str, None] = {}
        self.kernels: dict[str, list] = {}
        self.torch = self.functional = False
        self.helpers_used: set = set()  # "math", "divide": what the expressions need
        self.reserved = RESERVED | {python_name(n) for n in (*self.static, *self.program.blocks)}

    # -- what the walker asks --------------------------------------------------------------------
    def where(self, span) -> str:
        return f"{os.path.basename(span.file)}:{span.line}"

    def instances(self, span) -> list:
        return self.spans.get(span, [])

    def use(self, code) -> None:
        self.torch |= "torch" in code.uses
        self.functional |= "functional" in code.uses
        self.helpers.update(dict.fromkeys(code.helpers))
        for name, kernel in code.constants:
            if self.kernels.setdefault(name, kernel) != kernel:
                raise Unsupported(f"two fixed kernels named {name}")

    def tensor_params(self, block: str) -> set:
        """The parameters of `block` that its calls give tensors (`Up(64, skip)`): inputs of `forward`."""
        if self._tensor_params is None:
            self._tensor_params = {}
            for definition in (*self.program.blocks.values(), *self.program.networks.values()):
                bound = _bound_tensors(definition)
                for call in _calls(definition.body):
                    callee = self.program.blocks.get(call.name)
                    for position, arg in enumerate(call.args if callee else ()):
                        if type(arg.value) is syn.Name and arg.value.name in bound and position < len(callee.params):
                            param = arg.name or callee.params[position].name
                            self._tensor_params.setdefault(call.name, set()).add(param)
        return self._tensor_params.get(block, set())

    def block_class(self, block: str) -> str:
        if block not in self.class_names:
            self.class_names[block] = _class_name(block, set(self.class_names.values()))
            self.classes.append(self.write_class(self.program.blocks[block], self.class_names[block]))
        return self.class_names[block]

    # -- the file ---------------------------------------------------------------------------------
    def module(self) -> str:
        definition = self.program.networks[self.network.name]
        taken = set(self.class_names.values())
        network_class = _class_name(self.network.name, taken)
        self.class_names[""] = network_class
        network = self.write_class(definition, network_class, network=True)
        functions = [self.function(f) for f in self.program.functions.values()]
        helpers = [DIVIDE] if "divide" in self.helpers_used else []
        helpers += [HELPERS[name] for name in self.helpers]
        parts = [self.header(), *functions, *helpers, *self.classes, network]
        return "\n\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"

    def header(self) -> str:
        net = self.network
        lines = [
            f'"""Network {net.name} from {os.path.basename(net.source)}, as a PyTorch module.',
            "",
            f"Generated by cnndsl {__version__} (`cnndsl export ... --to pytorch`): needs only torch.",
            "One class per block, its parameters as constructor arguments; the network's parameters are",
            "keyword arguments of its class. Submodules carry cnndsl's node names, so state_dict() keys",
            "are the node names with `/` written `.`; weights saved from it load with `cnndsl compile --weights`.",
            '"""',
            "",
        ]
        lines += ["import math", ""] if "math" in self.helpers_used else []
        lines += ["import torch"] if self.torch or self.helpers.keys() & {"ChannelScale", "DropPath"} else []
        lines += ["from torch import nn"]
        lines += ["from torch.nn import functional"] if self.functional else []
        constants = [f"{python_name(n)} = {literal(v)}" for n, v in self.static.items() if n in self.program.constants]
        for name, kernel in self.kernels.items():
            rows = "".join(f"{INDENT}{row!r},\n" for row in kernel)
            constants.append(f"{name} = [\n{rows}]")
        return "\n".join(lines) + ("\n\n" + "\n".join(constants) if constants else "")

    def function(self, definition: syn.Function) -> str:
        names = self.names_for(definition.params, in_channels=None)
        params = [self.parameter_text(p, names) for p in definition.params]
        body = translate(definition.body, names)
        where = self.where(definition.span)
        doc = f'{INDENT}"""fn {definition.name} ({where})."""'
        returns = "\n".join(_fit(INDENT, f"return {body}"))
        return f"def {python_name(definition.name)}({', '.join(params)}):\n{doc}\n{returns}"

    def names_for(self, params, in_channels) -> Names:
        names = Names(constants=self.constants, functions=self.functions, in_channels=in_channels)
        names.helpers = self.helpers_used
        for param in params:
            typ = None
            if param.default is not None and not free_names(param.default) & {p.name for p in params}:
                try:
                    typ = value_type(evaluate(param.default, Scope(self.static, {})))
                except (CnnError, Poisoned):
                    typ = None
            names.variables[param.name] = (python_name(param.name), typ)
        return names

    def parameter_text(self, param, names: Names, value=None) -> str:
        source = python_name(param.name)
        if value is not None:
            return f"{source}={literal(value)}"
        if param.default is None:
            return source
        if free_names(param.default) & set(names.variables):
            return f"{source}=None"
        return f"{source}={translate(param.default, names)}"

    # -- one class ----------------------------------------------------------------------------------
    def write_class(self, definition: syn.Definition, name: str, network: bool = False) -> str:
        tensors = set() if network else self.tensor_params(definition.name)
        params = [p for p in definition.params if p.name not in tensors]
        names = self.names_for(params, None if network else "in_channels")
        taken = self.reserved | _all_names(definition) | set(self.class_names.values())
        walker = Walker(self, names, taken)
        for param in definition.params:
            if param.name in tensors:
                walker.tensors[param.name] = Value(python_name(param.name), f"{python_name(param.name)}_channels")
        signature = self.signature(definition, names, network, tensors)
        defaults = self.late_defaults(definition, names)
        result = walker.body(definition.body, 2, Value("x_in", "in_channels"), "x")
        init = walker.init
        if not network:
            init.append([2, f"self.out_channels = {result.channels}"])
        forward = walker.forward
        forward.append([2, f"return {self.returns(walker, result)}"])
        inputs = walker.inputs if network else ["x_in" if walker.uses_in else "x"]
        inputs += [python_name(p.name) for p in definition.params if p.name in tensors]
        if not network and not walker.uses_in:
            forward = [[d, re.sub(r"\bx_in\b", "x", t) if t else t] for d, t in forward]
            forward = [[d, t] for d, t in forward if t != "x = x"]
        forward = _prune([[d, t] for d, t in forward if t is not None])
        stored, prologue = self.stored(definition, names, forward, init, walker)
        where = self.where(definition.span)
        kind = "network" if network else "block"
        lines = [f"class {name}(nn.Module):", f'{INDENT}"""{kind} {definition.name} ({where})."""', ""]
        lines.append(f"{INDENT}def __init__({signature}):")
        lines += _render([[2, "super().__init__()"], *defaults, *stored, *init])
        lines += ["", f"{INDENT}def forward(self, {', '.join(inputs)}):"]
        lines += _render([*prologue, *forward])
        if walker.frozen_norms:
            lines += ["", f"{INDENT}def train(self, mode=True):", f"{INDENT * 2}super().train(mode)"]
            lines += [f"{INDENT * 2}{m}.eval()  # frozen: its running statistics stay" for m in walker.frozen_norms]
            lines.append(f"{INDENT * 2}return self")
        return "\n".join(lines)

    def returns(self, walker, result: Value) -> str:
        """What `forward` returns: the outputs in order (a list filled as they are computed, when an `if`
        decides which there are), else the last value."""
        if not walker.outputs:
            return result.var
        if all(depth == 2 for _, depth, _ in walker.outputs):
            return ", ".join(var for var, _, _ in walker.outputs)
        outputs = walker.fresh("outputs")
        walker.forward.insert(0, [2, f"{outputs} = []"])
        for var, _, line in walker.outputs:
            line[1] = f"{outputs}.append({var})"
        return f"{outputs}[0] if len({outputs}) == 1 else tuple({outputs})"

    def signature(self, definition, names: Names, network: bool, tensors: set) -> str:
        params = ["self"] if network else ["self", "in_channels"]
        seen_default = False
        for param in definition.params:
            value = self.overrides.get(param.name) if network else None
            text = self.parameter_text(param, names, value)
            if param.name in tensors:
                if param.default is not None:
                    raise Unsupported(f"the tensor parameter `{param.name}` with a default")
                text = f"{python_name(param.name)}_channels"
            if "=" not in text and (seen_default or network):
                raise Unsupported(f"parameter `{param.name}` without a default after one with a default")
            seen_default |= "=" in text
            params.append(text)
        return ", ".join(params)

    def late_defaults(self, definition, names: Names) -> list:
        """`if width is None: width = …` for a default that reads an earlier parameter."""
        lines = []
        for param in definition.params:
            if param.default is not None and free_names(param.default) & set(names.variables):
                if param.name in self.overrides and definition.kind == "network":
                    continue
                source = python_name(param.name)
                lines += [[2, f"if {source} is None:"], [3, f"{source} = {translate(param.default, names)}"]]
        return lines

    def stored(self, definition, names: Names, forward: list, init: list, walker) -> tuple[list, list]:
        """Parameters `forward` reads: stored by the constructor, read back at the start of `forward`."""
        text = "\n".join(t for _, t in forward if t)
        candidates = [source for source, _ in names.variables.values()]
        candidates += [] if names.in_channels is None else ["in_channels"]
        params = {python_name(p.name) for p in definition.params} | {"in_channels"}
        read = lambda s: re.search(rf"(?<![\w.\"]){s}\b(?!=[^=])", text)  # noqa: E731 - not `stride=` of a call
        needed = [s for s in dict.fromkeys(candidates) if s in params and read(s)]
        modules = {m.group(1) for _, t in init if t for m in re.finditer(r"self\.(\w+) = ", t)}
        for source in needed:
            if source in MODULE_ATTRIBUTES or source in modules or source == "out_channels":
                raise Unsupported(f"the parameter `{source}` would replace an attribute of the module")
        stored = [[2, f"self.{s} = {s}"] for s in needed]
        prologue = [[2, f"{s} = self.{s}"] for s in needed]
        return stored, prologue


def _render(lines: list) -> list[str]:
    lines = [[d, t] for d, t in lines if t is not None]
    lines = _prune(lines)
    lines = _unused_loop_variables(lines)
    out = []
    for i, (depth, text) in enumerate(lines):
        out += _fit(INDENT * depth, text)
        if text.endswith(":") and (i + 1 == len(lines) or lines[i + 1][0] <= depth):
            out.append(INDENT * (depth + 1) + "pass")
    return out


_ASSIGN = re.compile(r"^(\w+) = ")
LINE_LENGTH = 120


def _fit(indent: str, text: str) -> list[str]:
    """A line within LINE_LENGTH: its `# file:line` comment above it, then a long sum or call broken up."""
    if len(indent + text) <= LINE_LENGTH:
        return [indent + text]
    code, sep, where = text.rpartition("  # ")
    lines = []
    if sep and "#" not in code:
        lines, text = [f"{indent}# {where}"], code
    if len(indent + text) <= LINE_LENGTH:
        return [*lines, indent + text]
    match = re.match(r"(return |[\w.]+ = )(.*)$", text)
    if match and len(_split(match.group(2), " + ")) > 1:
        return [*lines, f"{indent}{match.group(1)}(", *_inside(indent + INDENT, match.group(2), ""), f"{indent})"]
    return [*lines, *_inside(indent, text, "")]


def _inside(indent: str, text: str, suffix: str) -> list[str]:
    """`text` (inside brackets, so free to span lines) within LINE_LENGTH, `suffix` after its end."""
    if len(indent + text + suffix) <= LINE_LENGTH:
        return [indent + text + suffix]
    terms = _split(text, " + ")
    if len(terms) > 1:
        out = _inside(indent, terms[0], "")
        for i, term in enumerate(terms[1:], 1):
            out += _inside(indent, "+ " + term, suffix if i == len(terms) - 1 else "")
        return out
    start = text.find("(")
    if start > 0 and text.endswith(")") and _closes_last(text, start):
        args = _split(text[start + 1 : -1], ", ")
        out = [f"{indent}{text[: start + 1]}"]
        for arg in args:
            out += _inside(indent + INDENT, arg, ",")
        return [*out, f"{indent}){suffix}"]
    return [indent + text + suffix]


def _split(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside brackets and strings."""
    parts, depth, quote, last, i = [], 0, None, 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[last:i])
            last = i + len(separator)
            i = last
            continue
        i += 1
    return [*parts, text[last:]]


def _closes_last(text: str, start: int) -> bool:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i == len(text) - 1
    return False


def _prune(lines: list) -> list:
    """Drop assignments to plain names that nothing reads (a `let` only `forward` needs, a spare channel count)."""
    while True:
        reads: dict = {}
        for _, text in lines:
            match = _ASSIGN.match(text)
            rest = text[match.end() :] if match else text
            for word in set(re.findall(r"(?<![.\w])[A-Za-z_]\w*", rest)):
                reads[word] = reads.get(word, 0) + 1
        keep = [[d, t] for d, t in lines if not (_ASSIGN.match(t) and _ASSIGN.match(t).group(1) not in reads)]
        if len(keep) == len(lines):
            return keep
        lines = keep


def _unused_loop_variables(lines: list) -> list:
    out = [list(line) for line in lines]
    for i, (depth, text) in enumerate(out):
        match = re.match(r"for (\w+) in ", text)
        if not match:
            continue
        body = []
        for d, t in out[i + 1 :]:
            if d <= depth:
                break
            body.append(t)
        if not re.search(rf"\b{match.group(1)}\b", "\n".join(body)):
            out[i][1] = text.replace(f"for {match.group(1)} in", "for _ in", 1)
    return out


def _bound_tensors(definition) -> set:
    """The names a definition binds to tensors (`skip = …`, inputs, outputs)."""
    out = set()
    for item in _walk(definition.body):
        if type(item) in (syn.Bind, syn.Input, syn.Output):
            out.add(item.name)
    return out


def _calls(body):
    return [item for item in _walk(body) if type(item) is syn.Call]


def _walk(item):
    """Every syntax record under `item`, depth first."""
    if isinstance(item, tuple):
        for sub in item:
            yield from _walk(sub)
    elif dataclasses.is_dataclass(item):
        yield item
        for f in dataclasses.fields(item):
            value = getattr(item, f.name)
            if isinstance(value, tuple) or dataclasses.is_dataclass(value):
                yield from _walk(value)


def _all_names(definition) -> set:
    """Every name a definition binds or reads, so that generated variables avoid them."""
    out: set = set()

    def visit(item):
        if isinstance(item, tuple):
            for sub in item:
                visit(sub)
        elif dataclasses.is_dataclass(item):
            for f in dataclasses.fields(item):
                value = getattr(item, f.name)
                if f.name in ("name", "var") and isinstance(value, str):
                    out.add(python_name(value))
                elif not isinstance(value, (str, int, float, bool)) and value is not None and f.name != "span":
                    visit(value)

    visit(definition)
    return out


def _class_name(name: str, taken: set) -> str:
    parts = re.split(r"[_\W]+", name)
    text = "".join(p[:1].upper() + p[1:] for p in parts if p) or "Net"
    text = text if text[0].isalpha() else "Net" + text
    base, n = text, 1
    while text in taken or text in ("Module", *HELPERS) or text in RESERVED:
        n += 1
        text = f"{base}{n}"
    return text


def generate(network, overrides: dict | None = None) -> str:
    """The parametric module source of `network`; :class:`Unsupported` when it has no such form, or
    when what it builds at the exported parameters is not the compiled graph (:mod:`.verify`)."""
    writer = ModuleWriter(network, overrides or {})
    source = writer.module()
    check(source, writer.class_names[""], network.graph)
    return source
