"""`dataclass(frozen=True, slots=True)`, the form the syntax tree uses, made cheap to define.

The standard decorator compiles six methods one by one, asks :mod:`inspect` for
a signature to write a docstring and builds each class twice: about 1 ms a
class, 30 ms of every start for the syntax tree alone. This one compiles all
the methods of a class in one go, and only when one of them is first called.
The classes it makes are dataclasses all the same: :func:`dataclasses.fields`, :func:`dataclasses.replace`,
:func:`dataclasses.asdict`, pattern matching, equality, hashing, `repr`,
immutability and pickling behave as with the standard decorator.

>>> @dataclass(frozen=True, slots=True)
... class Point:
...     x: int
...     y: int = 0
>>> Point(1), Point(1) == Point(1, 0), hash(Point(1)) == hash(Point(1, 0))
(Point(x=1, y=0), True, True)
>>> import dataclasses
>>> [f.name for f in dataclasses.fields(Point)], dataclasses.replace(Point(1), y=2)
(['x', 'y'], Point(x=1, y=2))
"""

from __future__ import annotations

import dataclasses

_TEMPLATE = """
def __init__(self, {params}):
{inits}
def __repr__(self):
    return f"{{self.__class__.__qualname__}}({reprs})"
def __eq__(self, other):
    if other.__class__ is self.__class__:
        return ({mine},) == ({theirs},)
    return NotImplemented
def __hash__(self):
    return hash(({mine},))
"""


def dataclass(cls=None, /, *, frozen: bool = True, slots: bool = True):
    """The class decorator; only `frozen=True, slots=True` (anything else: use :mod:`dataclasses`).
    Methods the class defines itself (`__repr__`, `__eq__`, `__hash__`) are kept, as there."""
    if not (frozen and slots):
        raise TypeError("cnndsl.records.dataclass makes frozen, slotted classes only")
    return _record if cls is None else _record(cls)


def _record(cls):
    if any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: a record does not inherit fields; use dataclasses.dataclass")
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    body = {key: value for key, value in cls.__dict__.items() if key not in defaults}
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    own = {key for key, value in body.items() if value is not None}  # methods the class writes itself stay
    made: list = []  # the class, once made: what the stubs compile the methods for
    body.update({key: _stub(key, made) for key in _METHODS if key not in own}, __slots__=names)
    body["__match_args__"] = names
    body.update(__setattr__=_frozen_setattr, __delattr__=_frozen_delattr)
    body.update(__getstate__=_getstate, __setstate__=_setstate)
    body["__dataclass_fields__"] = _fields(names, defaults, body["__annotations__"] if names else {})
    if not body.get("__doc__"):
        body["__doc__"] = f"{cls.__name__}({', '.join(names)})"
    record = type(cls)(cls.__name__, cls.__bases__, body)
    record.__qualname__ = cls.__qualname__
    record.__record_defaults__ = defaults
    made.append(record)
    return record


_METHODS = ("__init__", "__repr__", "__eq__", "__hash__")


def _stub(key: str, made: list):
    """A method that compiles the class's methods on its first call, puts them in place of the
    stubs, and calls the real one: a class that is never instantiated (a syntax tree read back
    from the cache is unpickled, not constructed) never pays for compiling them."""

    def first_call(self, *args, **kwargs):
        record = made[0]
        methods = _methods(record.__name__, record.__match_args__, record.__record_defaults__)
        for name, method in methods.items():
            if getattr(record.__dict__.get(name), "__record_stub__", False):
                setattr(record, name, method)
        return getattr(record, key)(self, *args, **kwargs)

    first_call.__name__ = first_call.__qualname__ = key
    first_call.__record_stub__ = True
    return first_call


def _methods(name: str, names: tuple, defaults: dict) -> dict:
    params = ", ".join(f"{n}=__default_{n}" if n in defaults else n for n in names)
    inits = "".join(f"    __set(self, {n!r}, {n})\n" for n in names) or "    pass\n"
    reprs = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    mine = ", ".join(f"self.{n}" for n in names) or "()"
    theirs = ", ".join(f"other.{n}" for n in names) or "()"
    source = _TEMPLATE.format(params=params or "", inits=inits, reprs=reprs, mine=mine, theirs=theirs)
    scope = {"__set": object.__setattr__, **{f"__default_{n}": value for n, value in defaults.items()}}
    exec(compile(source, f"<record {name}>", "exec"), scope)  # noqa: S102 - our own template, no user text
    return {key: scope[key] for key in ("__init__", "__repr__", "__eq__", "__hash__")}


def _fields(names: tuple, defaults: dict, annotations: dict) -> dict:
    fields = {}
    for name in names:
        made = dataclasses.field(default=defaults.get(name, dataclasses.MISSING))
        made.name, made.type = name, annotations[name]
        made.kw_only, made._field_type = False, dataclasses._FIELD  # _FIELD: what fields() and replace() look for
        fields[name] = made
    return fields


def _frozen_setattr(self, name, value):
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self):
    return [getattr(self, name) for name in self.__slots__]


def _setstate(self, state):
    for name, value in zip(self.__slots__, state):
        object.__setattr__(self, name, value)
