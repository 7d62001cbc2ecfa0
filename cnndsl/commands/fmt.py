"""`cnndsl fmt FILE… [--check] [--diff]`: the canonical layout (cnndsl/tools/fmt.py).

Without options the files are rewritten in place (atomically); `--check`
changes nothing and exits 1 when a file would change; `--diff` prints the
changes as a unified diff. `-` formats stdin to stdout (for editors).
"""

from __future__ import annotations

import difflib
import sys

from ..errors import SOURCES, CnnError, Collector
from ..files import write_text
from ..loader import MAX_FILE_BYTES, decode, read_source
from ..tools.fmt import format_source


def command(args) -> int:
    """`cnndsl fmt FILE… [--check] [--diff]`; `-` reads stdin and writes stdout."""
    errors, changed = Collector(), []
    for path in args.files:
        try:
            if _one_file(path, args):
                changed.append(path)
        except CnnError as exc:
            errors.add(exc)
    if args.files != ["-"]:
        verb = "would reformat" if args.check or args.diff else "reformatted"
        for path in changed:
            print(f"{verb} {path}", file=sys.stderr)
        unchanged = len(args.files) - len(changed) - len({d.span.file for d in errors.diagnostics if d.span})
        done = "would be reformatted" if args.check or args.diff else "reformatted"
        print(f"{len(changed)} file(s) {done}, {unchanged} left unchanged", file=sys.stderr)
    errors.raise_if_any()
    return 1 if changed and args.check else 0


def _one_file(path: str, args) -> bool:
    """Format one file (or stdin); True when its layout changes."""
    if path == "-":
        text = decode(sys.stdin.buffer.read(MAX_FILE_BYTES + 1), "<stdin>")
    else:
        text = read_source(path)
    SOURCES[path if path != "-" else "<stdin>"] = text
    result = format_source(text, path if path != "-" else "<stdin>")
    if args.diff and result != text:
        sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), result.splitlines(True), path, path))
    elif path == "-" and not args.check:
        sys.stdout.write(result)
    elif result != text and not args.check:
        write_text(path, result, rewrite_source=True)  # the one command that rewrites its sources
    return result != text
