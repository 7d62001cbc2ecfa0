"""`cnndsl sweep --plot OUT.png`: the Pareto front with matplotlib (imported here only)."""

from __future__ import annotations

from ..errors import usage_error
from ..files import atomic_path
from .sweep import pareto


def plot(rows: list[dict], grid: dict, path: str) -> None:
    """MACs (or latency, when measured) against params; the Pareto-optimal variants joined by a line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise usage_error("--plot needs matplotlib", "E0902", hint="pip install 'cnndsl[plot]'") from None
    good = [row for row in rows if not row["error"]]
    if not good:
        raise usage_error("--plot: every variant failed; nothing to draw")
    timed = all(row["latency_ms"] is not None for row in good)
    key, label = ("latency_ms", "latency (ms)") if timed else ("macs", "MACs")
    points = [(row["params"], row[key]) for row in good]
    front = pareto(points)
    figure, axes = pyplot.subplots(figsize=(7, 5))
    axes.scatter([p[0] for p in points], [p[1] for p in points], s=14, color="0.6", label="variants")
    axes.plot([points[i][0] for i in front], [points[i][1] for i in front], "o-", color="C3", label="Pareto front")
    for i in front:
        text = ", ".join(f"{name}={good[i]['settings'][name]}" for name in grid)
        axes.annotate(text, points[i], fontsize=7, xytext=(4, 4), textcoords="offset points")
    axes.set_xlabel("parameters")
    axes.set_ylabel(label)
    axes.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=path.rsplit(".", 1)[-1] if "." in path else "png", dpi=120)
    pyplot.close(figure)
