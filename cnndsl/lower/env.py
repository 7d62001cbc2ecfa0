"""Where a statement is lowered: the names in scope, the block's input, the node-name scope.

Also the rules for names: a bound name may not hide a layer, a construct, a
block or a parameter, and a failed `name = …` still defines `name`, poisoned,
so that its uses stay silent (one mistake, one error).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import syntax as syn
from ..errors import CnnError, Span, did_you_mean, error
from ..evaluate import Scope
from ..layers import LAYERS
from ..values import Function

CONSTRUCTS = ("residual", "frozen")  # words of the language that are neither layers nor blocks
START = object()  # the current value before a network's first input


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
    depth: int = 0  # nesting of blocks, branches and repeats, bounded by limits.MAX_DEPTH

    def expressions(self, graph) -> Scope:
        """The scope in which this environment's argument expressions are evaluated."""
        shape = None
        if self.in_block and self.block_input not in (None, START):
            shape = graph[self.block_input].shape
        return Scope(self.variables, self.tensors, shape, self.in_block)


def evolve(env: Env, **changes) -> Env:
    """`dataclasses.replace(env, **changes)` without its field-by-field work (once per block,
    branch and repeat step: ~20 us each, a few percent of lowering a deep network)."""
    assert changes.keys() <= env.__dict__.keys(), changes.keys() - env.__dict__.keys()
    made = object.__new__(Env)
    made.__dict__.update(env.__dict__, **changes)
    return made


def check_new_name(name: str, span: Span, env: Env, blocks) -> None:
    """Refuse a bound name that would hide a layer, construct, block or parameter."""
    if name in LAYERS or name in CONSTRUCTS or name in blocks:
        what = "block" if name in blocks else "layer"
        raise error(
            "E0221",
            f"the name `{name}` shadows the {what} `{name}`",
            span,
            hint="choose another name; a bound name may not hide a layer or block",
        )
    if name in env.variables:
        what = "function" if type(env.variables[name]) is Function else "parameter"
        raise error("E0221", f"the name `{name}` shadows the {what} `{name}`", span, hint="choose another name")


def reference(name: str, span: Span, env: Env):
    """The node a bound name stands for (None when it is poisoned)."""
    if name in env.tensors:
        return env.tensors[name]
    raise error("E0220", f"`{name}` is not defined", span, hint=did_you_mean(name, list(env.tensors)))


def poison(statement, env: Env, blocks) -> None:
    """A failed `name = …` still defines `name`, as poisoned, so its uses stay silent."""
    if type(statement) is syn.If:  # names bound in any of its bodies stay silent after a failed condition
        for inner in _bodies(statement):
            poison(inner, env, blocks)
        return
    name = getattr(statement, "name", None)
    if name is None or name in env.tensors or type(statement) in (syn.Input, syn.Let):
        return
    try:
        check_new_name(name, statement.name_span, env, blocks)
    except CnnError:
        return
    env.tensors[name] = None


def _bodies(stmt: syn.If):
    """The statements of every body of an `if … else if … else`."""
    while type(stmt) is syn.If:
        yield from stmt.body
        stmt = stmt.orelse
    yield from stmt or ()
