"""Constructs with bodies: merges, `residual`, `frozen`, block calls and `repeat`."""

from __future__ import annotations

from dataclasses import replace

from .. import syntax as syn
from ..errors import CnnError, Label, Span, error
from ..evaluate import evaluate
from ..graph import BlockInstance
from ..layers import LAYERS, ArgError, format_shape
from ..layers.args import choice
from . import limits
from .binder import bind_block
from .conditions import ABSENT, Conditions
from .env import Env, evolve
from .instances import Mark, call_key, capture, copy


class Lowering(Conditions):
    """The walk plus the constructs that hold bodies of statements."""

    def merge(self, term: syn.Call, cls, current, env: Env):
        _no_args(term)
        current = self.need_input(current, term)
        outputs, spans = [], []
        inner = limits.deeper(env, term)
        self.estimate.check_body(term.body, env.variables, len(self.graph))
        for stmt in term.body:
            self.steps += 1
            output = self.guarded(stmt, env, lambda s=stmt: self.branch(s, current, inner))
            if output is not ABSENT:  # an `if` branch that chose no body
                outputs.append(output)
                spans.append(stmt.span)
        if len(term.body) < 2:
            raise error(
                "E0218",
                f"`{term.name}` needs at least two branches, got {len(term.body)}",
                term.span,
                hint="write one branch per line inside the braces",
            )
        if len(outputs) < 2:
            return self.conditional_merge(term, outputs)
        return self.add_node(term.name, cls.create(), outputs, term.span, env, spans)

    def frozen(self, term: syn.Call, current, env: Env):
        _no_args(term)
        return self.body(_need_body(term), current, replace(limits.deeper(env, term), frozen=True))

    def residual(self, term: syn.Call, current, env: Env):
        current = self.need_input(current, term)
        body = _need_body(term)
        shortcut = self._residual_shortcut(term, env)
        out = self.body(body, current, limits.deeper(env, term))
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
            return self.add_node(
                "residual", LAYERS["add"].create(), [out, short], term.span, env, [body_span, short_span]
            )
        except limits.Limit:
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
        conv = LAYERS["conv"].create(out=target[1], kernel=1, stride=strides, bias=False)
        name = self.add_node("shortcut_conv", conv, [current], term.span, env)
        return self.add_node("shortcut_bn", LAYERS["bn"].create(), [name], term.span, env)

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
        limits.deeper(env, term)
        if len(self.graph) + self.estimate.term(term, env.variables) > limits.MAX_NODES:
            raise limits.block_too_large(term)
        if term.body is not None:
            raise error("E0216", f"block `{term.name}` takes no body", term.span)
        current = self.need_input(current, term)
        names = self.file_names()
        variables, tensors = bind_block(definition, term, env.expressions(self.graph), names)
        count = self.counters.get((env.scope, term.name), 0) + 1
        self.counters[(env.scope, term.name)] = count
        path = (*env.scope, f"{term.name}{count}")
        self.graph.blocks[path] = BlockInstance(path, term.name, term.span)
        shape = None if tensors or current is None else self.graph[current].shape
        key = None if shape is None else call_key(term.name, variables, env.frozen, shape)
        template = self.templates.get(key) if key is not None else None
        if template is not None and self._fits(template):
            self.steps += template.steps
            return copy(template, self.graph, path, current)
        variables = {**names, **variables}
        inner = Env(variables, tensors, current, path, env.frozen, (*env.stack, term.name), True, env.depth + 1)
        mark = Mark(self.graph, len(self.errors.diagnostics), self.steps)
        result = self.body(definition.body, current, inner)
        if key is not None and key not in self.templates:
            errors = len(self.errors.diagnostics)
            self.templates[key] = capture(self.graph, mark, errors, self.steps, path, current, result)
        return result

    def _fits(self, template) -> bool:
        """Whether a copy stays within the limits; if not, the call is lowered to report where it breaks them."""
        return (
            len(self.graph) + len(template.nodes) <= limits.MAX_NODES
            and self.steps + template.steps <= limits.MAX_STEPS
        )

    def repeat(self, term: syn.Repeat, current, env: Env):
        count = evaluate(term.count, env.expressions(self.graph))
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise error("E0301", f"`repeat` needs a count of zero or more, got {count}", term.count.span)
        if term.var is not None and (term.var in env.variables or term.var in env.tensors):
            raise error("E0221", f"the loop variable `{term.var}` shadows an existing name", term.span)
        inner = limits.deeper(env, term)
        outer = {k: v for k, v in env.variables.items() if k != term.var}
        self.estimate.check_repeat(term, count, outer, len(self.graph))
        if current is None:
            count = min(count, 1)  # the input failed: check the body once, build nothing more
        errors_before = len(self.errors.diagnostics)
        for i in range(count):
            nodes, steps = len(self.graph), self.steps
            variables = {**env.variables, term.var: i} if term.var else env.variables
            current = self.body(term.body, current, evolve(inner, variables=variables))
            if len(self.errors.diagnostics) > errors_before:
                return None  # the body is wrong: its other repetitions would only repeat the errors
            if i == 0:
                limits.check_growth(
                    term, count, len(self.graph) - nodes, self.steps - steps, len(self.graph), self.steps
                )
        return current


def _need_body(term: syn.Call):
    if term.body is None:
        raise error("E0217", f"`{term.name}` needs a body in braces: `{term.name} {{ … }}`", term.span)
    return term.body


def _no_args(term: syn.Call):
    if term.args:
        raise error("E0214", f"`{term.name}` takes no arguments", term.args[0].span)
