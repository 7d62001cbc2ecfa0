"""Rows and totals -> table, JSON, Markdown or CSV. Computes nothing itself."""

from __future__ import annotations

import csv
import gc
import io
import json

FORMATS = ("table", "json", "markdown", "csv")
COLUMNS = ("Layer", "Op", "Output shape", "Params", "MACs", "RF", "Source")
NUMERIC = {"Params", "MACs"}


def render(network, format: str = "table", depth: int | None = None, colour: bool = False) -> str:
    enabled = gc.isenabled()
    gc.disable()  # rows and text are many small acyclic objects: collections would only cost time
    try:
        return _render(network, format, depth, colour)
    finally:
        if enabled:
            gc.enable()


def _render(network, format: str, depth: int | None, colour: bool) -> str:
    if format == "json":
        return json_text(json_report(network, depth))
    if format == "csv":
        return _csv(network, depth)
    if format == "markdown":
        return _markdown(network, depth)
    if format == "table":
        return _table(network, depth, colour)
    raise ValueError(f"unknown report format {format!r}; choose from {', '.join(FORMATS)}")


def json_report(network, depth: int | None = None) -> dict:
    return {
        "network": network.name,
        "source": network.source,
        "totals": network.totals,
        "inputs": network.inputs,
        "outputs": network.outputs,
        "values": network.values,
        "nodes": [_json_row(row) for row in network.rows(depth)],
        "warnings": [w.to_json() for w in network.warnings],
    }


def json_text(report: dict) -> str:
    """The JSON report indented by 2, each node on one line: as readable, and json's C encoder
    writes a row 5x faster than its indenting Python one (3 s of a 70,000-node report)."""
    parts = []
    for key, value in report.items():
        if key == "nodes" and value:
            rows = ",\n".join("    " + json.dumps(row) for row in value)
            parts.append(f'  "nodes": [\n{rows}\n  ]')
        else:  # JSON text holds no raw line breaks: indenting every line is safe
            parts.append(f"  {json.dumps(key)}: " + json.dumps(value, indent=2).replace("\n", "\n  "))
    return "{\n" + ",\n".join(parts) + "\n}"


def _json_row(row) -> dict:
    return {
        "name": row.name,
        "op": row.op,
        "label": row.label,
        "source": row.source,
        "inputs": row.inputs,
        "shape": list(row.shape),
        "params": row.params,
        "trainable": row.trainable,
        "frozen": row.params - row.trainable,
        "state": row.state,
        "macs": row.macs,
        "flops": row.flops,
        "activation_bytes": row.activation_bytes,
        "rf": row.field.to_json() if row.field else None,
    }


def shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def field_text(field) -> str:
    if field is None:
        return "-"
    if field.whole:
        return "global"
    data = field.to_json()
    size, stride = data["size"], data["stride"]
    size_part = f"{size[0]}" if size[0] == size[1] else f"{size[0]}x{size[1]}"
    stride_part = f"{stride[0]:g}" if stride[0] == stride[1] else f"{stride[0]:g}x{stride[1]:g}"
    return f"{size_part} /{stride_part}"


def _cells(row, main: str) -> list[str]:
    label = row.label if row.op != "block" else f"{row.label} (block)"
    file, line, _ = row.source.rsplit(":", 2)
    where = line if file == main else f"{file}:{line}"
    return [row.name, label, shape_text(row.shape), count(row.params), count(row.macs), field_text(row.field), where]


def count(n) -> str:
    """12,345; a formula of the input sizes (a symbolic program, docs/sizes.md) as it is."""
    return f"{n:,}" if isinstance(n, int) else str(n)


def _amount(n) -> str:
    return f"{n:,} ({human(n)})" if isinstance(n, int) else str(n)


def human(n: float, unit: str = "") -> str:
    """25557032 -> '25.6 M'."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.1f} {suffix}{unit}"
    return f"{n:g} {unit}".rstrip()


def human_bytes(n: int) -> str:
    for factor, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= factor:
            return f"{n / factor:.1f} {suffix}"
    return f"{n} B"


def _bytes(n) -> str:
    if isinstance(n, int):
        return human_bytes(n)
    text = str(n)  # a formula of the input sizes (docs/sizes.md)
    return f"{text} B" if len(text) <= 160 else "(a long formula: see --format json)"


def _summary_lines(network) -> list[str]:
    t = network.totals
    ins = ", ".join(f"{i['name']} {shape_text(i['shape'])}" for i in network.inputs)
    outs = ", ".join(f"{o['name']} {shape_text(o['shape'])}" for o in network.outputs)
    return [
        f"Params:      {t['params']:,} ({human(t['params'])})  trainable {t['trainable']:,}  frozen {t['frozen']:,}",
        f"BN state:    {t['state']:,}",
        f"MACs:        {_amount(t['macs'])}",
        f"FLOPs:       {_amount(t['flops'])}",
        f"Activations: {_bytes(t['activation_bytes'])} total, peak {_bytes(t['peak_activation_bytes'])} "
        "(float32, one sample)",
        f"Inputs:      {ins}",
        f"Outputs:     {outs}",
    ]


def _table(network, depth, colour: bool) -> str:
    rows = [_cells(r, network.source) for r in network.rows(depth)]
    header = list(COLUMNS)
    header[-1] = "Line"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells):
        parts = [c.rjust(w) if header[i] in NUMERIC else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    rule = "=" * len(line(["" for _ in header]).ljust(sum(widths) + 2 * (len(widths) - 1)))
    bold = ("\033[1m", "\033[0m") if colour else ("", "")
    out = [f"{bold[0]}{network.name}{bold[1]}  ({network.source})", rule, line(header), "-" * len(rule)]
    out += [line(r) for r in rows]
    out += [rule, *_summary_lines(network)]
    return "\n".join(out)


def _markdown(network, depth) -> str:
    rows = network.rows(depth)
    head = "| " + " | ".join(COLUMNS) + " |"
    align = "|" + "|".join("---:" if c in NUMERIC else "---" for c in COLUMNS) + "|"
    body = []
    for row in rows:
        cells = _cells(row, network.source)
        cells[-1] = row.source
        body.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    summary = "\n".join(f"- {line}" for line in _summary_lines(network))
    return f"## {network.name}\n\n{head}\n{align}\n" + "\n".join(body) + f"\n\n{summary}\n"


def _csv(network, depth) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "name",
            "op",
            "label",
            "shape",
            "params",
            "trainable",
            "state",
            "macs",
            "flops",
            "activation_bytes",
            "rf_size",
            "rf_stride",
            "rf_padding",
            "source",
            "rf_global",
        ]
    )
    for row in network.rows(depth):
        rf = row.field.to_json() if row.field else {"size": "", "stride": "", "padding": ""}
        writer.writerow(
            [
                row.name,
                row.op,
                row.label,
                " ".join(map(str, row.shape)),
                row.params,
                row.trainable,
                row.state,
                row.macs,
                row.flops,
                row.activation_bytes,
                *(" ".join(map(str, rf[k])) if rf[k] != "" else "" for k in ("size", "stride", "padding")),
                row.source,
                "true" if row.field is not None and row.field.whole else "",
            ]
        )
    return buffer.getvalue()
