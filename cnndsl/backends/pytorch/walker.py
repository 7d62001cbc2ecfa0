"""The body of one generated class: the constructor and `forward`, written side by side.

The walk follows the syntax tree of a `block` or `network` statement by
statement. Each construct writes its lines into both methods at once, so that
`forward` replays exactly the control flow (`for`, `if`) under which the
constructor created the submodules, and computes the same submodule names:

* node names count per scope as cnndsl's lowering counts them (`conv1`,
  `conv2`, `Bottleneck3`): a fixed count is a plain attribute
  (`self.conv2`), a count that a loop advances by a fixed step an f-string
  over the loop variable (`f"Bottleneck{i + 2}"`), any other a counter
  variable (`n_conv += 1`);
* the constructor threads the channel count along the chain as Python source
  (`width`, `width * 4`, `self.Stage1.out_channels`), materialised into a
  variable (`c`, `c2`, …) where a loop or a branch changes it;
* `forward` threads the current tensor: `x = self.conv1(x)`.

Parameters and `let`s read the same in both methods: `forward` starts by
reading the parameters it needs back from `self` (see :mod:`.parametric`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from ... import syntax as syn
from ...layers import LAYERS
from ...lower.env import CONSTRUCTS
from .analysis import VARIES, increments, product, stride_of
from .calls import layer_code
from .pyexpr import Unsupported, python_name, translate, type_of

INDENT = "    "


@dataclass(frozen=True)
class Value:
    var: str  # the tensor in `forward`
    channels: str  # its channel count, in the constructor


class Counter:
    """The next number of one node-name base: an int, a form over loop variables, or a variable."""

    def __init__(self, value=0):
        self.value, self.terms, self.var = value, [], None

    def next(self, walker, depth) -> tuple[str, bool]:
        """(name source, is_static): `conv3` or `f"conv{i + 3}"`."""
        self.value += 1
        if self.var is not None:
            walker.both(depth, f"{self.var} += 1")
            return "{" + self.var + "}", False
        if not self.terms:
            return str(self.value), True
        return "{" + " + ".join([*self.terms, str(self.value)]) + "}", False

    def source(self) -> str:
        if self.var is not None:
            return self.var
        return " + ".join([*self.terms, str(self.value)]) if self.terms else str(self.value)


class Walker:
    """Writes one class's `__init__` and `forward` bodies from the definition's statements."""

    def __init__(self, module, names, taken: set):
        self.module, self.names = module, names
        self.init: list = []  # [depth, text]; text None for a line left out
        self.forward: list = []
        self.counters: dict[str, Counter] = {}
        self.tensors: dict[str, Value] = {}
        self.in_frozen = False
        self.frozen_norms: list[str] = []
        self.outputs: list[str] = []
        self.taken = set(taken)
        self.uses_in = False
        self.loops = 0
        self.inputs: list[str] = []  # the network's inputs, in order

    # -- lines ----------------------------------------------------------------------------
    def both(self, depth: int, text: str) -> None:
        self.init.append([depth, text])
        self.forward.append([depth, text])

    def fresh(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}{n}"
        self.taken.add(name)
        return name

    def where(self, span) -> str:
        return f"  # {self.module.where(span)}"

    # -- statements -----------------------------------------------------------------------
    def body(self, statements, depth: int, current: Value, target: str) -> Value:
        for stmt in statements:
            current = self.statement(stmt, depth, current, target)
        return current

    def statement(self, stmt, depth: int, current: Value, target: str) -> Value:
        kind = type(stmt)
        if kind is syn.Let:
            self.let(stmt, depth)
            return current
        if kind is syn.Chain:
            return self.chain(stmt, depth, current, target)
        if kind is syn.Bind:
            value = self.chain(stmt.chain, depth, current, self.bind_name(stmt.name))
            self.tensors[stmt.name] = value
            return value
        if kind is syn.Input:
            return self.input(stmt)
        if kind is syn.Output:
            return self.output(stmt, depth, current)
        if kind is syn.If:
            return self.if_statement(stmt, depth, current, target)
        raise Unsupported(f"the statement at line {stmt.span.line}")

    def bind_name(self, name: str) -> str:
        source = python_name(name)
        self.taken.add(source)
        return source

    def let(self, stmt: syn.Let, depth: int) -> None:
        source = python_name(stmt.name)
        self.both(depth, f"{source} = {translate(stmt.value, self.names)}")
        self.names.variables[stmt.name] = (source, type_of(stmt.value, self.names))
        self.taken.add(source)

    def input(self, stmt: syn.Input) -> Value:
        shape = stmt.shape
        if type(shape) is not syn.ListExpr:
            raise Unsupported("an input shape that is not written as a list")
        channels = translate(shape.items[0], self.names) if len(shape.items) == 3 else "1"
        if len(shape.items) == 1:
            channels = translate(shape.items[0], self.names)
        value = Value(self.bind_name(stmt.name), channels)
        self.inputs.append(value.var)
        self.tensors[stmt.name] = value
        return value

    def output(self, stmt: syn.Output, depth: int, current: Value) -> Value:
        if self.loops:
            raise Unsupported("an `output` inside a `repeat`")
        if stmt.chain is None:
            value = self.tensors[stmt.name]
        else:
            value = self.chain(stmt.chain, depth, current, self.bind_name(stmt.name))
            self.tensors[stmt.name] = value
        line = [depth, None]  # `outputs.append(…)` where an `if` decides which outputs there are
        self.forward.append(line)
        self.outputs.append((value.var, depth, line))
        return value

    def chain(self, chain: syn.Chain, depth: int, current: Value, target: str) -> Value:
        terms = chain.terms
        first = terms[0]
        if type(first) is syn.Call and first.name in self.tensors and not first.has_parens and first.body is None:
            current, terms = self.tensors[first.name], terms[1:]
        for term in terms:
            current = self.term(term, depth, current, target)
        return current

    def term(self, term, depth: int, current: Value, target: str) -> Value:
        if type(term) is syn.BlockInput:
            self.uses_in = True
            return Value("x_in", "in_channels")
        if type(term) is syn.Repeat:
            return self.repeat(term, depth, current, target)
        cls = LAYERS.get(term.name)
        if cls is not None and cls.is_merge() and term.body is not None:
            return self.merge(term, depth, current, target)
        if term.name in CONSTRUCTS:
            return getattr(self, term.name)(term, depth, current, target)
        if term.name in self.module.program.blocks:
            return self.block_call(term, depth, current, target)
        if cls is None:
            raise Unsupported(f"`{term.name}` at line {term.span.line}")
        return self.layer(term, cls, depth, current, target)

    # -- names of submodules ----------------------------------------------------------------
    def next_name(self, base: str, depth: int) -> tuple[str, bool]:
        counter = self.counters.setdefault(base, Counter())
        number, static = counter.next(self, depth)
        return f"{base}{number}", static

    def attach(self, depth: int, name: str, static: bool, source: str, span) -> str:
        """Create the submodule in the constructor; the expression that reads it."""
        if static and name.isidentifier():
            self.init.append([depth, f"self.{name} = {source}{self.where(span)}"])
            return f"self.{name}"
        quoted = f'f"{name}"' if "{" in name else f'"{name}"'
        self.init.append([depth, f"self.add_module({quoted}, {source}){self.where(span)}"])
        return f"getattr(self, {quoted})"

    def variable_counters(self, bases, depth: int) -> None:
        """Turn the counters of `bases` into variables (`n_conv = 2`), for a loop or branch that varies them."""
        for base in sorted(bases):
            counter = self.counters.setdefault(base, Counter())
            if counter.var is None:
                var = self.fresh("n_" + python_name(base).lower())
                self.both(depth, f"{var} = {counter.source()}")
                counter.var = var

    # -- layers -----------------------------------------------------------------------------
    def layer(self, term: syn.Call, cls, depth: int, current: Value, target: str) -> Value:
        if term.body is not None:
            raise Unsupported(f"`{term.name}` with a body")
        extra = [self.tensor_argument(arg) for arg in term.args if arg.name in cls.tensor_args]
        instances = self.module.instances(term.span)
        code = layer_code(term, cls, self.names, self.module.static, current.channels, instances, self.in_frozen)
        self.module.use(code)
        name, static = self.next_name(term.name, depth)
        reference = "{m}"
        if code.module is not None:
            reference = self.attach(depth, name, static, code.module, term.span)
            for line in code.setup:
                self.init.append([depth, line.format(m=reference)])
            if code.frozen:
                self.init.append([depth, f"{reference}.requires_grad_(False)  # frozen"])
            if code.batch_norm:
                if not static:
                    raise Unsupported("a frozen batch norm whose name a loop or branch decides")
                self.frozen_norms.append(reference)
        call = code.call.format(current.var, *(v.var for v in extra), m=reference)
        self.forward.append([depth, f"{target} = {call}{self.where(term.span)}"])
        return Value(target, code.out_channels)

    def tensor_argument(self, arg) -> Value:
        if type(arg.value) is syn.BlockInputRef:
            self.uses_in = True
            return Value("x_in", "in_channels")
        if type(arg.value) is syn.Name and arg.value.name in self.tensors:
            return self.tensors[arg.value.name]
        raise Unsupported(f"the tensor argument at line {arg.span.line}")

    # -- control flow -----------------------------------------------------------------------
    def settle(self, depth: int, value: Value, target: str):
        """Leave the tensor in `target`; a placeholder line for the channels, filled in later."""
        if value.var != target:
            self.forward.append([depth, f"{target} = {value.var}"])
        line = [depth, None]
        self.init.append(line)
        return line, value.channels

    def settle_channels(self, lines: list, entry: str, force: bool = False) -> str:
        """Fill in the placeholders: one channel variable where the branches or rounds differ."""
        if not force and all(channels == entry for _, channels in lines):
            return entry
        var = self.fresh("c")
        for line, channels in lines:
            line[1] = f"{var} = {channels}"
        return var

    def repeat(self, term: syn.Repeat, depth: int, current: Value, target: str) -> Value:
        steps = increments(term.body, self.module.program, self.module.static, self.dynamic())
        self.variable_counters([b for b, n in steps.items() if n is VARIES], depth)
        var = python_name(term.var) if term.var else self.fresh("i")
        entry = [self.settle(depth, current, target)]
        channels = self.settle_channels(entry, "", force=True)
        count = translate(term.count, self.names)
        self.init.append([depth, f"for {var} in range({count}):{self.where(term.span)}"])
        self.forward.append([depth, f"for {var} in range({count}):"])
        saved = {b: copy.copy(c) for b, c in self.counters.items()}
        for base, step in steps.items():
            counter = self.counters.setdefault(base, Counter())
            if step and counter.var is None:
                counter.terms = [*counter.terms, var if step == 1 else f"{step} * {var}"]
        if term.var:
            self.names.variables[term.var] = (var, "int")
        self.loops += 1
        out = self.body(term.body, depth + 1, Value(target, channels), target)
        self.loops -= 1
        line, out_channels = self.settle(depth + 1, out, target)
        if out_channels != channels:
            line[1] = f"{channels} = {out_channels}"
        count_text = count if count.isidentifier() or count.isdigit() else f"({count})"
        for base, step in steps.items():
            counter, before = self.counters[base], saved.get(base, Counter())
            if counter.var is None and step:
                counter.terms, counter.value = before.terms, before.value
                if count_text.isdigit():
                    counter.value += step * int(count_text)
                else:
                    counter.terms = [*before.terms, count_text if step == 1 else f"{step} * {count_text}"]
        return Value(target, channels)

    def dynamic(self) -> set:
        return {*self.names.variables, "in"}

    def if_statement(self, stmt: syn.If, depth: int, current: Value, target: str) -> Value:
        chosen = _chosen_bodies(stmt)
        program, static, dynamic = self.module.program, self.module.static, self.dynamic()
        counts = [increments(body, program, static, dynamic) for _, body in chosen]
        bases = set().union(*counts)
        self.variable_counters([b for b in bases if any(c.get(b, 0) is VARIES for c in counts)], depth)
        has_else = _has_else(stmt)
        lines = [] if has_else else [self.settle(depth, current, target)]
        start = {b: copy.copy(c) for b, c in self.counters.items()}
        conditions = []
        for i, (condition, body) in enumerate(chosen):
            if condition is None and not has_else:
                break
            if condition is None:
                self.both(depth, "else:")
            else:
                conditions.append(translate(condition, self.names))
                keyword = "if" if i == 0 else "elif"
                self.init.append([depth, f"{keyword} {conditions[-1]}:{self.where(condition.span)}"])
                self.forward.append([depth, f"{keyword} {conditions[-1]}:"])
            self.counters = {b: copy.copy(c) for b, c in start.items()}
            out = self.body(body, depth + 1, current, target)
            lines.append(self.settle(depth + 1, out, target))
        self.counters = start
        for base in bases:
            numbers = [c.get(base, 0) for c in counts]
            counter = self.counters.setdefault(base, Counter())
            if counter.var is None and any(numbers):
                choice = " else ".join(f"{n} if {c}" for n, c in zip(numbers, conditions)) + f" else {numbers[-1]}"
                counter.terms = [*counter.terms, f"({choice})" if len(set(numbers)) > 1 else str(numbers[0])]
        return Value(target, self.settle_channels(lines, current.channels))

    # -- merges, residual, frozen -------------------------------------------------------------
    def merge(self, term: syn.Call, depth: int, current: Value, target: str) -> Value:
        if term.args:
            raise Unsupported(f"`{term.name}` with arguments")
        branches = []
        for stmt in term.body:
            if type(stmt) is syn.If and not _has_else(stmt):
                raise Unsupported(f"a `{term.name}` branch that may be absent (an `if` without `else`)")
            if type(stmt) is syn.Let:
                raise Unsupported("a `let` as a branch")
            branches.append(self.statement(stmt, depth, current, self.fresh("branch")))
        self.next_name(term.name, depth)
        if term.name == "concat":
            self.module.torch = True
            call = f"torch.cat([{', '.join(b.var for b in branches)}], dim=1)"
            channels = " + ".join(b.channels for b in branches)
        else:
            call = (" + " if term.name == "add" else " * ").join(b.var for b in branches)
            channels = branches[0].channels
        self.forward.append([depth, f"{target} = {call}{self.where(term.span)}"])
        return Value(target, channels)

    def frozen(self, term: syn.Call, depth: int, current: Value, target: str) -> Value:
        outer, self.in_frozen = self.in_frozen, True
        try:
            return self.body(term.body or (), depth, current, target)
        finally:
            self.in_frozen = outer

    def residual(self, term: syn.Call, depth: int, current: Value, target: str) -> Value:
        project = self.shortcut(term)
        body = self.body(term.body or (), depth, current, self.fresh("branch"))
        short = current
        if project is not None:
            short = self.projection(term, depth, current, body, project)
        self.next_name("residual", depth)
        self.forward.append([depth, f"{target} = {body.var} + {short.var}{self.where(term.span)}"])
        return Value(target, body.channels)

    def shortcut(self, term: syn.Call):
        """None for the identity, "" for a projection, else the Python condition under which it projects."""
        if not term.args:
            return None
        value = term.args[0].value
        if type(value) is syn.Name and value.name not in self.names.variables:
            return "" if value.name == "project" else None
        source = translate(value, self.names)
        return f'{f"({source})" if " " in source else source} == "project"'

    def projection(self, term, depth: int, current: Value, body: Value, condition: str) -> Value:
        stride = product(stride_of(term.body or (), self.module.program, self.names))
        option = "" if stride == "1" else f", stride={stride}"
        short, inner = self.fresh("short"), depth
        if condition:
            self.init.append([depth, f"if {condition}:"])
            self.forward.append([depth, f"{short} = {current.var}"])
            self.forward.append([depth, f"if {condition}:"])
            inner = depth + 1
        before = {b: copy.copy(self.counters.setdefault(b, Counter())) for b in ("shortcut_conv", "shortcut_bn")}
        conv_name, conv_static = self.next_name("shortcut_conv", inner)
        source = f"nn.Conv2d({current.channels}, {body.channels}, 1{option}, bias=False)"
        conv = self.attach(inner, conv_name, conv_static, source, term.span)
        bn_name, bn_static = self.next_name("shortcut_bn", inner)
        bn = self.attach(inner, bn_name, bn_static, f"nn.BatchNorm2d({body.channels})", term.span)
        if self.in_frozen:
            for module in (conv, bn):
                self.init.append([inner, f"{module}.requires_grad_(False)  # frozen"])
            if not bn_static or condition:
                raise Unsupported("a frozen projection shortcut whose name a loop or branch decides")
            self.frozen_norms.append(bn)
        self.forward.append([inner, f"{short} = {bn}({conv}({current.var}))"])
        if condition:
            for base, old in before.items():
                counter = self.counters[base]
                if counter.var is None:
                    counter.value, counter.terms = old.value, [*old.terms, f"int({condition})"]
        return Value(short, body.channels)

    # -- blocks ---------------------------------------------------------------------------------
    def block_call(self, term: syn.Call, depth: int, current: Value, target: str) -> Value:
        if term.body is not None:
            raise Unsupported(f"block `{term.name}` with a body")
        if self.in_frozen:
            raise Unsupported(f"block `{term.name}` inside `frozen`")
        definition = self.module.program.blocks[term.name]
        tensor_params = self.module.tensor_params(term.name)
        args, tensors = [current.channels], {}
        for position, arg in enumerate(term.args):
            param = arg.name or definition.params[position].name
            if param in tensor_params:
                if type(arg.value) is not syn.Name or arg.value.name not in self.tensors:
                    raise Unsupported(f"block `{term.name}` takes a tensor for `{param}` at one call, not another")
                tensors[param] = value = self.tensors[arg.value.name]
                source = value.channels
                args.append(f"{python_name(param)}_channels={source}" if arg.name else source)
                continue
            source = translate(arg.value, self.names)
            args.append(f"{python_name(arg.name)}={source}" if arg.name else source)
        cls = self.module.block_class(term.name)
        name, static = self.next_name(term.name, depth)
        reference = self.attach(depth, name, static, f"{cls}({', '.join(args)})", term.span)
        inputs = [current.var, *(tensors[p.name].var for p in definition.params if p.name in tensors)]
        self.forward.append([depth, f"{target} = {reference}({', '.join(inputs)}){self.where(term.span)}"])
        if static or self.counters[term.name].var is None:
            return Value(target, f"{reference}.out_channels")
        channels = self.fresh("c")
        self.init.append([depth, f"{channels} = {reference}.out_channels"])
        return Value(target, channels)


def _chosen_bodies(stmt: syn.If) -> list:
    """[(condition, body)] of an `if … else if … else`, the last with condition None (empty when no `else`)."""
    out = []
    while type(stmt) is syn.If:
        out.append((stmt.condition, stmt.body))
        stmt = stmt.orelse
    return [*out, (None, stmt or ())]


def _has_else(stmt) -> bool:
    while type(stmt) is syn.If:
        stmt = stmt.orelse
    return stmt is not None
