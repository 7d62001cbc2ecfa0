"""Regenerate the tables in docs/ that the layer classes describe.

    python docs/generate.py          # rewrite the generated sections in place
    python docs/generate.py --check  # exit 1 when a committed page differs

Each generated section sits between ``<!-- generated: NAME -->`` and
``<!-- end generated: NAME -->`` in its page; everything else is written by
hand. The facts come from the classes in ``cnndsl/layers/`` (``doc``,
``arguments`` and their ``Arg.doc``, ``onnx_text()``, ``params_doc``,
``state_doc``, ``flops_text()``), so a new layer kind appears in all three
pages without editing them (tests/test_docs_generated.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from cnndsl.layers import LAYERS, Input  # noqa: E402
from cnndsl.layers.args import REQUIRED  # noqa: E402


def _source(value) -> str:
    """A default value as it would be written in a program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return re.sub(r"e([+-])0*(\d)", lambda m: f"e{'-' if m.group(1) == '-' else ''}{m.group(2)}", f"{value:g}")
    return str(value)


def _argument(arg) -> str:
    if arg.default is REQUIRED:
        return arg.name
    return f"{arg.name}=" if arg.default is None else f"{arg.name}={_source(arg.default)}"


def _call(cls) -> str:
    return f"`{cls.kind} {{ … }}`" if cls.is_merge() else f"`{cls.kind}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(header: tuple, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def layer_table(layers=None) -> str:
    """docs/language.md: every layer kind, its arguments with defaults, and notes."""
    rows = []
    for cls in (layers or LAYERS).values():
        arguments = ", ".join(_argument(a) for a in cls.arguments)
        notes = "; ".join([cls.doc] * bool(cls.doc) + [f"`{a.name}`: {a.doc}" for a in cls.arguments if a.doc])
        rows.append((_call(cls), f"`{arguments}`" if arguments else "", notes))
    return _table(("layer", "arguments (defaults)", "notes"), rows)


def onnx_table(layers=None) -> str:
    """docs/onnx.md: the ONNX operators each kind emits."""
    rows = [(_call(cls), cls.onnx_text(), cls.onnx_doc) for cls in (Input, *(layers or LAYERS).values())]
    return _table(("layer", "ONNX", "notes"), rows)


def params_table(layers=None) -> str:
    """docs/cost-model.md: learnable parameters and state, for the kinds that have any."""
    kinds = [cls for cls in (layers or LAYERS).values() if cls.params_doc or cls.state_doc]
    return _table(("layer", "learnable parameters", "state"), _grouped(kinds, lambda c: (c.params_doc, c.state_doc)))


def flops_table(layers=None) -> str:
    """docs/cost-model.md: the FLOPs formula of every kind; kinds with the same formula share a row."""
    kinds = [Input, *(layers or LAYERS).values()]
    return _table(("layer", "FLOPs"), _grouped(kinds, lambda c: (c.flops_text(),)))


def _grouped(kinds: list, key) -> list:
    groups: dict[tuple, list] = {}
    for cls in kinds:
        groups.setdefault(key(cls), []).append(_call(cls))
    return [(", ".join(names), *cells) for cells, names in groups.items()]


SECTIONS = {  # page: {section name: generator}
    "language.md": {"layers": layer_table},
    "onnx.md": {"operators": onnx_table},
    "cost-model.md": {"parameters": params_table, "flops": flops_table},
}


def generated(text: str, sections: dict, layers=None) -> str:
    """`text` with each named section replaced by what its generator gives now."""
    for name, make in sections.items():
        begin, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
        if begin not in text or end not in text:
            raise ValueError(f"missing markers for the generated section `{name}`")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{make(layers)}\n{end}{tail}"
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for page, sections in SECTIONS.items():
        path = DOCS / page
        old = path.read_text(encoding="utf-8")
        new = generated(old, sections)
        if new != old:
            stale.append(page)
            if not check:
                path.write_text(new, encoding="utf-8")
    if stale:
        verb = "out of date" if check else "rewritten"
        print(f"{verb}: {', '.join(stale)}" + (" (run python docs/generate.py)" if check else ""), file=sys.stderr)
    return 1 if stale and check else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
