"""The private cache folder, and the syntax trees of files read before.

Lark's `cache=True` pickles into the shared temporary folder under a
predictable name, where another user can plant a pickle that runs as whoever
parses next. cnndsl caches only in a private folder of this user's
($XDG_CACHE_HOME/cnndsl or ~/.cache/cnndsl): created with mode 0700, owned by
the user, writable by no one else, and every file in it is checked the same way
before it is read; otherwise nothing is cached. `CNNDSL_NO_CACHE=1` turns
caching off.

Two things live there: Lark's parser tables (:func:`cnndsl.parser.table_cache`)
and the syntax tree of each source file last read, with its text
(:func:`load_syntax`, :func:`store_syntax`). A file read again unchanged — an
imported block library, a `check` after a `report`, the shared examples — is
not parsed again, so Lark is not even imported: like Python's `__pycache__`,
the tree is only used when the text, the file name and the parser's own source
files are all the same as when it was stored.
"""

from __future__ import annotations

import contextlib
import os
import stat
import zlib

MAX_ENTRY_BYTES = 64 << 20
"""A cached syntax tree larger than this is not read (sources are at most 16 MiB)."""

MAX_SYNTAX_ENTRIES = 512
"""Syntax trees kept; beyond this the older half is removed when one is stored."""

_PARSER_FILES = ("syntax.py", "parser.py", "records.py", "lexer.py", "values.py", "errors.py")


def cache_folder() -> str | None:
    """The private cache folder, or None when it cannot be made private (then nothing is cached)."""
    if not hasattr(os, "getuid") or os.environ.get("CNNDSL_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "cnndsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return folder if private else None


def trusted(path: str) -> bool | None:
    """True for a regular file of this user's that no one else can write; None when there is none."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


# -- syntax trees ---------------------------------------------------------------------


def load_syntax(file: str, text: str):
    """The syntax tree stored for `file` when it held `text`, or None."""
    entry = _syntax_entry(file)
    if entry is None or not trusted(entry):
        return None
    try:
        with open(entry, "rb") as f:
            data = f.read(MAX_ENTRY_BYTES + 1)
        if len(data) > MAX_ENTRY_BYTES:
            return None
        import pickle

        stored_file, stored_text, module = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a damaged or outdated entry is a miss, and is replaced
        return None
    return module if stored_file == file and stored_text == text else None


def store_syntax(file: str, text: str, module) -> None:
    """Keep the syntax tree of `file` as it holds `text` (written atomically; failures are ignored)."""
    entry = _syntax_entry(file)
    if entry is None or trusted(entry) is False:
        return
    import pickle

    temporary = f"{entry}.{os.getpid()}.tmp"
    try:
        data = pickle.dumps((file, text, module), protocol=pickle.HIGHEST_PROTOCOL)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
        os.replace(temporary, entry)
        _prune(os.path.dirname(entry))
    except (OSError, pickle.PicklingError, RecursionError):
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _prune(folder: str) -> None:
    """Remove the older half of the syntax trees when there are more than MAX_SYNTAX_ENTRIES."""
    entries = [e for e in os.scandir(folder) if e.name.startswith("syntax-") and e.name.endswith(".pickle")]
    if len(entries) <= MAX_SYNTAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
    for entry in entries[: len(entries) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _syntax_entry(file: str) -> str | None:
    folder = cache_folder()
    if folder is None:
        return None
    key = zlib.crc32(f"{file}\0{_parser_stamp()}".encode("utf-8", "surrogatepass"))
    return os.path.join(folder, f"syntax-{key:08x}.pickle")


def _parser_stamp() -> str:
    """What a tree depends on besides its text: the parser's sources, the grammar and Lark, as on disk."""
    from importlib.util import find_spec

    from .grammar import GRAMMAR_DIRS

    here = os.path.dirname(os.path.abspath(__file__))
    lark = find_spec("lark")
    paths = [os.path.join(here, name) for name in _PARSER_FILES]
    paths += [str(folder / "cnn.lark") for folder in GRAMMAR_DIRS]
    paths.append(lark.origin if lark and lark.origin else "")
    parts = []
    for path in paths:
        try:
            info = os.stat(path)
            parts.append(f"{info.st_mtime_ns}:{info.st_size}")
        except OSError:
            parts.append("-")
    return ",".join(parts)
