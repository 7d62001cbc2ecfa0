"""`cnndsl sizes FILE`: which input sizes are valid, exactly (docs/sizes.md)."""

from __future__ import annotations

import json
import sys

from ..errors import usage_error

DEFAULT_RANGE = (1, 1024)
MAX_RANGE = 10_000_000


def command(args) -> int:
    from ..network import parse_overrides
    from ..sizes import analyse_sizes
    from ..sizes.symbolic import load, program_of

    low, high = parse_range(args.range)
    loaded = load(program_of(args.file), args.network, parse_overrides(args.overrides), concrete_axes=True)
    answers = analyse_sizes(loaded)
    result = {name: describe(answer, low, high, args.near) for name, answer in answers.items()}
    if args.format == "json":
        text = json.dumps({"network": loaded.network.name, "range": [low, high], "variables": result}, indent=2)
    else:
        text = table(result, low, high, loaded)
    sys.stdout.write(text + "\n")
    return 0


def parse_range(text: str | None) -> tuple[int, int]:
    if text is None:
        return DEFAULT_RANGE
    lo, sep, hi = text.partition("..")
    try:
        low, high = int(lo), int(hi)
    except ValueError:
        low = high = None
    if not sep or low is None or not 1 <= low <= high or high - low > MAX_RANGE:
        raise usage_error(
            f"--range expects LO..HI with 1 <= LO <= HI and at most {MAX_RANGE:,} values, got `{text}`",
            hint="for example --range 1..1024",
        )
    return low, high


def describe(answer, low: int, high: int, near: int | None) -> dict:
    out = {
        "smallest": answer.smallest,
        "period": answer.period,
        "residues": answer.residues,
        "stable_from": answer.stable_from,
        "valid": answer.valid(low, high),
    }
    if near is not None:
        below, above = answer.nearest(near)
        out["near"] = {"value": near, "below": below, "above": above, "valid": answer.is_valid(near)}
    return out


def table(result: dict, low: int, high: int, loaded) -> str:
    lines = [f"{loaded.network.name}: valid input sizes"]
    if not result:
        lines.append("no input has a height or width: nothing depends on an input size")
    for name, facts in result.items():
        lines.append("")
        lines.append(f"{name}:")
        lines.append(f"  smallest   {facts['smallest'] if facts['smallest'] is not None else 'none'}")
        if facts["period"] == 1:
            lines.append(f"  pattern    every value from {facts['stable_from']} on")
        elif facts["period"]:
            forms = ", ".join(f"{facts['period']}k + {r}" if r else f"{facts['period']}k" for r in facts["residues"])
            lines.append(f"  pattern    {forms}  (every such value from {facts['stable_from']} on)")
        else:
            lines.append("  pattern    none: finitely many values are valid")
        valid = facts["valid"]
        lines.append(f"  in {low}..{high}: {len(valid)} valid{': ' + _runs(valid) if valid else ''}")
        if "near" in facts:
            near = facts["near"]
            state = "valid" if near["valid"] else "not valid"
            below, above = _or_none(near["below"]), _or_none(near["above"])
            lines.append(f"  near {near['value']} ({state}): below {below}, above {above}")
    return "\n".join(lines)


def _runs(values: list[int], most: int = 12) -> str:
    """`1..5, 7, 9..12`, cut after `most` pieces."""
    spans, start, prev = [], values[0], values[0]
    for value in values[1:]:
        if value != prev + 1:
            spans.append((start, prev))
            start = value
        prev = value
    spans.append((start, prev))
    pieces = [str(a) if a == b else f"{a}..{b}" for a, b in spans]
    more = f", … ({len(pieces) - most} more)" if len(pieces) > most else ""
    return ", ".join(pieces[:most]) + more


def _or_none(value) -> str:
    return "none" if value is None else str(value)
