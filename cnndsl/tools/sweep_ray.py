"""`cnndsl sweep --ray [ADDRESS]`: each variant a Ray task (docs/sweep.md). Ray is imported here only.

The tasks run :func:`cnndsl.tools.sweep.analyse`, the function the local pool
runs, so a Ray sweep gives the same rows. Every node needs cnndsl installed and
the .cnn files at the same absolute path (a shared folder), as with any Ray job.
"""

from __future__ import annotations

from ..errors import usage_error
from .sweep import analyse


def run_ray(tasks: list[tuple], address: str | None, progress, num_cpus: int | None = None) -> list[dict]:
    """Rows of `tasks` as Ray tasks on the cluster at `address` (None or "local": a local instance)."""
    try:
        import ray
    except ImportError:
        raise usage_error("--ray needs Ray", "E0902", hint="pip install 'cnndsl[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        _connect(ray, address, num_cpus)
    remote = ray.remote(num_cpus=1)(analyse)
    refs = [remote.remote(task) for task in tasks]
    index = {ref: i for i, ref in enumerate(refs)}
    rows: list = [None] * len(tasks)
    try:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=min(len(pending), 16), timeout=1.0)
            for ref, row in zip(done, ray.get(done)):
                rows[index[ref]] = row
                if progress is not None:
                    progress.step()
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
    return rows


def _connect(ray, address: str | None, num_cpus: int | None) -> None:
    local = address in (None, "local")
    try:
        if local:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise usage_error(f"cannot reach the Ray cluster at {address}: {exc}", "E0905") from None
