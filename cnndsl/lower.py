"""Syntax -> graph: resolve names, bind arguments, expand blocks and repeats.

One value flows from statement to statement. A statement that fails is
reported and its result becomes *poisoned* (``None``): later statements still
check their own arguments, but nothing that depends on the failed value raises
again, so one mistake gives one error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import syntax as syn
from .errors import CnnError, Collector, Diagnostic, Label, Span, did_you_mean, error
from .evaluate import UNKNOWN, Calls, Poisoned, Scope, evaluate, truth
from .functions import BUILTINS, VALUE_FUNCTIONS
from .graph import BlockInstance, Graph, Node, Value
from .layers import LAYERS, MERGES, ArgError, Input, Layer, format_shape
from .layers.args import REQUIRED, choice
from .loader import Program
from .passes.shapes import infer
from .values import Function, TensorRef, format_value

MAX_NODES = 1_000_000
MAX_STEPS = 2 * MAX_NODES  # statements lowered, counting every repetition: bounds the work of empty bodies
MAX_DEPTH = 64  # blocks, branches, repeats and `frozen` nested inside each other
CONSTRUCTS = ("concat", "add", "mul", "residual", "frozen")
START = object()  # the current value before a network's first input
ABSENT = object()  # a merge branch `if COND { … }` whose condition is false and that has no `else`


@dataclass(frozen=True)
class Env:
    """Where a statement is lowered: names, the block's input, the node-name scope."""

    variables: dict
    tensors: dict  # bound name -> node name (None when poisoned)
    block_input: object = START
    scope: tuple = ()
    frozen: bool = False
    stack: tuple = ()  # blocks being expanded, for the recursion check
    in_block: bool = False
    depth: int = 0  # nesting of blocks, branches and repeats, bounded by MAX_DEPTH

    def expressions(self, graph: Graph) -> Scope:
        shape = None
        if self.in_block and self.block_input not in (None, START):
            shape = graph[self.block_input].shape
        return Scope(self.variables, self.tensors, shape, self.in_block)


def lower(program: Program, network: str, overrides: dict | None = None) -> Graph:
    """Expand network `network` of `program` into a :class:`Graph` with shapes."""
    return _Lowering(program).network(program.networks[network], overrides or {})


class _Limit(CnnError):
    """A size limit was reached: stop lowering at once instead of collecting more errors."""


class _Lowering:
    def __init__(self, program: Program):
        self.program = program
        self.errors = Collector()
        self.counters: dict[tuple, int] = {}
        self.graph: Graph | None = None
        self.steps = 0
        self.block_sizes: dict[str, int] = {}
        self.names: dict | None = None  # file-level `fn`s and `let`s
        self.let_names: set[str] = set()

    # -- network ----------------------------------------------------------------------
    def network(self, definition: syn.Definition, overrides: dict) -> Graph:
        self.graph = Graph(definition.name)
        variables = self._network_parameters(definition, overrides)
        env = Env(variables, {})
        try:
            current = self.body(definition.body, START, env)
        except _Limit as exc:
            self.errors.add(exc)
            self.errors.raise_if_any()
        self._finish_outputs(definition, current, env)
        self.errors.raise_if_any()
        return self.graph

    def _network_parameters(self, definition, overrides: dict) -> dict:
        names = {p.name for p in definition.params}
        for name, (_, span) in overrides.items():
            if name not in names:
                self.errors.add(
                    error(
                        "E0230",
                        f"network `{definition.name}` has no parameter `{name}`",
                        span,
                        hint=did_you_mean(name, names) or f"parameters: {', '.join(names) or 'none'}",
                    )
                )
        variables = dict(self.file_names())
        for param in definition.params:
            if param.name in overrides:
                variables[param.name] = overrides[param.name][0]
            elif param.default is not None:
                value = self._try(lambda p=param: evaluate(p.default, Scope(variables, {})))
                variables[param.name] = UNKNOWN if value is None else value
            else:
                variables[param.name] = UNKNOWN  # reported here; later uses stay silent
                self.errors.add(
                    error(
                        "E0231",
                        f"network parameter `{param.name}` has no value",
                        param.span,
                        hint=f"give it a default or pass --set {param.name}=VALUE",
                    )
                )
        return variables

    def _finish_outputs(self, definition, current, env) -> None:
        graph = self.graph
        if not graph.inputs and not self.errors.diagnostics:
            raise error(
                "E0232",
                f"network `{definition.name}` has no input",
                definition.name_span,
                hint="declare one: `input image: [3, 224, 224]`",
            )
        if not graph.outputs and current not in (None, START):
            graph.outputs["output"] = current
            graph.values["output"] = Value("output", current, graph[current].span)

    # -- statements ---------------------------------------------------------------------
    def _poison(self, statement, env: Env) -> None:
        """A failed `name = …` still defines `name`, as poisoned, so its uses stay silent."""
        if type(statement) is syn.If:  # names bound in either body stay silent after a failed condition
            for inner in _bodies(statement):
                self._poison(inner, env)
            return
        name = getattr(statement, "name", None)
        if name is None or name in env.tensors or type(statement) in (syn.Input, syn.Let):
            return
        try:
            self._check_new_name(name, statement.name_span, env)
        except CnnError:
            return
        env.tensors[name] = None

    def body(self, statements, current, env: Env):
        for statement in statements:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _Limit(
                    Diagnostic(
                        "E0602",
                        f"the network expands to more than {MAX_STEPS:,} statements",
                        statement.span,
                        hint="reduce the repeat counts",
                    )
                )
            if type(statement) is syn.Let:
                env = self.let(statement, env)
                continue
            try:
                current = self.statement(statement, current, env)
            except _Limit:
                raise
            except CnnError as exc:
                self.errors.add(exc)
                self._poison(statement, env)
                current = None
            except Poisoned:
                self._poison(statement, env)
                current = None
        return current

    def statement(self, stmt, current, env: Env):
        kind = type(stmt)
        if kind is syn.Chain:
            return self.chain(stmt, current, env)
        if kind is syn.Bind:
            value = self.chain(stmt.chain, current, env)
            self.bind(stmt.name, stmt.name_span, value, env)
            return value
        if kind is syn.Input:
            return self.input(stmt, env)
        if kind is syn.Output:
            return self.output(stmt, current, env)
        if kind is syn.If:
            return self.if_statement(stmt, current, env)
        if kind is syn.Let:  # in a body, `let` is handled by `body`; here it stands as a merge branch
            raise error(
                "E0237", "a `let` cannot be a branch of a merge", stmt.span, hint="put the `let` before the merge"
            )
        raise AssertionError(stmt)

    def input(self, stmt: syn.Input, env: Env):
        if env.in_block:
            raise error(
                "E0224", "`input` is only allowed in a network", stmt.span, hint="a block receives its input as `in`"
            )
        shape = evaluate(stmt.shape, env.expressions(self.graph))
        dims = shape if isinstance(shape, list) else [shape]
        if len(dims) not in (1, 3) or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
            raise error(
                "E0301",
                "an input shape is [channels, height, width] or [features] of positive integers, "
                f"got {format_value(shape)}",
                stmt.shape.span,
            )
        self._check_new_name(stmt.name, stmt.name_span, env)
        if stmt.name in self.graph:
            raise error("E0233", f"`{stmt.name}` is already the name of a node", stmt.name_span)
        layer = Input({"shape": tuple(dims)})
        node = Node(stmt.name, layer, (), stmt.span, env.scope, shape=layer.output_shape([]))
        self.graph.add(node)
        self.graph.inputs.append(stmt.name)
        self.bind(stmt.name, stmt.name_span, stmt.name, env)
        return stmt.name

    def output(self, stmt: syn.Output, current, env: Env):
        if env.in_block:
            raise error(
                "E0224",
                "`output` is only allowed in a network",
                stmt.span,
                hint="bind the value to a name instead, or return it as the block's last value",
            )
        if stmt.name in self.graph.outputs:
            raise error("E0225", f"output `{stmt.name}` is declared twice", stmt.name_span)
        if stmt.chain is None:
            value = self._reference(stmt.name, stmt.name_span, env)
        else:
            value = self.chain(stmt.chain, current, env)
            self.bind(stmt.name, stmt.name_span, value, env)
        if value is not None:
            self.graph.outputs[stmt.name] = value
            self.graph.values[stmt.name] = Value(stmt.name, value, stmt.name_span)
        return value

    def bind(self, name: str, span: Span, value, env: Env) -> None:
        self._check_new_name(name, span, env)
        env.tensors[name] = value
        if value is not None:
            key = "/".join((*env.scope, name))
            self.graph.values[key] = Value(key, value, span)

    def _check_new_name(self, name: str, span: Span, env: Env) -> None:
        if name in LAYERS or name in CONSTRUCTS or name in self.program.blocks:
            what = "block" if name in self.program.blocks else "layer"
            raise error(
                "E0221",
                f"the name `{name}` shadows the {what} `{name}`",
                span,
                hint="choose another name; a bound name may not hide a layer or block",
            )
        if name in env.variables:
            what = self._variable_kind(name, env)
            raise error("E0221", f"the name `{name}` shadows the {what} `{name}`", span, hint="choose another name")

    def _reference(self, name: str, span: Span, env: Env):
        if name in env.tensors:
            return env.tensors[name]
        names = list(env.tensors)
        raise error("E0220", f"`{name}` is not defined", span, hint=did_you_mean(name, names))

    # -- chains and terms ---------------------------------------------------------------
    def chain(self, chain: syn.Chain, current, env: Env):
        terms = chain.terms
        first = terms[0]
        if type(first) is syn.Call and first.name in env.tensors and not first.has_parens and first.body is None:
            current, terms = env.tensors[first.name], terms[1:]
        for term in terms:
            current = self.term(term, current, env)
        return current

    def term(self, term, current, env: Env):
        kind = type(term)
        if kind is syn.BlockInput:
            if not env.in_block:
                raise error("E0308", "`in` is only defined inside a block", term.span)
            return env.block_input
        if kind is syn.Repeat:
            return self.repeat(term, current, env)
        name = term.name
        if name in env.tensors:
            raise error(
                "E0234",
                f"`{name}` is a value; a chain can only start from it",
                term.name_span,
                hint=f"start a new statement: `{name} -> …`",
            )
        if name in MERGES and term.body is not None:
            return self.merge(term, current, env)
        if name == "residual":
            return self.residual(term, current, env)
        if name == "frozen":
            self._no_args(term)
            return self.body(self._need_body(term), current, replace(self._deeper(env, term), frozen=True))
        if name in self.program.blocks:
            return self.block_call(term, current, env)
        if name in LAYERS:
            return self.layer(term, current, env)
        raise self._unknown(term, env)

    def _unknown(self, term: syn.Call, env: Env) -> CnnError:
        if term.name in self.program.networks:
            return error(
                "E0226",
                f"`{term.name}` is a network; only blocks can be called",
                term.name_span,
                hint=f"declare it as `block {term.name}` to reuse it",
            )
        value = did_you_mean(term.name, env.tensors)
        if value and not term.has_parens and term.body is None:
            return error("E0220", f"`{term.name}` is not defined", term.name_span, hint=value)
        known = [*LAYERS, *CONSTRUCTS, *self.program.blocks, *env.tensors]
        hint = did_you_mean(term.name, known)
        if not hint and term.name in ("input", "output"):
            hint = f"`{term.name}` starts a statement of its own"
        return error("E0210", f"unknown layer or block `{term.name}`", term.name_span, hint=hint)

    def _need_input(self, current, term):
        if current is START:
            raise error(
                "E0223",
                f"`{term.name}` has no input value yet",
                term.name_span,
                hint="declare the network's input first: `input image: [3, 224, 224]`",
            )
        return current

    def _need_body(self, term: syn.Call):
        if term.body is None:
            raise error("E0217", f"`{term.name}` needs a body in braces: `{term.name} {{ … }}`", term.span)
        return term.body

    def _no_args(self, term: syn.Call):
        if term.args:
            raise error("E0214", f"`{term.name}` takes no arguments", term.args[0].span)

    # -- layers ---------------------------------------------------------------------------
    def layer(self, term: syn.Call, current, env: Env, cls=None):
        cls = cls or LAYERS[term.name]
        if term.body is not None:
            raise error("E0216", f"`{term.name}` takes no body", term.span)
        layer = self.bind_args(cls, term, env)
        if cls.arity is None:
            raise error("E0217", f"`{term.name}` merges branches: write `{term.name} {{ branch; branch }}`", term.span)
        current = self._need_input(current, term)
        extra = [value.node for value in layer.attrs.values() if type(value) is TensorRef]
        return self.add_node(term.name, layer, [current, *extra], term.span, env)

    def add_node(self, base: str, layer: Layer, inputs: list, span: Span, env: Env, input_spans=None, scope=None):
        if any(i is None for i in inputs):
            return None
        graph = self.graph
        if len(graph) >= MAX_NODES:
            raise _Limit(
                Diagnostic(
                    "E0602",
                    f"the network expands to more than {MAX_NODES:,} nodes",
                    span,
                    hint="reduce the repeat counts",
                )
            )
        scope = env.scope if scope is None else scope
        name = self._fresh_name(scope, base)
        shape = infer(layer, [graph[i].shape for i in inputs], span, input_spans)
        graph.add(Node(name, layer, tuple(inputs), span, scope, env.frozen, shape=shape))
        return name

    def _fresh_name(self, scope: tuple, base: str) -> str:
        while True:
            count = self.counters.get((scope, base), 0) + 1
            self.counters[(scope, base)] = count
            name = "/".join((*scope, f"{base}{count}"))
            if name not in self.graph:
                return name

    def bind_args(self, cls, term: syn.Call, env: Env) -> Layer:
        """Match a call's arguments to the layer's spec and convert them."""
        spec = {a.name: a for a in cls.arguments}
        errors, attrs, given = Collector(), {}, {}
        scope = env.expressions(self.graph)
        for position, arg in enumerate(term.args):
            try:
                if arg.name in cls.tensor_args:
                    attrs[arg.name] = self._tensor_argument(term, arg, env, given)
                    continue
                target = self._arg_target(cls, term, arg, position, spec, given)
                given[target.name] = arg
                attrs[target.key] = self._convert(cls, target, evaluate(arg.value, scope), arg)
            except CnnError as exc:
                errors.add(exc)
        unmatched = _unmatched(errors)
        for target in cls.arguments:
            if target.name not in given:
                if target.default is REQUIRED:
                    if not unmatched:  # a misspelt or misplaced argument is the likely cause
                        errors.add(self._missing(cls, target, term))
                else:
                    attrs[target.key] = _default(cls, target)
        errors.raise_if_any()
        layer = cls(attrs)
        self._check_layer(layer, term, given)
        return layer

    def _arg_target(self, cls, term, arg, position, spec, given):
        if arg.name is None:
            if any(a.name is not None for a in term.args[:position]):
                raise error("E0215", "a positional argument follows a keyword argument", arg.span)
            if position >= len(cls.arguments):
                most = len(cls.arguments)
                raise error(
                    "E0214",
                    f"`{term.name}` takes {'at most ' + _count(most, 'argument') if most else 'no arguments'}, "
                    f"got {len(term.args)}",
                    arg.span,
                    hint=_signature(cls, term.name),
                )
            return cls.arguments[position]
        if arg.name not in spec:
            hint = did_you_mean(arg.name, spec) or _signature(cls, term.name)
            raise error("E0211", f"`{term.name}` has no argument `{arg.name}`", arg.span, hint=hint)
        if arg.name in given:
            raise error(
                "E0213",
                f"argument `{arg.name}` is given twice",
                arg.span,
                notes=[Label(given[arg.name].span, "first given here")],
            )
        return spec[arg.name]

    @staticmethod
    def _convert(cls, target, value, arg):
        try:
            return target.convert(value)
        except ArgError as exc:
            raise error(
                exc.code, f"`{cls.kind}` argument `{target.name}`: {exc.message}", arg.value.span, hint=exc.hint
            ) from None

    @staticmethod
    def _missing(cls, target, term):
        return error(
            "E0212",
            f"`{term.name}` is missing its argument `{target.name}`",
            term.span,
            hint=_signature(cls, term.name),
        )

    @staticmethod
    def _check_layer(layer, term, given) -> None:
        check = getattr(layer, "check", None)
        if check is None:
            return
        try:
            check()
        except ArgError as exc:
            arg = given.get(getattr(exc, "arg", ""))
            span = arg.value.span if arg else term.span
            raise error(exc.code, f"`{term.name}`: {exc.message}", span, hint=exc.hint) from None

    # -- merges, residuals, blocks, repeats ---------------------------------------------------------
    def merge(self, term: syn.Call, current, env: Env):
        self._no_args(term)
        current = self._need_input(current, term)
        outputs, spans = [], []
        inner = self._deeper(env, term)
        for stmt in term.body:
            self.steps += 1
            try:
                if type(stmt) is syn.If:
                    output = self.if_statement(stmt, current, inner, branch=True)
                    if output is ABSENT:
                        continue
                    outputs.append(output)
                else:
                    outputs.append(self.statement(stmt, current, inner))
            except _Limit:
                raise
            except CnnError as exc:
                self.errors.add(exc)
                self._poison(stmt, env)
                outputs.append(None)
            except Poisoned:
                self._poison(stmt, env)
                outputs.append(None)
            spans.append(stmt.span)
        if len(term.body) < 2:
            raise error(
                "E0218",
                f"`{term.name}` needs at least two branches, got {len(term.body)}",
                term.span,
                hint="write one branch per line inside the braces",
            )
        if len(outputs) < 2:
            return self._conditional_merge(term, outputs)
        return self.add_node(term.name, LAYERS[term.name]({}), outputs, term.span, env, spans)

    def residual(self, term: syn.Call, current, env: Env):
        current = self._need_input(current, term)
        body = self._need_body(term)
        shortcut = self._residual_shortcut(term, env)
        out = self.body(body, current, self._deeper(env, term))
        if out is None or current is None:
            return None
        short, short_span = current, term.span
        if shortcut == "project":
            short = self._projection(term, current, out, env)
        body_span = (
            Span(
                term.span.file, body[0].span.line, body[0].span.column, body[-1].span.end_line, body[-1].span.end_column
            )
            if body
            else term.span
        )
        try:
            return self.add_node("residual", LAYERS["add"]({}), [out, short], term.span, env, [body_span, short_span])
        except _Limit:
            raise
        except CnnError as exc:
            for d in exc.diagnostics:
                d.notes = [Label(n.span, n.message.replace("this one", "the shortcut")) for n in d.notes]
            raise

    def _residual_shortcut(self, term, env) -> str:
        convert = choice("identity", "project")
        shortcut = "identity"
        for position, arg in enumerate(term.args):
            if arg.name not in (None, "shortcut") or position > 0:
                raise error(
                    "E0211",
                    f"`residual` has no argument `{arg.name or position + 1}`",
                    arg.span,
                    hint="residual takes one argument: shortcut=identity or shortcut=project",
                )
            try:
                shortcut = convert(evaluate(arg.value, env.expressions(self.graph)))
            except ArgError as exc:
                raise error(
                    exc.code, f"`residual` argument `shortcut`: {exc.message}", arg.value.span, hint=exc.hint
                ) from None
        return shortcut

    def _projection(self, term, current, out, env):
        """`shortcut=project`: conv 1x1 with the stride that matches the body, then bn."""
        source, target = self.graph[current].shape, self.graph[out].shape
        if len(source) != 4 or len(target) != 4:
            raise error("E0402", "a projection shortcut needs images on both sides", term.span)
        strides = []
        for a, b in zip(source[2:], target[2:]):
            stride = -(-a // b)
            if (a - 1) // stride + 1 != b:
                raise error(
                    "E0403",
                    f"no 1x1 stride maps {format_shape(source)} to {format_shape(target)}",
                    term.span,
                    hint="the body must keep or divide the spatial size",
                )
            strides.append(stride)
        conv = LAYERS["conv"](
            _default_attrs(LAYERS["conv"], out=target[1], kernel_shape=(1, 1), strides=tuple(strides), bias=False)
        )
        name = self.add_node("shortcut_conv", conv, [current], term.span, env)
        return self.add_node("shortcut_bn", LAYERS["bn"](_default_attrs(LAYERS["bn"])), [name], term.span, env)

    def block_call(self, term: syn.Call, current, env: Env):
        definition = self.program.blocks[term.name]
        if term.name in env.stack:
            through = env.stack[env.stack.index(term.name) + 1 :]
            via = f" through {', '.join(f'`{b}`' for b in through)}" if through else ""
            raise error(
                "E0222",
                f"block `{term.name}` calls itself{via}",
                term.name_span,
                notes=[Label(definition.name_span, "defined here")],
                hint="blocks are expanded at compile time; use `repeat` for repetition",
            )
        self._deeper(env, term)
        if len(self.graph) + self._block_nodes(term.name, ()) > MAX_NODES:
            raise error(
                "E0604",
                f"block `{term.name}` would expand the network past the limit of {MAX_NODES:,} nodes",
                term.name_span,
                hint="its blocks call each other so often that the expansion is too large",
            )
        if term.body is not None:
            raise error("E0216", f"block `{term.name}` takes no body", term.span)
        current = self._need_input(current, term)
        variables, tensors = self._block_arguments(definition, term, env)
        count = self.counters.get((env.scope, term.name), 0) + 1
        self.counters[(env.scope, term.name)] = count
        path = (*env.scope, f"{term.name}{count}")
        self.graph.blocks[path] = BlockInstance(path, term.name, term.span)
        inner = Env(variables, tensors, current, path, env.frozen, (*env.stack, term.name), True, env.depth + 1)
        return self.body(definition.body, current, inner)

    def _block_arguments(self, definition: syn.Definition, term: syn.Call, env: Env) -> tuple[dict, dict]:
        """(numbers and symbols, tensors) bound to the block's parameters."""
        params = {p.name: p for p in definition.params}
        tensors: dict = {}
        order = [p.name for p in definition.params]
        scope, values, errors = env.expressions(self.graph), dict(self.file_names()), Collector()
        named = set()
        for position, arg in enumerate(term.args):
            try:
                name = self._block_arg_name(definition, term, arg, position, order, params, named)
                named.add(name)
                if type(arg.value) is syn.Name and arg.value.name in env.tensors:
                    tensors[name] = env.tensors[arg.value.name]  # a tensor argument: a second input
                else:
                    values[name] = evaluate(arg.value, scope)
            except CnnError as exc:
                errors.add(exc)
        unmatched = _unmatched(errors)
        for param in definition.params:
            if param.name in named:
                continue
            if param.default is None:
                if unmatched:
                    continue  # a misspelt or misplaced argument is the likely cause
                errors.add(
                    error(
                        "E0212",
                        f"block `{definition.name}` is missing its argument `{param.name}`",
                        term.span,
                        notes=[Label(param.span, "declared here")],
                    )
                )
            else:
                values[param.name] = self._try(lambda p=param: evaluate(p.default, Scope(dict(values), {})), errors)
        errors.raise_if_any()
        return values, tensors

    def _block_arg_name(self, definition, term, arg, position, order, params, values) -> str:
        if arg.name is None:
            if any(a.name is not None for a in term.args[:position]):
                raise error("E0215", "a positional argument follows a keyword argument", arg.span)
            if position >= len(order):
                raise error(
                    "E0214",
                    f"block `{definition.name}` takes {len(order)} arguments, got {len(term.args)}",
                    arg.span,
                    notes=[Label(definition.name_span, "defined here")],
                )
            return order[position]
        if arg.name not in params:
            raise error(
                "E0211",
                f"block `{definition.name}` has no parameter `{arg.name}`",
                arg.span,
                hint=did_you_mean(arg.name, order) or f"parameters: {', '.join(order)}",
                notes=[Label(definition.name_span, "defined here")],
            )
        if arg.name in values:
            raise error("E0213", f"argument `{arg.name}` is given twice", arg.span)
        return arg.name

    def repeat(self, term: syn.Repeat, current, env: Env):
        count = evaluate(term.count, env.expressions(self.graph))
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise error("E0301", f"`repeat` needs a count of zero or more, got {count}", term.count.span)
        if term.var is not None and (term.var in env.variables or term.var in env.tensors):
            raise error("E0221", f"the loop variable `{term.var}` shadows an existing name", term.span)
        inner = self._deeper(env, term)
        self._check_size(term, count, {k: v for k, v in env.variables.items() if k != term.var})
        errors_before = len(self.errors.diagnostics)
        for i in range(count):
            nodes, steps = len(self.graph), self.steps
            variables = {**env.variables, term.var: i} if term.var else env.variables
            current = self.body(term.body, current, replace(inner, variables=variables))
            if len(self.errors.diagnostics) > errors_before:
                return None  # the body is wrong: its other repetitions would only repeat the errors
            if i == 0:
                self._check_growth(term, count, len(self.graph) - nodes, self.steps - steps)
        return current

    def _check_growth(self, term: syn.Repeat, count: int, nodes: int, steps: int) -> None:
        """After the first repetition, the real size of one: refuse what cannot fit."""
        if len(self.graph) + nodes * (count - 1) > MAX_NODES:
            raise error(
                "E0604",
                f"`repeat {count:,}` would expand the network past the limit of {MAX_NODES:,} nodes",
                term.count.span,
                hint=f"its body makes {_count(nodes, 'node')} each time; reduce the repeat counts",
            )
        if self.steps + steps * (count - 1) > MAX_STEPS:
            raise error(
                "E0602",
                f"`repeat {count:,}` would lower more than {MAX_STEPS:,} statements",
                term.count.span,
                hint=f"its body runs {_count(steps, 'statement')} each time; reduce the repeat counts",
            )

    def _deeper(self, env: Env, term) -> Env:
        """`env` one level of nesting deeper; an error past MAX_DEPTH (before Python's own limit)."""
        if env.depth >= MAX_DEPTH:
            raise _Limit(
                Diagnostic(
                    "E0603",
                    f"blocks, branches and repeats nested more than {MAX_DEPTH} deep",
                    term.span,
                    hint="flatten the structure; nesting this deep is almost certainly unintended",
                )
            )
        return replace(env, depth=env.depth + 1)

    # -- size limit, checked before a repeat expands ------------------------------------------
    def _check_size(self, term: syn.Repeat, count: int, variables: dict) -> None:
        """Refuse a `repeat` whose expansion must pass MAX_NODES, before building any of it."""
        body = max(1, self._least_nodes(term.body, variables, ()))
        total = count * body
        if len(self.graph) + total > MAX_NODES:
            size = f"more than {MAX_NODES:,} nodes" if body > MAX_NODES else f"at least {_count(body, 'node')}"
            raise error(
                "E0604",
                f"`repeat {count:,}` would expand the network past the limit of {MAX_NODES:,} nodes",
                term.count.span,
                hint=f"its body makes {size} each time; reduce the repeat counts",
            )

    def _least_nodes(self, statements, variables: dict, blocks: tuple) -> int:
        """A lower bound on the nodes `statements` create, read from the syntax alone.

        Counts whose value is not known yet (a block parameter) count as zero, so the
        bound never refuses a program that fits; it saturates just above MAX_NODES.
        """
        total = 0
        for stmt in statements:
            kind = type(stmt)
            chain = stmt if kind is syn.Chain else getattr(stmt, "chain", None)
            nodes = 1 if kind is syn.Input else 0
            if chain is not None:
                for term in chain.terms:
                    nodes += self._term_nodes(term, variables, blocks)
            total += max(kind not in (syn.Let, syn.If), nodes)  # an `if` may make nothing
            if total > MAX_NODES:
                return MAX_NODES + 1
        return total

    def _term_nodes(self, term, variables: dict, blocks: tuple) -> int:
        kind = type(term)
        if kind is syn.Repeat:
            count = _known_count(term.count, variables)
            inner = {k: v for k, v in variables.items() if k != term.var}
            return min(MAX_NODES + 1, count * self._least_nodes(term.body, inner, blocks)) if count else 0
        if kind is not syn.Call:
            return 0
        name = term.name
        if term.body is not None and name in (*MERGES, "residual", "frozen"):
            return self._least_nodes(term.body, variables, blocks) + (name != "frozen")
        if name in self.program.blocks:
            return self._block_nodes(name, blocks)
        return 1 if name in LAYERS else 0

    def _block_nodes(self, name: str, blocks: tuple) -> int:
        if name in blocks:
            return 0  # recursion: reported when the block is expanded
        if name not in self.block_sizes:
            body = self.program.blocks[name].body
            self.block_sizes[name] = self._least_nodes(body, {}, (*blocks, name))
        return self.block_sizes[name]

    # -- Part 2: file-level names, `let`, `if`, tensor arguments (see docs/language.md) --------------
    def file_names(self) -> dict:
        """File-level `fn`s and `let`s, shared by every body; a `let` sees those before it."""
        if self.names is None:
            names, calls = {}, Calls()
            self.names = names
            for definition in self.program.functions.values():
                names[definition.name] = Function(definition, names, calls)
            for stmt in self.program.constants.values():
                names[stmt.name] = self._let_value(stmt, Env(names, {}))
        return self.names

    def let(self, stmt: syn.Let, env: Env) -> Env:
        """`let NAME = EXPR` in a body: NAME is bound for the rest of that body only."""
        variables = dict(env.variables)
        try:
            self._check_new_name(stmt.name, stmt.name_span, env)
        except CnnError as exc:
            self.errors.add(exc)
            return env
        self.let_names.add(stmt.name)
        variables[stmt.name] = self._let_value(stmt, env)
        return replace(env, variables=variables)

    def _let_value(self, stmt: syn.Let, env: Env):
        """The value of a `let`: a number, list or symbol; UNKNOWN after a reported error."""
        try:
            if stmt.name in LAYERS or stmt.name in CONSTRUCTS or stmt.name in self.program.blocks:
                self._check_new_name(stmt.name, stmt.name_span, env)
            tensor = self._tensor_expression(stmt.value, env)
            if tensor:
                raise error(
                    "E0235",
                    f"`let` binds a number, list or symbol, not a tensor: {tensor}",
                    stmt.value.span,
                    hint=f"bind a tensor without `let`: `{stmt.name} = …`",
                )
            return evaluate(stmt.value, env.expressions(self.graph))
        except CnnError as exc:
            self.errors.add(exc)
        except Poisoned:
            pass
        return UNKNOWN

    def _tensor_expression(self, expr, env: Env) -> str:
        """Why `expr` denotes a tensor (a bound name, `in`, a layer or block call), or ''."""
        kind = type(expr)
        if kind is syn.Name and expr.name in env.tensors:
            return f"`{expr.name}` is a tensor"
        if kind is syn.BlockInputRef:
            return "`in` is the block's input tensor"
        if kind is not syn.FunCall or expr.name in BUILTINS or expr.name in VALUE_FUNCTIONS:
            return ""
        layer = expr.name in LAYERS or expr.name in CONSTRUCTS or expr.name in self.program.blocks
        if layer and type(env.variables.get(expr.name)) is not Function:
            return f"`{expr.name}(…)` is a layer or block call"
        return ""

    def if_statement(self, stmt: syn.If, current, env: Env, branch: bool = False):
        """The chosen body's value; with no body chosen, `current` (or ABSENT as a merge branch)."""
        scope = env.expressions(self.graph)
        while not truth(evaluate(stmt.condition, scope), stmt.condition, "the condition of `if`"):
            if type(stmt.orelse) is syn.If:
                stmt = stmt.orelse
                continue
            if stmt.orelse is None:
                return ABSENT if branch else current
            return self.body(stmt.orelse, current, self._deeper(env, stmt))
        return self.body(stmt.body, current, self._deeper(env, stmt))

    def _conditional_merge(self, term: syn.Call, outputs: list):
        """A merge left with one branch by false conditions is that branch; with none, an error."""
        if outputs:
            return outputs[0]
        raise error(
            "E0218",
            f"`{term.name}` has no branch left: every branch is an `if` whose condition is false",
            term.span,
            hint="give one of them an `else`, or keep one branch unconditional",
        )

    def _tensor_argument(self, term: syn.Call, arg: syn.Arg, env: Env, given: dict) -> TensorRef:
        """`like=NAME`: a bound tensor, an input's name, or `in` in a block; passed as an extra input."""
        if arg.name in given:
            raise error("E0213", f"argument `{arg.name}` is given twice", arg.span)
        given[arg.name] = arg
        expr = arg.value
        if type(expr) is syn.BlockInputRef and env.in_block:
            return TensorRef("in", env.block_input)
        if type(expr) is syn.Name and expr.name in env.tensors:
            return TensorRef(expr.name, env.tensors[expr.name])
        written = f"`{expr.name}`" if type(expr) is syn.Name else "this"
        hint = did_you_mean(getattr(expr, "name", ""), env.tensors) if type(expr) is syn.Name else ""
        raise error(
            "E0236",
            f"`{term.name}` argument `{arg.name}` must name a tensor; {written} is not one",
            expr.span,
            hint=hint or "name a bound value (`skip = …`), a network input, or `in` inside a block",
        )

    def _variable_kind(self, name: str, env: Env) -> str:
        if type(env.variables[name]) is Function:
            return "function"
        return "constant" if name in self.program.constants or name in self.let_names else "parameter"

    def _try(self, thunk, errors=None):
        try:
            return thunk()
        except _Limit:
            raise
        except CnnError as exc:
            (errors or self.errors).add(exc)
            return None
        except Poisoned:  # depends on a value already reported
            return None


def _bodies(stmt: syn.If):
    """The statements of every body of an `if … else if … else`."""
    while type(stmt) is syn.If:
        yield from stmt.body
        stmt = stmt.orelse
    yield from stmt or ()


def _unmatched(errors: Collector) -> bool:
    """Whether some argument could not be matched to a parameter (misspelt, misplaced, extra)."""
    return any(d.code in ("E0211", "E0214", "E0215") for d in errors.diagnostics)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _known_count(expr, variables: dict) -> int:
    """The value of a repeat count if it is known from `variables` alone, else 0."""
    try:
        value = evaluate(expr, Scope(variables, {}))
    except (CnnError, Poisoned):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _signature(cls, name: str) -> str:
    parts = [a.name if a.default is REQUIRED else f"{a.name}=…" for a in cls.arguments]
    return f"`{name}({', '.join(parts)})`" if parts else f"`{name}` takes no arguments"


_DEFAULTS: dict[tuple, object] = {}


def _default(cls, target):
    """The converted default of an argument (converted once per layer kind)."""
    key = (cls, target.name)
    if key not in _DEFAULTS:
        _DEFAULTS[key] = None if target.default is None else target.convert(target.default)
    return _DEFAULTS[key]


def _default_attrs(cls, **attrs) -> dict:
    out = {a.key: _default(cls, a) for a in cls.arguments if a.default is not REQUIRED}
    out.update(attrs)
    return out
