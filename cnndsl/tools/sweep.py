"""`cnndsl sweep`: compile and analyse every combination of network parameters (docs/sweep.md).

A variant is a list of `NAME=VALUE` settings, exactly what `report --set` takes;
:func:`analyse` turns one into a row (or a row holding its error). Rows are
computed in a local process pool or as Ray tasks (:mod:`cnndsl.tools.sweep_ray`)
and come back in grid order whatever the order they finish in.
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import sys

from ..errors import CnnError, usage_error

MAX_VARIANTS = 100_000
COLUMNS = ("params", "macs", "flops", "peak_memory", "outputs", "latency_ms", "error")


def parse_grid(specs: list[str]) -> dict[str, list[str]]:
    """`["width=16,32", "depth=[2,2],[3,4]"]` -> {"width": ["16", "32"], "depth": ["[2,2]", "[3,4]"]}."""
    if not specs:
        raise usage_error("sweep needs at least one --grid NAME=V1,V2,...", hint="e.g. --grid width=16,32,64")
    grid: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise usage_error(f"--grid expects NAME=V1,V2,..., got `{spec}`")
        if name in grid:
            raise usage_error(f"--grid names `{name}` twice", hint="give all its values in one --grid")
        grid[name] = _split(values, spec)
    count = math.prod(len(v) for v in grid.values())
    if count > MAX_VARIANTS:
        raise usage_error(f"the grid has {count:,} variants; the limit is {MAX_VARIANTS:,}")
    return grid


def _split(values: str, spec: str) -> list[str]:
    """Split at the commas outside brackets and parentheses."""
    parts, depth, current = [], 0, []
    for char in values:
        depth += (char in "([") - (char in ")]")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    if depth != 0 or not all(parts):
        raise usage_error(f"--grid `{spec}`: expected values separated by commas, each one non-empty")
    return parts


def variants(grid: dict[str, list[str]]) -> list[list[str]]:
    """Every combination, as `--set` lists, the last name varying fastest."""
    names = list(grid)
    return [[f"{n}={v}" for n, v in zip(names, combo)] for combo in itertools.product(*grid.values())]


def analyse(task: tuple) -> dict:
    """One row: (path, network, settings, bench runs) -> settings, totals, output shapes, latency or error."""
    path, network_name, settings, bench = task
    row = {"settings": dict(s.split("=", 1) for s in settings)}
    row.update(dict.fromkeys(COLUMNS))
    try:
        from ..network import from_program, parse_overrides

        network = from_program(_program(path), network_name, parse_overrides(settings))
        totals = network.totals
        row.update(params=totals["params"], macs=totals["macs"], flops=totals["flops"])
        row.update(peak_memory=totals["peak_activation_bytes"])
        row["outputs"] = {o["name"]: list(o["shape"]) for o in network.outputs}
        if bench:
            row["latency_ms"] = _latency(network, bench)
    except CnnError as exc:
        row["error"] = "; ".join(_located(d) for d in exc.diagnostics if d.severity == "error")
    except Exception as exc:  # noqa: BLE001 - one bad variant must not stop the sweep
        row["error"] = f"internal error ({type(exc).__name__}: {str(exc)[:200]})"
    return row


_PROGRAMS: dict = {}  # per process: path -> (file stamps, Program)


def _program(path: str):
    """The parsed program at `path`, parsed once per process while its files stay unchanged."""
    cached = _PROGRAMS.get(path)
    if cached is not None and cached[0] == _stamps(cached[1].sources):
        return cached[1]
    from ..loader import load_program

    program = load_program(path=path)
    _PROGRAMS[path] = (_stamps(program.sources), program)
    return program


def _stamps(files) -> tuple:
    stamps = []
    for file in files:
        try:
            status = os.stat(file)
        except OSError:
            return ()
        stamps.append((file, status.st_mtime_ns, status.st_size))
    return tuple(stamps)


def _located(diagnostic) -> str:
    where = f"{diagnostic.span}: " if diagnostic.span else ""
    return f"{where}{diagnostic.message} [{diagnostic.code}]"


def _latency(network, runs: int) -> float:
    """Median onnxruntime latency in milliseconds of `runs` timed runs, batch 1, one thread."""
    import time

    from ..backends.runtime import random_inputs

    sess = network.session()
    feeds = random_inputs(sess, 1)
    for _ in range(3):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - started)
    times.sort()
    return round(times[len(times) // 2] * 1e3, 3)


def run_local(tasks: list[tuple], jobs: int | None, progress) -> list[dict]:
    """Rows of `tasks` from a process pool of `jobs` workers; Ctrl-C terminates the workers."""
    import multiprocessing

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    if jobs == 1:
        return [_tick(progress, analyse(task)) for task in tasks]
    rows: list = [None] * len(tasks)
    pool = multiprocessing.get_context().Pool(jobs, initializer=_ignore_sigint)
    try:
        chunk = max(1, min(16, len(tasks) // (4 * jobs)))
        for index, row in pool.imap_unordered(_indexed, enumerate(tasks), chunksize=chunk):
            rows[index] = _tick(progress, row)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return rows


def _indexed(item: tuple) -> tuple:
    index, task = item
    return index, analyse(task)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _tick(progress, row: dict) -> dict:
    if progress is not None:
        progress.step()
    return row


class Progress:
    """A one-line progress bar on stderr: `sweep [#####.....] 12/24`."""

    def __init__(self, total: int, stream=sys.stderr, width: int = 30):
        self.total, self.done, self.stream, self.width = total, 0, stream, width
        self.draw()

    def step(self) -> None:
        self.done += 1
        self.draw()

    def draw(self) -> None:
        filled = self.width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\rsweep [{bar}] {self.done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# -- output ---------------------------------------------------------------------------------


def render(rows: list[dict], grid: dict, format: str, network: str = "") -> str:
    """Rows as `table`, `csv` or `json` (exact numbers in csv and json)."""
    if format == "json":
        import json

        return json.dumps({"network": network, "grid": grid, "rows": rows}, indent=2) + "\n"
    header = [*grid, "params", "MACs", "FLOPs", "peak memory", "outputs", "latency ms", "error"]
    if format == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([h.replace(" ", "_") for h in header])
        writer.writerows(_cells(row, grid, exact=True) for row in rows)
        return buffer.getvalue()
    return _table([header, *(_cells(row, grid, exact=False) for row in rows)])


def _cells(row: dict, grid: dict, exact: bool) -> list[str]:
    from ..report import human, human_bytes

    settings = [row["settings"][name] for name in grid]
    if row["error"]:
        return [*settings, "", "", "", "", "", "", row["error"]]
    numbers = [row["params"], row["macs"], row["flops"]]
    numbers = [str(n) for n in numbers] if exact else [human(n) for n in numbers]
    memory = str(row["peak_memory"]) if exact else human_bytes(row["peak_memory"])
    outputs = " ".join(f"{name}=[{','.join(map(str, shape))}]" for name, shape in row["outputs"].items())
    latency = "" if row["latency_ms"] is None else f"{row['latency_ms']:g}"
    return [*settings, *numbers, memory, outputs, latency, ""]


def _table(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = []
    for line in lines:
        text.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    return "\n".join(text) + "\n"


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (lower is better), by x."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front, best = [], math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front
