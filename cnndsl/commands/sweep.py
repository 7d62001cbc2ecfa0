"""`cnndsl sweep FILE --grid NAME=V1,V2 ...`: one row per combination of settings (docs/sweep.md)."""

from __future__ import annotations

import os
import sys

from ..files import write_text
from ..tools import sweep


def command(args) -> int:
    grid = sweep.parse_grid(args.grid)
    fixed = [s for s in args.overrides if s.partition("=")[0].strip() not in grid]
    path = os.path.abspath(args.file)
    tasks = [(path, args.network, [*fixed, *settings], args.bench) for settings in sweep.variants(grid)]
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    progress = sweep.Progress(len(tasks)) if show else None
    try:
        if args.ray:
            from ..tools.sweep_ray import run_ray

            rows = run_ray(tasks, args.ray, progress)
        else:
            rows = sweep.run_local(tasks, args.jobs, progress)
    finally:
        if progress is not None:
            progress.close()
    text = sweep.render(rows, grid, args.format, args.network or "")
    if args.plot:
        from ..tools.sweep_plot import plot

        plot(rows, grid, args.plot)
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    failed = sum(bool(row["error"]) for row in rows)
    if failed:
        print(f"sweep: {failed} of {len(rows)} variants failed (see their error column)", file=sys.stderr)
    return 0
