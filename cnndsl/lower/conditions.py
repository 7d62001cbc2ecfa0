"""Part 2 of the language in the lowering: file-level names, `let`, `if`, tensor arguments.

* File-level `fn`s and `let`s are evaluated once per compilation into one
  namespace that seeds every network's and block's variables.
* A `let` in a body binds a value for the rest of that body only.
* An `if` lowers the body its conditions choose; as a merge branch with no
  chosen body it is ABSENT (the merge has a branch fewer).
* A layer argument that names a tensor (`upsample(like=skip)`) becomes a
  :class:`TensorRef` in the layer's attributes and an extra input of its node.
"""

from __future__ import annotations

from dataclasses import replace

from .. import syntax as syn
from ..errors import CnnError, did_you_mean, error
from ..evaluate import UNKNOWN, Calls, Poisoned, evaluate, truth
from ..functions import BUILTINS, VALUE_FUNCTIONS
from ..layers import LAYERS
from ..values import Function, TensorRef
from . import limits
from .env import CONSTRUCTS, Env, check_new_name
from .walk import Walk

ABSENT = object()
"""The value of a merge branch `if COND { … }` whose condition is false and that has no `else`."""


class Conditions(Walk):
    """The walk plus file-level names, `let`, `if` and tensor arguments."""

    def __init__(self, program):
        super().__init__(program)
        self.names: dict | None = None  # file-level `fn`s and `let`s

    def file_names(self) -> dict:
        """File-level `fn`s and `let`s, shared by every body; a `let` sees those before it."""
        if self.names is None:
            names, calls = {}, Calls()
            self.names = names
            for definition in self.program.functions.values():
                names[definition.name] = Function(definition, names, calls)
            for stmt in self.program.constants.values():
                names[stmt.name] = self.let_value(stmt, Env(names, {}))
        return self.names

    def let(self, stmt: syn.Let, env: Env) -> Env:
        """`let NAME = EXPR` in a body: NAME is bound for the rest of that body only."""
        try:
            check_new_name(stmt.name, stmt.name_span, env, self.program.blocks)
        except CnnError as exc:
            self.errors.add(exc)
            return env
        return replace(env, variables={**env.variables, stmt.name: self.let_value(stmt, env)})

    def let_value(self, stmt: syn.Let, env: Env):
        """The value of a `let`: a number, list or symbol; UNKNOWN after a reported error."""
        try:
            if stmt.name in LAYERS or stmt.name in CONSTRUCTS or stmt.name in self.program.blocks:
                check_new_name(stmt.name, stmt.name_span, env, self.program.blocks)
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
            return self.body(stmt.orelse, current, limits.deeper(env, stmt))
        return self.body(stmt.body, current, limits.deeper(env, stmt))

    def branch(self, stmt, current, env: Env):
        """One statement of a merge as a branch: ABSENT for an `if` that chose nothing."""
        if type(stmt) is syn.If:
            return self.if_statement(stmt, current, env, branch=True)
        if type(stmt) is syn.Let:
            raise error("E0237", "a `let` cannot be a branch of a merge", stmt.span, hint="put it before the merge")
        if type(stmt) is syn.Assert:
            raise error("E1326", "an `assert` cannot be a branch of a merge", stmt.span, hint="put it after the merge")
        return self.statement(stmt, current, env)

    def conditional_merge(self, term: syn.Call, outputs: list):
        """A merge left with one branch by false conditions is that branch; with none, an error."""
        if outputs:
            return outputs[0]
        raise error(
            "E0218",
            f"`{term.name}` has no branch left: every branch is an `if` whose condition is false",
            term.span,
            hint="give one of them an `else`, or keep one branch unconditional",
        )

    def tensor_argument(self, term: syn.Call, arg: syn.Arg, env: Env) -> TensorRef:
        """`like=NAME`: a bound tensor, an input's name, or `in` in a block; passed as an extra input."""
        expr = arg.value
        if type(expr) is syn.BlockInputRef and env.in_block:
            return TensorRef("in", env.block_input)
        if type(expr) is syn.Name and expr.name in env.tensors:
            return TensorRef(expr.name, env.tensors[expr.name])
        written = f"`{expr.name}`" if type(expr) is syn.Name else "this"
        hint = did_you_mean(expr.name, env.tensors) if type(expr) is syn.Name else ""
        raise error(
            "E0236",
            f"`{term.name}` argument `{arg.name}` must name a tensor; {written} is not one",
            expr.span,
            hint=hint or "name a bound value (`skip = …`), a network input, or `in` inside a block",
        )
