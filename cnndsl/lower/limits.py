"""The expansion limits: nodes, statements, nesting — checked before anything is unrolled.

A lower bound on the nodes a piece of syntax creates is read from the syntax
alone (:class:`Estimate`), so that `repeat 1000000000 { … }` or a block called
too often is refused at once instead of after minutes of expansion.
"""

from __future__ import annotations

from .. import syntax as syn
from ..errors import CnnError, Diagnostic, error
from ..evaluate import Poisoned, Scope, evaluate
from ..layers import LAYERS
from .env import evolve

MAX_NODES = 1_000_000
MAX_STEPS = 2 * MAX_NODES  # statements lowered, counting every repetition: bounds the work of empty bodies
MAX_DEPTH = 64  # blocks, branches, repeats and `frozen` nested inside each other


class Limit(CnnError):
    """A size limit was reached: stop lowering at once instead of collecting more errors."""


def deeper(env, term):
    """`env` one level of nesting deeper; an error past MAX_DEPTH (before Python's own limit)."""
    if env.depth >= MAX_DEPTH:
        raise Limit(
            Diagnostic(
                "E0603",
                f"blocks, branches and repeats nested more than {MAX_DEPTH} deep",
                term.span,
                hint="flatten the structure; nesting this deep is almost certainly unintended",
            )
        )
    return evolve(env, depth=env.depth + 1)


def too_many_steps(statement) -> Limit:
    return Limit(
        Diagnostic(
            "E0602",
            f"the network expands to more than {MAX_STEPS:,} statements",
            statement.span,
            hint="reduce the repeat counts",
        )
    )


def too_many_nodes(span) -> Limit:
    return Limit(
        Diagnostic(
            "E0602", f"the network expands to more than {MAX_NODES:,} nodes", span, hint="reduce the repeat counts"
        )
    )


def repeat_too_large(term: syn.Repeat, count: int, body: int) -> CnnError:
    size = f"more than {MAX_NODES:,} nodes" if body > MAX_NODES else f"at least {count_text(body, 'node')}"
    return error(
        "E0604",
        f"`repeat {count:,}` would expand the network past the limit of {MAX_NODES:,} nodes",
        term.count.span,
        hint=f"its body makes {size} each time; reduce the repeat counts",
    )


def block_too_large(term: syn.Call) -> CnnError:
    return error(
        "E0604",
        f"block `{term.name}` would expand the network past the limit of {MAX_NODES:,} nodes",
        term.name_span,
        hint="its blocks call each other so often that the expansion is too large",
    )


def check_growth(term: syn.Repeat, count: int, nodes: int, steps: int, graph_nodes: int, done_steps: int) -> None:
    """After the first repetition, the real size of one: refuse what cannot fit."""
    if graph_nodes + nodes * (count - 1) > MAX_NODES:
        raise error(
            "E0604",
            f"`repeat {count:,}` would expand the network past the limit of {MAX_NODES:,} nodes",
            term.count.span,
            hint=f"its body makes {count_text(nodes, 'node')} each time; reduce the repeat counts",
        )
    if done_steps + steps * (count - 1) > MAX_STEPS:
        raise error(
            "E0602",
            f"`repeat {count:,}` would lower more than {MAX_STEPS:,} statements",
            term.count.span,
            hint=f"its body runs {count_text(steps, 'statement')} each time; reduce the repeat counts",
        )


class Estimate:
    """Lower bounds on the nodes that syntax creates, read without expanding it.

    Counts whose value is not known yet (a block parameter) count as zero, and
    so do blocks nested past MAX_DEPTH (the walk refuses those), so the bound
    never refuses a program that fits; it saturates just above MAX_NODES.
    """

    def __init__(self, blocks: dict):
        self.blocks = blocks
        self.sizes: dict[str, int] = {}
        self.bodies: dict[tuple, tuple] = {}  # check_body's sums: (statements, nodes) by _body_key

    def statements(self, statements, variables: dict, blocks: tuple = ()) -> int:
        total = 0
        for stmt in statements:
            kind = type(stmt)
            chain = stmt if kind is syn.Chain else getattr(stmt, "chain", None)
            nodes = 1 if kind is syn.Input else 0
            if chain is not None:
                for term in chain.terms:
                    nodes += self.term(term, variables, blocks)
            total += max(kind not in (syn.Let, syn.If), nodes)  # an `if` may make nothing
            if total > MAX_NODES:
                return MAX_NODES + 1
        return total

    def term(self, term, variables: dict, blocks: tuple = ()) -> int:
        kind = type(term)
        if kind is syn.Repeat:
            count = known_count(term.count, variables)
            inner = {k: v for k, v in variables.items() if k != term.var}
            return min(MAX_NODES + 1, count * self.statements(term.body, inner, blocks)) if count else 0
        if kind is not syn.Call:
            return 0
        name, cls = term.name, LAYERS.get(term.name)
        if term.body is not None and ((cls is not None and cls.is_merge()) or name in ("residual", "frozen")):
            return self.statements(term.body, variables, blocks) + (name != "frozen")
        if name in self.blocks:
            return self.block(name, blocks, self._arguments(term, variables))
        return 1 if cls is not None else 0

    def block(self, name: str, blocks: tuple = (), arguments: dict | None = None) -> int:
        """The bound for one call of block `name`; `arguments` are the values known at the call."""
        if name in blocks or len(blocks) > MAX_DEPTH:
            return 0  # recursion, or nesting the walk refuses: reported when the block is expanded
        key = (name, _frozen(arguments or {}))
        try:
            return self.sizes[key]
        except KeyError:
            size = self.sizes[key] = self.statements(self.blocks[name].body, arguments or {}, (*blocks, name))
        except TypeError:  # an unhashable value: not cached
            size = self.statements(self.blocks[name].body, arguments or {}, (*blocks, name))
        return size

    def _arguments(self, call: syn.Call, variables: dict) -> dict:
        """The block parameters whose values are known at `call` (arguments, then defaults)."""
        params = self.blocks[call.name].params
        names, known = [p.name for p in params], {}
        for position, arg in enumerate(call.args):
            name = arg.name or (names[position] if position < len(names) else None)
            value = _known(arg.value, variables)
            if name in names and value is not None:
                known[name] = value
        for param in params:
            if param.name not in known and param.default is not None:
                value = _known(param.default, dict(known))
                if value is not None:
                    known[param.name] = value
        return known

    def check_repeat(self, term: syn.Repeat, count: int, variables: dict, graph_nodes: int) -> None:
        """Refuse a `repeat` whose expansion must pass MAX_NODES, before building any of it."""
        body = max(1, self.statements(term.body, variables))
        if graph_nodes + count * body > MAX_NODES:
            raise repeat_too_large(term, count, body)

    def check_body(self, statements, variables: dict, graph_nodes: int) -> None:
        """Refuse, before any of it is lowered, a body whose block calls must pass MAX_NODES.

        The error names the first block call at which the bound passes the limit,
        as the walk would when it reached it — but without first expanding
        everything before it (`block B { repeat 300000 { relu } }` called four times).
        """
        key = self._body_key(statements, variables)
        known = self.bodies.get(key) if key is not None else None
        if known is not None and known[0] is statements and graph_nodes + known[1] <= MAX_NODES:
            return  # this body with these values was summed before, and fits (sizes only add)
        total = graph_nodes
        for stmt in statements:
            chain = stmt if type(stmt) is syn.Chain else getattr(stmt, "chain", None)
            total += type(stmt) is syn.Input
            for term in chain.terms if chain is not None else ():
                total += self.term(term, variables)
                if total <= MAX_NODES:
                    continue
                if type(term) is syn.Call and term.name in self.blocks:
                    raise block_too_large(term)
                return  # a repeat checks itself before it unrolls; a layer stops the walk at its node
        if key is not None:
            self.bodies[key] = (statements, total - graph_nodes)

    @staticmethod
    def _body_key(statements, variables: dict):
        """A key for check_body's sum (a block's body is checked at every call: sum it once)."""
        key = id(statements), _frozen(variables)
        try:
            hash(key)
        except TypeError:  # an unhashable value: not cached
            return None
        return key


def _known(expr, variables: dict):
    """The value of `expr` from `variables` alone, or None when it cannot be known (or is an error)."""
    try:
        return evaluate(expr, Scope(variables, {}))
    except (CnnError, Poisoned):
        return None


def _frozen(values):
    """A hashable form of argument values (lists become tuples), for the size cache."""
    if isinstance(values, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in values.items()))
    if isinstance(values, list):
        return tuple(_frozen(v) for v in values)
    return values


def known_count(expr, variables: dict) -> int:
    """The value of a repeat count if it is known from `variables` alone, else 0."""
    try:
        value = evaluate(expr, Scope(variables, {}))
    except (CnnError, Poisoned):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def count_text(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
