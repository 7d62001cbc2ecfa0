"""Lark's parse errors -> located diagnostics, and the bracket-tracking post-lexer they rely on.

Split from :mod:`cnndsl.parser` so that building syntax and explaining why
text is not a program are read apart.
"""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import Label, Span, error, split_lines

# Readable names for Lark's terminal names, used in "expected …" messages.
TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "ARROW": "`->`",
    "_SEP": "a new line",
    "$END": "the end of the file",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "DOT": "`.`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PERCENT": "`%`",
    "LESSTHAN": "`<`",
    "MORETHAN": "`>`",
}
MAX_NESTING = 64
"""Brackets of all kinds open at once; deeper source is refused before it is built."""
_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_ELSE_NEXT = re.compile(r"[ \t\f]*else\b")
_SYMBOL = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"}


class Brackets:
    """Post-lexer: drops newlines inside (...) and [...], and tracks open brackets
    so that an unclosed one can be reported where it was opened."""

    always_accept = ("_SEP",)

    def __init__(self):
        self.stack: list[Token] = []
        self.closer: Token | None = None  # the last closing bracket that matched an open one
        self.file = "<string>"
        self.text = ""

    def process(self, stream):
        self.stack, self.closer = [], None
        for token in stream:
            kind = token.type
            if kind in _OPENERS:
                self.stack.append(token)
                if len(self.stack) > MAX_NESTING:
                    raise _too_deep(token, self.file)
            elif kind in _CLOSERS and self.stack and self.stack[-1].type == _CLOSERS[kind]:
                self.stack.pop()
                self.closer = token
            elif kind == "_SEP" and self.stack and self.stack[-1].type != "LBRACE":
                continue
            elif kind == "_SEP" and _ELSE_NEXT.match(self.text, token.end_pos or 0):
                continue  # `}` <newline> `else {`: one statement
            elif kind == "NAME" and token == "else":
                token = Token.new_borrow_pos("ELSE", token, token)  # reserved, even where no `else` fits
            yield token


def _too_deep(token: Token, file: str):
    return error(
        "E0601",
        f"brackets nested more than {MAX_NESTING} deep",
        _token_span(token, file),
        hint="split the expression or move nested branches into a block",
    )


# -- errors ------------------------------------------------------------

_NUMBER = re.compile(r"([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9]+([eE][+-]?[0-9]+)?")
_SIZED = re.compile(r"[0-9]+(\.[0-9]+)?(KiB|MiB|GiB|K|M|G)")
_SUFFIX_LIKE = re.compile(r"[0-9]+(\.[0-9]+)?([A-Za-z]+)")
_WORD_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.")
_DEFINITION_START = re.compile(r"\s*(network|block|import)\b")


def syntax_error(exc: UnexpectedInput, text: str, file: str, brackets: Brackets):
    number = _malformed_number(exc, text, file)
    if number is not None:
        return number
    if isinstance(exc, UnexpectedCharacters):
        opener = _open_group(brackets)
        if opener is not None and text.startswith("->", exc.pos_in_stream - 1):
            arrow = Span(file, exc.line, exc.column - 1, exc.line, exc.column + 1)
            return _unclosed(opener, file, arrow, "`->`")
        return _bad_character(exc, text, file)
    token = getattr(exc, "token", None)
    if token is not None and token.type == "MORETHAN" and text[token.start_pos - 1 : token.start_pos] == "-":
        # `->` where an expression goes on lexes as `-` then `>`; report it as the arrow it is
        token = exc.token = Token(
            "ARROW", "->", token.start_pos - 1, token.line, token.column - 1, token.end_line, token.end_column
        )
    at_end = isinstance(exc, UnexpectedEOF) or (token is not None and token.type == "$END")
    if at_end and brackets.stack:
        return _unclosed(brackets.stack[-1], file, _end_span(text, file))
    if isinstance(exc, UnexpectedToken):
        return _unclosed_before(token, text, file, brackets) or _unexpected_token(exc, file, brackets)
    return error("E0100", "unexpected end of file", _end_span(text, file))


def _open_group(brackets: Brackets) -> Token | None:
    """The innermost open `(` or `[`, if the innermost open bracket is one."""
    if brackets.stack and brackets.stack[-1].type in ("LPAR", "LSQB"):
        return brackets.stack[-1]
    return None


def _unclosed_before(token: Token, text: str, file: str, brackets: Brackets):
    """An unclosed bracket that explains an unexpected token, or None.

    Newlines inside `(...)` and `[...]` are dropped, so a missing `)` shows up
    as a strange token later on; report the bracket that was left open instead.
    """
    if not brackets.stack or token.line is None:
        return None
    opener, span = brackets.stack[-1], _token_span(token, file)
    lines = split_lines(text)
    line_text = lines[token.line - 1] if token.line <= len(lines) else ""
    if opener.type == "LBRACE":
        keyword = _DEFINITION_START.match(line_text)
        if keyword and token.line > opener.line:
            start = Span(file, token.line, keyword.start(1) + 1, token.line, keyword.end(1) + 1)
            return _unclosed(opener, file, start, f"`{keyword.group(1)}`")
        return None
    closer = _OPENERS[opener.type]
    mismatched = token.type in _CLOSERS and token.type != closer
    if token.type in ("ARROW", "LBRACE", "RBRACE") or mismatched or token.line > opener.line:
        return _unclosed(opener, file, span, _describe(token))
    rest = line_text[token.column - 1 :]
    wanted, other = _SYMBOL[closer], {")": "]", "]": ")"}[_SYMBOL[closer]]
    if other in rest and (wanted not in rest or rest.index(other) < rest.index(wanted)):
        at = token.column + rest.index(other)
        return _unclosed(opener, file, Span(file, token.line, at, token.line, at + 1), f"`{other}`")
    return None


def _malformed_number(exc: UnexpectedInput, text: str, file: str):
    """`3.3.3`, `0x10`, `1e`, `16x16`: a run of word characters that starts like a number."""
    position = getattr(getattr(exc, "token", None), "start_pos", None)
    if position is None:
        position = getattr(exc, "pos_in_stream", None)
    if position is None or position >= len(text) or text[position] not in _WORD_CHARS:
        return None
    start = position
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    end = position
    while end < len(text) and text[end] in _WORD_CHARS:
        end += 1
    word = text[start:end]
    starts_like_number = word[0].isdigit() or (word[0] == "." and word[1:2].isdigit())
    if not starts_like_number or _NUMBER.fullmatch(word) or _SIZED.fullmatch(word):
        return None
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    span = Span(file, line, column, line, column + len(word))
    suffix = _suffix_hint(word)
    if suffix:
        return error("E0103", f"malformed number `{word}`: unknown suffix", span, hint=suffix)
    return error(
        "E0103",
        f"malformed number `{word}`",
        span,
        hint="numbers look like `3`, `0.5` or `1e-4`; names start with a letter or `_`",
    )


_SUFFIXES = ("K", "M", "G", "KiB", "MiB", "GiB")


def _suffix_hint(word: str) -> str:
    """The hint for `5Q`, `5k`, `64MB`, `5MiBx`: a number followed by letters that look like a suffix."""
    found = _SUFFIX_LIKE.fullmatch(word)
    if found is None:
        return ""
    letters = found.group(2)
    if not (len(letters) == 1 and letters not in "xXeE") and letters[0].lower() not in "kmg":
        return ""
    known = "suffixes are K, M, G (thousand, million, billion) and KiB, MiB, GiB (1024, 1024², 1024³)"
    close = [s for s in _SUFFIXES if s.lower() == letters.lower() or s.lower() == letters.lower()[:1] + "ib"]
    return f"did you mean `{word[: found.start(2)]}{close[0]}`? {known}" if close else known


def _end_span(text: str, file: str) -> Span:
    lines = split_lines(text) or [""]
    return Span(file, len(lines), len(lines[-1]) + 1)


def _token_span(token: Token, file: str) -> Span:
    end_col = token.end_column if token.end_line == token.line else token.column + 1
    return Span(file, token.line, token.column, token.line, end_col)


def _unclosed(opener: Token, file: str, where: Span, found: str = ""):
    closer = _SYMBOL[_OPENERS[opener.type]]
    if found:
        message = f"unclosed `{opener}`: expected `{closer}` before {found}"
    else:
        message = f"unclosed `{opener}`: the file ends before its `{closer}`"
    return error(
        "E0101",
        message,
        _token_span(opener, file),
        label="opened here",
        notes=[Label(where, f"expected `{closer}` before here")],
        hint=f"add the missing `{closer}`",
    )


def _bad_character(exc: UnexpectedCharacters, text: str, file: str):
    char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
    span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
    if char == '"':
        return error(
            "E0102",
            "unterminated string",
            span,
            label="string starts here",
            hint='close the string with `"` on the same line',
        )
    if char.isdigit() or char == ".":
        return error("E0103", "malformed number", span, hint="numbers look like `3`, `0.5` or `1e-4`")
    shown = repr(char)[1:-1] if char.isprintable() else f"\\u{ord(char):04x}"
    return error("E0104", f"unexpected character `{shown}`", span)


def _unexpected_token(exc: UnexpectedToken, file: str, brackets: Brackets):
    token = exc.token
    span = _token_span(token, file)
    expected = sorted({TERMINAL_NAMES.get(t, f"`{t.lower()}`") for t in exc.expected if not t.startswith("__")})
    found = _describe(token)
    closes_open = bool(brackets.stack) and brackets.stack[-1].type == _CLOSERS.get(token.type)
    if token.type in _CLOSERS and token is not brackets.closer and not closes_open:
        opening = _SYMBOL[_CLOSERS[token.type]]
        return error(
            "E0105",
            f"unmatched `{token}`: no `{opening}` is open here",
            span,
            hint=f"remove it, or add the `{opening}` it was meant to close",
        )
    misuse = _misused_keyword(token, span, brackets)
    if misuse is not None:
        return misuse
    hint = ""
    if token.type == "_SEP" and brackets.stack:
        hint = "the statement is incomplete"
    elif token.type == "INT" and "a name" in expected:
        hint = "names start with a letter or `_`"
    elif "an integer" in expected and "a name" in expected:
        hint = "expected a value: a number, a name, a list or a string"
    elif expected and len(expected) <= 6:
        hint = "expected " + _join_or(expected)
    return error("E0100", f"syntax error: unexpected {found}", span, hint=hint)


_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_LET_BEFORE = re.compile(r"(^|[;{]|\s)let\s+[A-Za-z_]\w*\s*=[^;{}]*$")
_IF_BEFORE = re.compile(r"(^|[;{}]|\s)if\s[^;{}]*$")
_FN_LINE = re.compile(r"\s*fn\s+[A-Za-z_]")


def _misused_keyword(token: Token, span: Span, brackets: Brackets):
    """Named errors for Part 2's keywords used where they cannot stand, or None."""
    if token.type == "ELSE":
        return error(
            "E0106",
            "`else` without `if`",
            span,
            hint="`else { … }` follows the `}` of `if CONDITION { … }`; in an expression write `A if CONDITION else B`",
        )
    if token.type == "ASSERT" and not brackets.stack:
        return error(
            "E0100",
            "syntax error: `assert` stands inside a network or block",
            span,
            hint="move it into the body of the network (or block) it is about",
        )
    lines = brackets.text.splitlines()
    line = lines[token.line - 1] if token.line is not None and token.line <= len(lines) else ""
    before = line[: token.column - 1]
    if token.type == "ARROW" and _LET_BEFORE.search(before.rstrip()):
        return error(
            "E0235",
            "`let` binds a number, list or symbol, not a tensor",
            span,
            hint="bind a tensor without `let`: `name = chain`",
        )
    if _FN_LINE.match(line) and before.strip() == "fn":
        at = line.index("fn") + 1
        keyword = Span(span.file, span.line, at, span.line, at + 2)
        return error("E0100", "syntax error: `fn` defines a function at file level only", keyword, hint="move it out")
    if token in _COMPARISONS and token.type not in ("STRING", "ARROW"):
        return error(
            "E0100",
            f"syntax error: unexpected `{token}`",
            span,
            hint="comparisons do not chain: write `a < b and b < c`",
        )
    if token.type == "EQUAL" and _IF_BEFORE.search(before):
        return error("E0100", "syntax error: unexpected `=`", span, hint="compare with `==`; `=` binds a name")
    return None


def _describe(token: Token) -> str:
    if token.type == "_SEP":
        return "end of line" if "\n" in token else "`;`"
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name `{token}`"
    if token.type in ("INT", "FLOAT"):
        return f"number `{token}`"
    if token.type == "ARROW":
        return "`->`"
    return f"`{token}`"


def _join_or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
