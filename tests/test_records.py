"""cnndsl.records.dataclass against the standard decorator it stands in for (the oracle: dataclasses itself)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from cnndsl import syntax
from cnndsl.records import dataclass as record


def _pair():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Call:
        name: str
        args: tuple
        keywords: tuple = ()
        span: object = None

    standard = Call

    @record(frozen=True, slots=True)
    class Call:  # noqa: F811 - the same class, made by the stand-in
        name: str
        args: tuple
        keywords: tuple = ()
        span: object = None

    return standard, Call


@pytest.mark.parametrize("args", [("f", (1, 2)), ("g", (), ("k",)), ("h", (3,), (), 7)])
def test_behaves_as_the_standard_dataclass(args):
    standard, ours = _pair()
    a, b = standard(*args), ours(*args)
    assert repr(a) == repr(b)
    assert hash(a) == hash(b)
    assert [(f.name, f.default) for f in dataclasses.fields(a)] == [(f.name, f.default) for f in dataclasses.fields(b)]
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.astuple(a) == dataclasses.astuple(b)
    assert type(b).__match_args__ == type(a).__match_args__
    assert type(b).__slots__ == type(a).__slots__
    assert dataclasses.replace(b, name="z") == ours("z", *args[1:])
    assert b == ours(*args) and b != ours("other", ()) and b != a
    assert copy.deepcopy(b) == b and copy.copy(b) == b
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.name = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del b.name
    with pytest.raises(AttributeError):
        b.other = 1  # slots: no new attributes
    with pytest.raises(TypeError):
        ours()


def test_every_syntax_class_is_a_dataclass():
    classes = [c for c in vars(syntax).values() if isinstance(c, type) and c.__module__ == syntax.__name__]
    assert len(classes) > 20
    for cls in classes:
        assert dataclasses.is_dataclass(cls), cls
        assert tuple(f.name for f in dataclasses.fields(cls)) == cls.__slots__ == cls.__match_args__
    node = syntax.FunCall("max", (syntax.Literal(1, None),), None, keywords=(syntax.Name("a", None),))
    assert pickle.loads(pickle.dumps(node)) == node


def test_inherited_fields_are_refused_not_dropped():
    @record(frozen=True, slots=True)
    class Base:
        a: int

    with pytest.raises(TypeError, match="does not inherit fields"):

        @record(frozen=True, slots=True)
        class Derived(Base):
            b: int


def test_methods_are_compiled_on_first_use_whichever_comes_first():
    from cnndsl.records import dataclass

    def make():
        @dataclass(frozen=True, slots=True)
        class Pair:
            a: int
            b: tuple = ()

        return Pair

    Pair = make()
    assert Pair.__init__.__record_stub__ and Pair.__eq__.__record_stub__
    unmade = Pair.__new__(Pair)
    Pair.__setstate__(unmade, [1, (2,)])  # as unpickling builds it: no __init__
    assert unmade == Pair(1, (2,)) and hash(unmade) == hash(Pair(1, (2,)))
    assert not hasattr(Pair.__init__, "__record_stub__") and repr(unmade).endswith("Pair(a=1, b=(2,))")
    Other = make()
    assert repr(Other(3)).endswith("Pair(a=3, b=())") and Other(3) != Pair(3)
