"""Atomic output files: a failed or interrupted write leaves the old file untouched."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import usage_error


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; move it over `path` only on success.

    >>> with atomic_path("/tmp/cnndsl-doctest.txt") as tmp:
    ...     _ = Path(tmp).write_text("hello")
    >>> Path("/tmp/cnndsl-doctest.txt").read_text()
    'hello'
    """
    target = Path(path)
    if target.is_dir():
        raise usage_error(f"cannot write {target}: it is a directory", "E0801")
    if target.exists() and not target.is_file():
        yield str(target)  # a device or pipe (/dev/null, /dev/stdout): a stream, never replaced
        return
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except FileNotFoundError:
        raise usage_error(f"cannot write {target}: the folder {folder} does not exist", "E0801") from None
    except OSError as exc:
        raise usage_error(f"cannot write {target}: {exc.strerror}", "E0801") from None
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as exc:
        raise usage_error(f"cannot write {target}: {exc.strerror}", "E0801") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        if os.path.isfile(temporary):  # pipes and devices cannot be synced
            os.fsync(f.fileno())


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
