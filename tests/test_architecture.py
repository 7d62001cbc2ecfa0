"""The shape of the package (docs/architecture.md): no import cycles, nothing imports the CLI,
small files and small functions. Read from the source with `ast`, not by importing it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cnndsl"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: set) -> set[str]:
    """The cnndsl modules that `name` imports, anywhere in its body (lazy imports count too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    return {name: _imports(name, path, set(sources)) for name, path in sources.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None. A package's `__init__` importing its own
    submodules is how packages register their parts, so package -> own child edges are left out."""
    edges = {a: {b for b in targets if not b.startswith(a + ".")} for a, targets in graph.items()}
    state: dict[str, int] = {}
    for start in edges:
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = state.get(start, 0) or 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(edges[child]))))
                path.append(child)
    return None


def test_the_walker_sees_the_imports_it_must():
    graph = _graph()
    assert "cnndsl.lower" in graph["cnndsl.network"]
    assert "cnndsl.network" in graph["cnndsl.commands"]  # a lazy import inside a function
    assert "cnndsl.backends.onnx_file" in graph["cnndsl.backends.onnx"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    assert _cycle(_graph()) is None


def test_only_the_entry_points_import_the_cli_and_commands():
    for name, targets in _graph().items():
        assert "cnndsl.cli" not in targets or name == "cnndsl.__main__", name
        commands = {t for t in targets if t == "cnndsl.commands" or t.startswith("cnndsl.commands.")}
        assert not commands or name == "cnndsl.cli" or name.startswith("cnndsl.commands"), name


def test_no_source_file_over_500_lines():
    long = {name: n for name, path in _sources().items() if (n := len(path.read_text().splitlines())) > MAX_FILE_LINES}
    assert not long


def test_no_function_over_60_lines():
    long = []
    for name, path in _sources().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long
