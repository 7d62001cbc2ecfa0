"""Source spans and the one error root, rendered like a compiler's diagnostics.

Every user-facing problem is a :class:`Diagnostic` with a stable code, a
primary span, optional labelled secondary spans and a hint. A
:class:`CnnError` carries one or more diagnostics (independent errors are
reported together).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import dataclass as record  # frozen, slotted, cheaper to define


@record(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def width(self) -> int:
        if self.end_line == self.line and self.end_column > self.column:
            return self.end_column - self.column
        return 1


@record(frozen=True, slots=True)
class Label:
    span: Span
    message: str


@dataclass(slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    label: str = ""
    hint: str = ""
    notes: list[Label] = field(default_factory=list)
    severity: str = "error"

    def to_json(self) -> dict:
        location = _span_json(self.span)
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            **location,
            "label": self.label,
            "hint": self.hint,
            "notes": [{**_span_json(n.span), "message": n.message} for n in self.notes],
        }


def _span_json(span: Span | None) -> dict:
    if span is None:
        return {"file": None, "line": None, "column": None}
    return {
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line or span.line,
        "end_column": span.end_column or span.column + 1,
    }


SOURCES: dict[str, str] = {}
"""Text of every source file read in this process, for showing source lines."""


class CnnError(Exception):
    """The root of every error the user's program can cause."""

    exit_code = 1

    def __init__(self, diagnostics: Diagnostic | list[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = diagnostics
        super().__init__(diagnostics[0].message if diagnostics else "error")

    @property
    def code(self) -> str:
        return self.diagnostics[0].code


class UsageError(CnnError):
    """A bad command line or an unreadable file (exit code 2)."""

    exit_code = 2


def error(code: str, message: str, span: Span | None = None, **extra) -> CnnError:
    """Build a one-diagnostic :class:`CnnError` (raise the result)."""
    return CnnError(Diagnostic(code, message, span, **extra))


def did_you_mean(word: str, choices) -> str:
    """A hint naming the closest choice, or '' when none is close."""
    import difflib  # only when a name is wrong: its import (heapq, re) is not part of every start

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


class Collector:
    """Gathers independent errors so that one run reports them all."""

    def __init__(self, limit: int = 50):
        self.diagnostics: list[Diagnostic] = []
        self.limit = limit
        self.seen: set = set()

    def add(self, err: CnnError) -> None:
        for diagnostic in err.diagnostics:
            key = (diagnostic.code, diagnostic.message, diagnostic.span)
            if len(self.diagnostics) < self.limit and key not in self.seen:
                self.seen.add(key)
                self.diagnostics.append(diagnostic)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise CnnError(self.diagnostics)


# -- rendering ---------------------------------------------------------------

_COLOURS = {"error": "\033[1;31m", "warning": "\033[1;33m", "note": "\033[1;36m"}
_BOLD, _BLUE, _RESET = "\033[1m", "\033[1;34m", "\033[0m"


def render(diagnostic: Diagnostic, sources: dict[str, str], colour: bool = False) -> str:
    """Format one diagnostic: location, message, source lines with carets, hint.

    A span over several lines is underlined to the end of its first line; marks
    on one line share that line's quote.
    """

    def paint(text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if colour else text

    sev = paint(f"{diagnostic.severity}:", _COLOURS[diagnostic.severity])
    where = f"{diagnostic.span}: " if diagnostic.span else "cnndsl: "
    message = paint(diagnostic.message, _BOLD)
    lines = [f"{paint(where, _BOLD)}{sev} {message} [{diagnostic.code}]"]
    marks = []
    if diagnostic.span:
        marks.append((diagnostic.span, "^", diagnostic.label))
    marks += [(n.span, "-", n.message) for n in diagnostic.notes]
    shown = [m for m in marks if _source_line(sources, m[0]) is not None]
    gutter = len(str(max(s.line for s, _, _ in shown))) if shown else 1
    if shown:
        lines.append(paint(" " * gutter + " |", _BLUE))
        first_file = shown[0][0].file
        previous = None
        for span, char, text in sorted(shown, key=lambda m: (m[0].file != first_file, m[0].file, m[0].line)):
            if span.file != first_file and (previous is None or previous.file != span.file):
                lines.append(paint(f"{' ' * gutter} --> {span}", _BLUE))
            source = _source_line(sources, span).expandtabs(1)
            if previous is not None and previous.file == span.file and span.line > previous.line + 1:
                lines.append(paint(" " * gutter + " ...", _BLUE))
            if previous is None or (previous.file, previous.line) != (span.file, span.line):
                lines.append(paint(f"{span.line:>{gutter}} | ", _BLUE) + source)
            underline = " " * (span.column - 1) + char * _underline_width(span, source)
            style = _COLOURS["error"] if char == "^" else _BLUE
            lines.append(paint(" " * gutter + " | ", _BLUE) + paint(f"{underline} {text}".rstrip(), style))
            previous = span
    if diagnostic.hint:
        lines.append(" " * gutter + " = " + paint("hint", _BOLD) + ": " + diagnostic.hint)
    return "\n".join(lines)


def _underline_width(span: Span, source: str) -> int:
    """Columns to underline on the span's first line (to the line's end for a multi-line span)."""
    room = len(source) - span.column + 1
    if span.end_line > span.line:
        return max(1, len(source.rstrip()) - span.column + 1)
    return max(1, min(span.width, room))


def split_lines(text: str) -> list[str]:
    """The one line-splitting rule, the parser's (Lark's): a line ends at "\\n" only.

    A "\\r" before it is dropped; a form feed, U+2028 or U+0085 stays inside its
    line (str.splitlines would break there and shift every later line). Like
    str.splitlines, a final newline does not start another line.

    >>> split_lines("a\\fb\\r\\nc\\u2028d\\n")
    ['a\\x0cb', 'c\\u2028d']
    """
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines if text else []


def _shown(line: str) -> str:
    """A source line as quoted: control and separator characters become one space each,
    so the carets below stay in their columns and the terminal shows one line."""
    return "".join(" " if (c < " " and c != "\t") or c in "\x7f\x85\u2028\u2029" else c for c in line)


def _source_line(sources: dict[str, str], span: Span) -> str | None:
    text = sources.get(span.file)
    if text is None:
        return None
    lines = split_lines(text)
    if not 0 < span.line <= len(lines) or not lines[span.line - 1].strip():
        return None
    return _shown(lines[span.line - 1])


INTERNAL = "E0000"


def internal_error(exc: BaseException, version: str) -> Diagnostic:
    """The one-line diagnostic of a bug in cnndsl (exit 3). There is no public issue
    tracker: the user is asked to report the command line and the input files."""
    text = str(exc).strip().splitlines()
    first = text[0][:200] if text else "no message"
    return Diagnostic(
        INTERNAL,
        f"internal error ({type(exc).__name__}: {first}); this is a bug in cnndsl {version}: please report it "
        "to the cnndsl maintainers with the command line and the input files (--debug shows the traceback)",
    )


def usage_error(message: str, code: str = "E0001", hint: str = "") -> UsageError:
    """A problem with the command line or a file that cannot be read (exit code 2)."""
    return UsageError(Diagnostic(code, message, hint=hint))
