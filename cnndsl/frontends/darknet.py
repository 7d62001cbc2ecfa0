"""Darknet `.cfg` (and its `.weights`) to `.cnn` (docs/import.md, Darknet).

Each section after `[net]` is one Darknet layer, numbered from 0 as `[route]`
and `[shortcut]` count them; each becomes one statement of the emitted
network. A layer that a later one refers to is bound as `l<index>`; a value
just before a `[yolo]` or `[region]` is a named output (`yolo<index>`), the
detection decoding itself being left to the caller. Shapes are followed here,
in Darknet's own arithmetic, so that every refusal points at a `.cfg` line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import did_you_mean
from . import Imported, darknet_layers
from .darknet_cfg import SECTIONS, Reader, parse_cfg
from .darknet_weights import read_weights
from .writer import Value, keyed, located, network, network_name, read_text


def read(path: Path, weights: Path | None = None) -> Imported:
    """Import the Darknet `.cfg` at `path`, with the tensors of `weights` (a `.weights` file) if given."""
    return from_text(read_text(path, "E1220", "Darknet cfg"), path, weights)


def from_text(text: str, path, weights: Path | None = None) -> Imported:
    """Import the cfg `text` (errors name `path`)."""
    sections = parse_cfg(text, path)
    if not sections or sections[0].kind not in ("net", "network"):
        line = sections[0].line if sections else 1
        raise located("E1228", "a Darknet cfg must start with a [net] section", path, line)
    reader = Reader(path, sections)
    reader.input = Value(net_shape(reader), None)
    ignored = []
    for index, section in enumerate(sections[1:]):
        reader.section, reader.used = section, set()
        if section.kind not in SECTIONS:
            hint = did_you_mean(section.kind, SECTIONS) or "supported: " + ", ".join(SECTIONS)
            raise located("E1222", f"unknown section [{section.kind}]", path, section.line, 2, len(section.kind), hint)
        darknet_layers.translate(reader, index)
        ignored += reader.unused()
    outputs(reader)
    name = network_name(Path(path).stem, "Darknet")
    header = [f"Imported from the Darknet cfg {Path(path).name} by `cnndsl import`."]
    source = network(name, [("image", reader.input.shape)], reader.statements, header)
    heads = ", ".join(reader.heads)
    notes = [f"outputs {heads} are the raw maps before [yolo]/[region] decoding (not in the graph)"] if heads else []
    notes += ignored
    if weights is not None:
        notes += read_weights(weights, reader.loads, path)
    return Imported(source, keyed(source, reader.statements, f"<import {path}>"), notes)


def net_shape(reader: Reader) -> tuple:
    channels = reader.integer("channels", None, 1)
    height = reader.integer("height", None, 1)
    width = reader.integer("width", None, 1)
    return (channels, height, width)


def outputs(reader: Reader) -> None:
    """With [yolo]/[region] outputs, the network's last value is an output too (Darknet's own output)."""
    if not reader.statements:
        reader.section = reader.sections[0]
        raise reader.error("the cfg has no layers after [net]", code="E1228")
    last = reader.statements[-1]
    if any(s.output for s in reader.statements) and not last.output:
        last.output = True
        last.bind = last.bind or last.hint
