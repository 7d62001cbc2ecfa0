"""Load a program whose input sizes are variables: lower it once, at representative sizes, and map
every node's shape to formulas (cnndsl/sizes/maps.py).

The structure of a network (its layers, channels and parameters) does not
depend on its input's height and width unless the program reads them
(`in.height`, `in.width`, `in.shape`), which a symbolic program may not do
(E1304). So one lowering at representative sizes — the first of 1024, 1025,
… that compiles — gives the graph, and the formulas give every other size.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import syntax as syn
from ..errors import CnnError, Span, error
from ..loader import Program, load_program
from ..lower.sizevars import size_variables
from . import expr
from .maps import Maps

FIRST_TRY, TRIES = 1024, 32  # every residue modulo 32; a broken program costs at most 32 lowerings
SHAPE_CODES = ("E0400", "E0401")  # a layer cannot take the sizes it was given


@dataclass
class Loaded:
    """A lowered network and the formulas of its shapes."""

    network: object  # cnndsl.network.Network, lowered at `env`
    variables: dict  # name -> SizeVariable (symbolic programs) or None (an input's axis of a concrete one)
    env: dict  # the representative value of every variable
    shapes: dict  # node name -> shape with Size (and Poly) entries
    needs: list  # maps.Need
    symbolic: bool


def program_of(path=None, text=None, name="<string>") -> Program:
    return load_program(path=path, text=text, name=name)


def load(program: Program, network: str | None, overrides: dict, concrete_axes: bool = False) -> Loaded:
    """Lower `program` with its unset size variables at representative values and map its shapes.

    With `concrete_axes`, a program without size variables has each input's height and width
    taken as variables `image.height`, `image.width` (`cnndsl sizes` of a concrete program).
    """
    from ..network import _choose, from_program

    name = _choose(program, network)
    definition = program.networks[name]
    names = {p.name for p in definition.params} | {*program.constants, *program.functions, *program.blocks}
    declared = size_variables(definition, names)
    unset = [v for v in declared if v not in overrides]
    if unset:
        _refuse_size_reads(program, declared[unset[0]])
    net, env = _lower(program, name, overrides, unset, from_program)
    sizes, symbolic = {}, bool(unset)
    for variable in unset:
        for input_name, axis in declared[variable].places:
            pair = list(sizes.get(input_name, (None, None)))
            pair[axis - 2] = expr.variable(variable)
            sizes[input_name] = tuple(pair)
    variables = {v: declared[v] for v in unset}
    if not unset and concrete_axes:
        for input_name in net.graph.inputs:
            shape = net.graph[input_name].shape
            if len(shape) == 4:
                sizes[input_name] = tuple(expr.variable(f"{input_name}.{axis}") for axis in ("height", "width"))
                env.update({f"{input_name}.height": shape[2], f"{input_name}.width": shape[3]})
                variables.update(dict.fromkeys((f"{input_name}.height", f"{input_name}.width")))
    maps = Maps(net.graph, sizes, built=not symbolic)
    shapes = maps.run()
    _self_check(net, shapes, env)
    return Loaded(net, variables, env, shapes, maps.needs, symbolic)


def _lower(program, name, overrides, unset, from_program):
    """The network at the first representative size that compiles, and the variables' values."""
    first = None
    for value in range(FIRST_TRY, FIRST_TRY + (TRIES if unset else 1)):
        chosen = {v: (value, Span("<representative size>", 1, 1)) for v in unset}
        try:
            net = from_program(program, name, {**overrides, **chosen}, sized=not unset)
        except CnnError as exc:
            first = first or exc
            if not unset or any(d.code not in SHAPE_CODES for d in exc.diagnostics):
                raise first from None
            continue
        env = {v: value for v in unset}
        env.update({k: v[0] if isinstance(v, tuple) else v for k, v in overrides.items() if isinstance(k, str)})
        return net, env
    where = ", ".join(f"{v} = {FIRST_TRY}" for v in unset)
    for diagnostic in first.diagnostics:  # say where the sizes in the message come from
        extra = f"compiled at {where}: no size from {FIRST_TRY} to {FIRST_TRY + TRIES - 1} compiles"
        diagnostic.hint = f"{diagnostic.hint}; {extra}" if diagnostic.hint else extra
    raise first


def _refuse_size_reads(program: Program, variable) -> None:
    """E1304: a symbolic program whose blocks read `in.height`, `in.width` or `in.shape`."""
    for definition in (*program.blocks.values(), *program.networks.values()):
        for node in _walk(definition.body):
            if type(node) is syn.Attribute and node.name in ("height", "width", "shape"):
                raise error(
                    "E1304",
                    f"this reads `in.{node.name}`, so the network's structure could depend on the size "
                    f"`{variable.name}`",
                    node.span,
                    hint=f"give the size a value with --set {variable.name}=224",
                )


def _walk(node):
    if isinstance(node, tuple):
        for item in node:
            yield from _walk(item)
        return
    yield node
    for slot in getattr(node, "__slots__", ()):
        value = getattr(node, slot)
        if isinstance(value, tuple) or hasattr(value, "__slots__") and not isinstance(value, Span):
            yield from _walk(value)


def _self_check(net, shapes: dict, env: dict) -> None:
    """The formulas at the representative sizes must give the shapes the layers computed."""
    for node in net.graph.nodes():
        got = tuple(d if isinstance(d, (int, str)) else d.value(env) for d in shapes[node.name])
        if got != tuple(node.shape):
            raise AssertionError(f"size formulas give {list(got)} for {node.name}, the layers {list(node.shape)}")


def value(formula, env: dict):
    """A shape entry, MAC count or byte count at `env` (ints and "N" stay as they are)."""
    return formula if isinstance(formula, (int, str)) else formula.value(env)


def unset_sizes(exc: CnnError) -> bool:
    """Whether a compile failed because size variables have no value (E1300): then take them symbolic."""
    return any(d.code == "E1300" for d in exc.diagnostics)


def symbolic_network(path: str, network: str | None, overrides: dict):
    """The report view (cnndsl/sizes/cost.py) of a program with unset size variables."""
    from .cost import SymbolicNetwork

    return SymbolicNetwork(load(program_of(path), network, overrides))
