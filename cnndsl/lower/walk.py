"""The walk: statements, chains and terms lowered in order into the graph.

One value flows from statement to statement. A statement that fails is
reported and its result becomes *poisoned* (``None``): later statements still
check their own arguments, but nothing that depends on the failed value raises
again, so one mistake gives one error (:meth:`Walk.guarded`, the one place
that turns an error into a poisoned value).
"""

from __future__ import annotations

from .. import syntax as syn
from ..assertions import pending_assertion
from ..errors import CnnError, Collector, Span, did_you_mean, error
from ..evaluate import UNKNOWN, Poisoned, Scope, evaluate
from ..graph import Graph, Node, Value
from ..layers import LAYERS, Input, Layer
from ..loader import Program
from ..passes.shapes import infer
from ..values import TensorRef, format_value
from . import limits
from .binder import bind_layer
from .env import CONSTRUCTS, START, Env, check_new_name, poison, reference
from .sizevars import MAX_SIZE_VALUE, size_variables, unset


class Walk:
    """The state of one lowering: the graph so far, the errors, the counters."""

    def __init__(self, program: Program):
        self.program = program
        self.errors = Collector()
        self.counters: dict[tuple, int] = {}
        self.templates: dict[tuple, object] = {}  # block calls expanded once, copied after (instances.py)
        self.graph: Graph | None = None
        self.steps = 0
        self.estimate = limits.Estimate(program.blocks)
        self.size_vars: dict = {}  # `input x: [3, H, W]`: the size variables, and their values
        self.sizes: dict = {}

    # -- statements ---------------------------------------------------------------------
    def body(self, statements, current, env: Env):
        self.estimate.check_body(statements, env.variables, len(self.graph))
        for statement in statements:
            self.steps += 1
            if self.steps > limits.MAX_STEPS:
                raise limits.too_many_steps(statement)
            if type(statement) is syn.Let:  # bound for the rest of this body (lower/conditions.py)
                env = self.let(statement, env)
                continue
            if type(statement) is syn.Assert:  # checked after the passes (cnndsl/assertions.py)
                self.graph.assertions.append(pending_assertion(statement, env))
                continue
            current = self.guarded(statement, env, lambda s=statement, c=current, e=env: self.statement(s, c, e))
        return current

    def guarded(self, statement, env: Env, lower):
        """`lower()`, or None (poisoned) when it fails: the error is recorded, a bound name poisoned."""
        try:
            return lower()
        except limits.Limit:
            raise
        except CnnError as exc:
            self.errors.add(exc)
        except Poisoned:  # depends on a value already reported
            pass
        poison(statement, env, self.program.blocks)
        return None

    def attempt(self, thunk, errors: Collector | None = None):
        """`thunk()`, or None when it fails (recorded in `errors`); for values that bind no name."""
        try:
            return thunk()
        except limits.Limit:
            raise
        except CnnError as exc:
            (errors or self.errors).add(exc)
        except Poisoned:
            pass
        return None

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
        raise AssertionError(stmt)

    def input(self, stmt: syn.Input, env: Env):
        if env.in_block:
            raise error(
                "E0224", "`input` is only allowed in a network", stmt.span, hint="a block receives its input as `in`"
            )
        shape = evaluate(stmt.shape, self._input_scope(stmt, env))
        dims = shape if isinstance(shape, list) else [shape]
        if len(dims) not in (1, 3) or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
            raise error(
                "E0301",
                "an input shape is [channels, height, width] or [features] of positive integers, "
                f"got {format_value(shape)}",
                stmt.shape.span,
            )
        check_new_name(stmt.name, stmt.name_span, env, self.program.blocks)
        if stmt.name in self.graph:
            raise error("E0233", f"`{stmt.name}` is already the name of a node", stmt.name_span)
        layer = Input({"shape": tuple(dims)})
        node = Node(stmt.name, layer, (), stmt.span, env.scope, shape=layer.output_shape([]))
        self.graph.add(node)
        self.graph.inputs.append(stmt.name)
        self.bind(stmt.name, stmt.name_span, stmt.name, env)
        return stmt.name

    def _input_scope(self, stmt: syn.Input, env: Env) -> Scope:
        """The scope of an input's shape: the network's names and the values of its size variables."""
        scope = env.expressions(self.graph)
        if self.size_vars is None:
            raise Poisoned()
        for variable in self.size_vars.values():
            if variable.name not in self.sizes and any(place[0] == stmt.name for place in variable.places):
                raise unset(variable)
            if variable.name in self.sizes and self.sizes[variable.name] is None:
                raise Poisoned()
        return Scope({**scope.variables, **self.sizes}, scope.tensors) if self.sizes else scope

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
            value = reference(stmt.name, stmt.name_span, env)
        else:
            value = self.chain(stmt.chain, current, env)
            self.bind(stmt.name, stmt.name_span, value, env)
        if value is not None:
            self.graph.outputs[stmt.name] = value
            self.graph.values[stmt.name] = Value(stmt.name, value, stmt.name_span)
        return value

    def bind(self, name: str, span: Span, value, env: Env) -> None:
        check_new_name(name, span, env, self.program.blocks)
        env.tensors[name] = value
        if value is not None:
            key = "/".join((*env.scope, name))
            self.graph.values[key] = Value(key, value, span)

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
        cls = LAYERS.get(name)
        if cls is not None and cls.is_merge() and term.body is not None:
            return self.merge(term, cls, current, env)
        if name in CONSTRUCTS:
            return getattr(self, name)(term, current, env)  # residual, frozen
        if name in self.program.blocks:
            return self.block_call(term, current, env)
        if cls is not None:
            return self.layer(term, cls, current, env)
        raise self.unknown(term, env)

    def unknown(self, term: syn.Call, env: Env) -> CnnError:
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

    def need_input(self, current, term):
        if current is START:
            raise error(
                "E0223",
                f"`{term.name}` has no input value yet",
                term.name_span,
                hint="declare the network's input first: `input image: [3, 224, 224]`",
            )
        return current

    # -- layers ---------------------------------------------------------------------------
    def layer(self, term: syn.Call, cls: type[Layer], current, env: Env):
        if term.body is not None:
            raise error("E0216", f"`{term.name}` takes no body", term.span)
        resolve = lambda arg: self.tensor_argument(term, arg, env)  # noqa: E731 - `like=NAME`
        layer = bind_layer(cls, term, env.expressions(self.graph), resolve)
        if cls.is_merge():
            raise error("E0217", f"`{term.name}` merges branches: write `{term.name} {{ branch; branch }}`", term.span)
        current = self.need_input(current, term)
        extra = [value.node for value in layer.attrs.values() if type(value) is TensorRef]
        return self.add_node(term.name, layer, [current, *extra], term.span, env)

    def add_node(self, base: str, layer: Layer, inputs: list, span: Span, env: Env, input_spans=None):
        if any(i is None for i in inputs):
            return None
        graph = self.graph
        if len(graph) >= limits.MAX_NODES:
            raise limits.too_many_nodes(span)
        name = self._fresh_name(env.scope, base)
        shape = infer(layer, [graph[i].shape for i in inputs], span, input_spans)
        graph.add(Node(name, layer, tuple(inputs), span, env.scope, env.frozen, shape=shape))
        return name

    def _fresh_name(self, scope: tuple, base: str) -> str:
        while True:
            count = self.counters.get((scope, base), 0) + 1
            self.counters[(scope, base)] = count
            name = "/".join((*scope, f"{base}{count}"))
            if name not in self.graph:
                return name

    # -- the network ----------------------------------------------------------------------
    def network(self, definition: syn.Definition, overrides: dict) -> Graph:
        self.graph = Graph(definition.name)
        variables = self._network_parameters(definition, self._size_values(definition, overrides))
        env = Env(variables, {})
        current = START
        try:
            current = self.body(definition.body, START, env)
        except CnnError as exc:  # a limit: nothing more is lowered
            self.errors.add(exc)
            self.errors.raise_if_any()
        self._finish_outputs(definition, current)
        self.errors.raise_if_any()
        return self.graph

    def _finish_outputs(self, definition, current) -> None:
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

    def _size_values(self, definition, overrides: dict) -> dict:
        """Take the values of the size variables (`--set H=224`) out of `overrides`; return the rest."""
        names = {p.name for p in definition.params} | set(self.file_names()) | set(self.program.blocks)
        self.size_vars = self.attempt(lambda: size_variables(definition, names))  # None: reported (E1301)
        rest = {}
        for name, (value, span) in overrides.items():
            if name not in (self.size_vars or ()):
                rest[name] = (value, span)
            elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE_VALUE:
                message = f"the size `{name}` must be a whole number from 1 to {MAX_SIZE_VALUE:,}"
                self.errors.add(error("E1302", f"{message}, got {format_value(value)}", span))
                self.sizes[name] = None  # reported: the input is poisoned, so nothing fails again
            else:
                self.sizes[name] = value
        return rest

    def _network_parameters(self, definition, overrides: dict) -> dict:
        names = {p.name for p in definition.params}
        for name, (_, span) in overrides.items():
            if name not in names:
                hint = did_you_mean(name, names) or f"parameters: {', '.join(names) or 'none'}"
                self.errors.add(
                    error("E0230", f"network `{definition.name}` has no parameter `{name}`", span, hint=hint)
                )
        variables = dict(self.file_names())  # file-level `let`s and `fn`s
        for param in definition.params:
            if param.name in overrides:
                variables[param.name] = overrides[param.name][0]
            elif param.default is not None:
                value = self.attempt(lambda p=param: evaluate(p.default, Scope(variables, {})))
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
