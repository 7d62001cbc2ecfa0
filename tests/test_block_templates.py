"""Block templates (cnndsl/lower/instances.py): a repeated block call is copied from
the first expansion instead of lowered again. The copy must be exactly the graph
the statement-by-statement walk builds: the reference here is the same compiler
with templates switched off."""

from __future__ import annotations

import pytest
from conftest import SHARED, architecture_files

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.lower import constructs

PROGRAMS = [*architecture_files(), *sorted(SHARED.glob("examples*/*.cnn"))]


def _facts(network) -> dict:
    """Everything the lowering decides and the passes derive, node by node."""
    graph = network.graph
    nodes = [
        (n.name, n.op, repr(n.layer.attrs), n.inputs, n.scope, n.frozen, n.shape, n.params, n.macs, repr(n.field))
        for n in graph.nodes()
    ]
    return {
        "nodes": nodes,
        "blocks": [(path, b.block, b.span) for path, b in graph.blocks.items()],
        "values": [(k, v.node, v.span) for k, v in graph.values.items()],
        "outputs": dict(graph.outputs),
        "report": network.to_dict(),
    }


def _without_templates(monkeypatch):
    monkeypatch.setattr(constructs, "call_key", lambda *args: None)


def _load(path, monkeypatch, templates: bool, **kwargs):
    with monkeypatch.context() as patch:
        if not templates:
            _without_templates(patch)
        return cnndsl.load(str(path), **kwargs)


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_copies_equal_the_walk_on_every_zoo_network(path, monkeypatch):
    copied = _load(path, monkeypatch, templates=True)
    walked = _load(path, monkeypatch, templates=False)
    assert _facts(copied) == _facts(walked)


def _source(tmp_path, text: str):
    path = tmp_path / "t.cnn"
    path.write_text(text)
    return path


def test_a_deep_repeat_is_copied_and_names_follow_the_walk(tmp_path, monkeypatch):
    path = _source(
        tmp_path,
        """
block Inner(c) { conv(c, 3, pad=1) -> relu }
block Res(c) {
  t = in
  residual { Inner(c) -> frozen { Inner(c) } -> bn }
  add { t; identity }
}
network N {
  input x: [4, 8, 8]
  repeat 6 { Res(4) }
  Res(4) -> Res(4)
}
""",
    )
    copied = _load(path, monkeypatch, templates=True)
    assert _facts(copied) == _facts(_load(path, monkeypatch, templates=False))
    assert "Res6/Inner2/conv1" in copied.graph and copied.graph["Res6/Inner2/conv1"].frozen
    assert copied.graph.values["Res7/t"].node == "Res6/add1"  # a name bound to the block's input


@pytest.mark.parametrize(
    "call",
    ["Scale(2) -> Scale(2.0)", "Scale(2.0) -> Scale(2)", "Scale(true) -> Scale(1)"],
)
def test_arguments_equal_in_python_but_not_in_type_are_not_confused(tmp_path, monkeypatch, call):
    """2 == 2.0 == true in Python; as arguments they may mean different layers or errors."""
    path = _source(
        tmp_path,
        f"""
block Scale(k) {{ maxpool(k, stride=1, pad=0) }}
network N {{
  input x: [1, 8, 8]
  {call}
}}
""",
    )
    outcomes = []
    for templates in (True, False):
        try:
            outcomes.append(_facts(_load(path, monkeypatch, templates=templates)))
        except CnnError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


def test_assertions_and_errors_in_repeated_calls_are_reported_per_call(tmp_path, monkeypatch, capsys):
    path = _source(
        tmp_path,
        """
block B(c) {
  conv(c, 3, pad=1)
  assert params < 10
}
network N {
  input x: [4, 8, 8]
  B(4) -> B(4) -> B(4)
}
""",
    )
    messages = []
    for templates in (True, False):
        with pytest.raises(CnnError) as caught:
            _load(path, monkeypatch, templates=templates)
        messages.append([(d.code, d.message, d.span, d.notes) for d in caught.value.diagnostics])
    assert messages[0] == messages[1]
    assert messages[0] and {code for code, *_ in messages[0]} == {"E1320"}


def test_a_block_given_a_tensor_is_lowered_each_time(tmp_path, monkeypatch):
    path = _source(
        tmp_path,
        """
block Up(skip) { upsample(like=skip) }
network N {
  input x: [2, 16, 16]
  a = x -> maxpool(2)
  b = a -> maxpool(2)
  c = b -> Up(a)
  d = b -> Up(x)
  output y = concat { c -> Up(x); d }
}
""",
    )
    copied = _load(path, monkeypatch, templates=True)
    assert _facts(copied) == _facts(_load(path, monkeypatch, templates=False))
    assert copied.graph.outputs["y"]
