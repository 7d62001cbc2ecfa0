"""Output files and bounded reads.

Outputs: a failed or interrupted write leaves the old file untouched. A
regular file is written to a temporary file beside it and renamed over it; a
symbolic link is written through to its target (atomically there, the link
stays); a character device or pipe (`/dev/null`, `/dev/stdout`) is a stream,
written in place and never renamed or synced. The program's own source files
are never overwritten. SIGTERM, like Ctrl-C, removes the temporary file, and
temporaries left by a process that was killed outright (`kill -9`) are removed
by the next write to the same folder: their names carry the writer's process id.

Reads: :func:`read_limited` reads at most the limit plus one byte, from any
kind of file, and refuses non-regular files where a regular one is needed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .errors import SOURCES, usage_error


def output_target(path: str | os.PathLike, rewrite_source: bool = False) -> tuple[Path, bool]:
    """(the file to write, whether it is a stream) for the output `path`.

    Symbolic links are followed to the file they name; an output that is a
    directory, a block device, a socket or one of the program's source files is refused
    (unless `rewrite_source`: `cnndsl fmt` rewrites sources in place, on purpose).
    """
    given = Path(path)
    try:
        info = os.stat(given)
    except FileNotFoundError:
        info = None  # a new file, or a dangling link: written where the link points
    except OSError as exc:
        raise usage_error(f"cannot write {given}: {exc.strerror}", "E0801") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise usage_error(f"cannot write {given}: it is a directory", "E0801")
    if info is not None and (stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        return given, True
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise usage_error(f"cannot write {given}: it is not a regular file, a character device or a pipe", "E0801")
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    if str(target).startswith("/proc/"):
        return given, True  # /dev/stdout redirected to a file: write through the open descriptor
    if not rewrite_source:
        _refuse_sources(given, target)
    return target, False


def _refuse_sources(given: Path, target: Path) -> None:
    for source in list(SOURCES):
        with contextlib.suppress(OSError):
            if os.path.samefile(source, target):
                raise usage_error(
                    f"refusing to write {given}: it is the program's source file {source}",
                    "E0802",
                    hint="choose another output path (-o)",
                )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, rewrite_source: bool = False):
    """Yield a path to write; for a regular file a temporary one, moved over `path` only on success.

    >>> with atomic_path("/tmp/cnndsl-doctest.txt") as tmp:
    ...     _ = Path(tmp).write_text("hello")
    >>> Path("/tmp/cnndsl-doctest.txt").read_text()
    'hello'
    """
    target, stream = output_target(path, rewrite_source)
    if stream:
        try:
            yield str(target)
        except OSError as exc:
            raise _write_error(path, exc) from None
        return
    folder = target.parent if str(target.parent) else Path(".")
    remove_stale(folder, target.name)
    import tempfile  # here, not at the top: reading a program (every command) writes nothing

    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(target.name), suffix=".tmp")
    except FileNotFoundError:
        raise usage_error(f"cannot write {path}: the folder {folder} does not exist", "E0801") from None
    except OSError as exc:
        raise _write_error(path, exc) from None
    os.close(handle)
    try:
        with _terminate_cleanly():
            yield temporary
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _write_error(path, exc: OSError):
    return usage_error(f"cannot write {path}: {exc.strerror or exc}", "E0801")


def temporary_prefix(name: str) -> str:
    """`.NAME.PID.`: the prefix of this process's temporaries for the output NAME."""
    return f".{name}.{os.getpid()}."


def remove_stale(folder: Path, name: str) -> None:
    """Remove temporaries for NAME left in `folder` by processes of this user that no longer run."""
    prefix = f".{name}."
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix) :].split(".", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            if entry.is_dir(follow_symlinks=False):
                import shutil

                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


@contextlib.contextmanager
def _terminate_cleanly():
    """Within the block SIGTERM raises SystemExit (exit 143), so `finally` clauses remove temporaries."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sync(f) -> None:
    """Flush `f` and fsync it when it is a regular file (pipes and devices cannot be synced)."""
    f.flush()
    if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        os.fsync(f.fileno())


def write_bytes(path, data: bytes, rewrite_source: bool = False) -> None:
    with atomic_path(path, rewrite_source) as temporary, open(temporary, "wb") as f:
        f.write(data)
        sync(f)


def write_text(path, text: str, rewrite_source: bool = False) -> None:
    write_bytes(path, text.encode("utf-8"), rewrite_source)


# -- bounded reads -----------------------------------------------------------------------------


def read_limited(path: str | os.PathLike, limit: int, regular: bool = True) -> bytes:
    """At most `limit` + 1 bytes of the file at `path` (a caller compares the length with
    `limit`). With `regular`, anything but a regular file (a FIFO, a device) is refused
    before it is opened, so that a FIFO cannot block. OSError propagates to the caller."""
    if regular:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(str(path))
    with open(path, "rb") as f:
        return f.read(limit + 1)


class NotRegularFile(OSError):
    """A path that names a FIFO, a device or a socket where a regular file is needed."""

    def __init__(self, path: str):
        super().__init__(f"{path} is not a regular file (a pipe or device)")
        self.strerror = "it is not a regular file (a pipe or device)"
        self.filename = path
