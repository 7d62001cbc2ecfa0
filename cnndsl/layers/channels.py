"""Layers that pick or rearrange channels: `slice`, `chunk`, `pixel_shuffle`, `pixel_unshuffle`.

None of them computes anything (0 FLOPs). `slice` and `chunk` keep the
receptive field; `pixel_shuffle` spreads each position over a factor x factor
block (an upsampling that reads one input position), `pixel_unshuffle` gathers
such a block into one position (a window of factor, stride factor).
"""

from __future__ import annotations

from fractions import Fraction

from ..fields import resample, window
from .args import Arg, ArgError, integer
from .base import Layer, ShapeError, format_shape, register, require_image


def _channels(shape: tuple, kind: str) -> int:
    if len(shape) < 2:
        raise ShapeError(f"`{kind}` needs channels, got {format_shape(shape)}")
    return shape[1]


class _Pick(Layer):
    """A contiguous range of channels, emitted as one ONNX `Slice` on axis 1."""

    family = "shape"

    def bounds(self, channels: int) -> tuple[int, int]:
        raise NotImplementedError

    def output_shape(self, shapes):
        start, stop = self.bounds(_channels(shapes[0], self.kind))
        return (shapes[0][0], stop - start, *shapes[0][2:])

    def onnx(self, emit, inputs, node) -> str:
        start, stop = self.bounds(emit.input_shapes(node)[0][1])
        args = [emit.constant(node, name, [value]) for name, value in (("starts", start), ("ends", stop), ("axes", 1))]
        return emit.op("Slice", [inputs[0], *args], node)


@register
class Slice(_Pick):
    kind = "slice"
    doc = "channels `start … stop-1` (`x[:, start:stop]`, also on `[N, F]`); `0 <= start < stop <= C`"
    onnx_ops = "`Slice`"
    onnx_doc = "constant `starts`, `ends` on `axes=[1]`"
    arguments = (Arg("start", integer(0)), Arg("stop", integer(1)))

    def check(self) -> None:
        start, stop = self.attrs["start"], self.attrs["stop"]
        if stop <= start:
            message = f"stop {stop} must be greater than start {start}"
            raise ArgError(message, "the slice would hold no channels", arg="stop")

    def bounds(self, channels):
        start, stop = self.attrs["start"], self.attrs["stop"]
        if stop > channels:
            raise ShapeError(
                f"`slice({start}, {stop})` is out of range: the input has {channels} channels (0 … {channels - 1})",
                f"stop may be at most {channels}",
            )
        return start, stop

    def label(self) -> str:
        return f"slice {self.attrs['start']}:{self.attrs['stop']}"


@register
class Chunk(_Pick):
    kind = "chunk"
    doc = "the `index`-th (from 0) of `parts` equal channel slices (`torch.chunk`); `parts` must divide C"
    onnx_ops = "`Slice`"
    onnx_doc = "constant `starts`, `ends` on `axes=[1]`"
    arguments = (Arg("parts", integer(1)), Arg("index", integer(0)))

    def check(self) -> None:
        parts, index = self.attrs["parts"], self.attrs["index"]
        if index >= parts:
            hint = f"index counts from 0 to {parts - 1}"
            raise ArgError(f"index {index} is out of range for {parts} parts", hint, arg="index")

    def bounds(self, channels):
        parts, index = self.attrs["parts"], self.attrs["index"]
        if channels % parts:
            raise ShapeError(
                f"`chunk`: {channels} channels do not divide into {parts} equal parts",
                f"choose parts that divide {channels}, or use `slice(start, stop)`",
            )
        size = channels // parts
        return index * size, (index + 1) * size

    def label(self) -> str:
        return f"chunk {self.attrs['index']}/{self.attrs['parts']}"


@register
class PixelShuffle(Layer):
    kind = "pixel_shuffle"
    family = "resample"
    doc = "`[C*r*r, H, W]` to `[C, H*r, W*r]` in PyTorch's channel order (`nn.PixelShuffle`); C must divide by r*r"
    onnx_ops = "`DepthToSpace`"
    onnx_doc = "`mode=CRD`: input channel `c*r*r + i*r + j`, PyTorch's order (`DCR`, the default, is not)"
    arguments = (Arg("factor", integer(1), attr="blocksize"),)

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        n, channels, height, width = shapes[0]
        r = self.attrs["blocksize"]
        if channels % (r * r):
            raise ShapeError(
                f"`pixel_shuffle({r})`: {channels} channels are not divisible by {r}*{r} = {r * r}",
                "the layer before it must make factor*factor channels per output channel",
            )
        return (n, channels // (r * r), height * r, width * r)

    def field(self, fields, shapes, out):
        # every output reads exactly one input position, r outputs per input: nearest upsampling by r
        r = Fraction(self.attrs["blocksize"])
        return None if fields[0] is None else resample(fields[0], (1, 1), (r, r), (0, 0))

    def label(self) -> str:
        return f"pixel_shuffle x{self.attrs['blocksize']}"

    def onnx(self, emit, inputs, node) -> str:
        # DepthToSpace CRD reads channel c*r*r + i*r + j, as PyTorch does (DCR would not)
        return emit.op("DepthToSpace", inputs, node, blocksize=self.attrs["blocksize"], mode="CRD")


@register
class PixelUnshuffle(Layer):
    kind = "pixel_unshuffle"
    family = "resample"
    doc = "`[C, H, W]` to `[C*r*r, H/r, W/r]` (`nn.PixelUnshuffle`); H and W must divide by r"
    onnx_ops = "`Reshape` → `Transpose` → `Reshape`"
    onnx_doc = (
        "`[N, C, H/r, r, W/r, r]`, `perm=[0, 1, 3, 5, 2, 4]`, `[N, C*r*r, H/r, W/r]`; `SpaceToDepth` would put "
        "the block offset before the channel (`(i*r + j)*C + c`), not after as PyTorch does"
    )
    arguments = (Arg("factor", integer(1), attr="blocksize"),)

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        n, channels, height, width = shapes[0]
        r = self.attrs["blocksize"]
        if height % r or width % r:
            raise ShapeError(
                f"`pixel_unshuffle({r})`: the size {height}x{width} is not divisible by {r}",
                "pad or crop the input to a multiple of the factor",
            )
        return (n, channels * r * r, height // r, width // r)

    def field(self, fields, shapes, out):
        r = self.attrs["blocksize"]
        return None if fields[0] is None else window(fields[0], (r, r), (r, r), (0, 0))

    def label(self) -> str:
        return f"pixel_unshuffle /{self.attrs['blocksize']}"

    def onnx(self, emit, inputs, node) -> str:
        # SpaceToDepth puts the block offset before the channel (channel (i*r + j)*C + c);
        # PyTorch puts it after (c*r*r + i*r + j), so rearrange with Reshape/Transpose
        _, channels, height, width = node.shape
        r = self.attrs["blocksize"]
        split = emit.constant(node, "split", [0, channels // (r * r), height, r, width, r])
        blocks = emit.op("Reshape", [inputs[0], split], node, "reshape")
        moved = emit.op("Transpose", [blocks], node, "transpose", perm=[0, 1, 3, 5, 2, 4])
        return emit.op("Reshape", [moved, emit.constant(node, "shape", [0, channels, height, width])], node)
