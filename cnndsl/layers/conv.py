"""Convolutions: `conv`, `dwconv`, `convT`."""

from __future__ import annotations

from ..fields import resample, transposed_span, window
from .args import LEARNABLE_ARGS, Arg, ArgError, boolean, integer, padding, pair
from .base import Layer, ShapeError, elements, register, require_image, size_text, spatial
from .kernels import kernel_for, weights
from .window import effective, output_sizes, same_pads, transposed_sizes


class _Convolution(Layer):
    family = "conv"
    learnable = True

    def trainable_by_default(self) -> bool:
        return self.attrs.get("weights") is None  # a fixed kernel (`weights=`) is frozen

    def in_channels(self, shapes) -> int:
        return shapes[0][1]

    def out_channels(self, shapes) -> int:
        return self.attrs["out"]

    def group_count(self, shapes) -> int:
        return self.attrs["group"]

    def pads_for(self, shape) -> tuple:
        """The explicit (top, left, bottom, right) pads, resolving `same`."""
        pads = self.attrs["pads"]
        if pads == "same":
            return same_pads(spatial(shape), self.attrs["kernel_shape"], self.attrs["strides"], self.attrs["dilations"])
        return pads

    def check(self) -> None:
        request = self.attrs.get("weights")
        if request is not None:
            try:
                kernel_for(request, *self.attrs["kernel_shape"])
            except ArgError as exc:
                exc.arg = "weights"
                raise

    def _check_groups(self, shapes) -> None:
        cin, cout, groups = self.in_channels(shapes), self.out_channels(shapes), self.group_count(shapes)
        for what, channels in (("input", cin), ("output", cout)):
            if channels % groups:
                raise ShapeError(
                    f"`{self.kind}`: {channels} {what} channels are not divisible by groups={groups}",
                    f"choose groups that divide both {cin} and {cout}",
                )

    def weight_shape(self, shapes) -> tuple:
        kh, kw = self.attrs["kernel_shape"]
        return (self.out_channels(shapes), self.in_channels(shapes) // self.group_count(shapes), kh, kw)

    def parameters(self, shapes, out):
        o, i, kh, kw = self.weight_shape(shapes)
        return o * i * kh * kw + (out[1] if self.attrs["bias"] else 0)

    def flops(self, shapes, out):
        # one multiply and one add per MAC; the first add of each output is the bias
        return 2 * self.macs(shapes, out) - (0 if self.attrs["bias"] else elements(out))

    onnx_op = "Conv"

    def onnx(self, emit, inputs, node) -> str:
        shapes = emit.input_shapes(node)
        shape = self.weight_shape(shapes)
        request = self.attrs.get("weights")
        if request is None:
            weight = emit.weight(node, "weight", shape)
        else:
            weight = emit.fixed(node, "weight", kernel_for(request, *self.attrs["kernel_shape"]), shape)
        args = [inputs[0], weight]
        if self.attrs["bias"]:
            args.append(emit.filled(node, "bias", (self.out_channels(shapes),), 0.0))
        return emit.op(self.onnx_op, args, node, **self.onnx_window(shapes))

    def onnx_window(self, shapes) -> dict:
        a = self.attrs
        return {
            "kernel_shape": a["kernel_shape"],
            "strides": a["strides"],
            "pads": self.pads_for(shapes[0]),
            "dilations": a["dilations"],
            "group": self.group_count(shapes),
        }

    def label(self) -> str:
        stride = self.attrs["strides"]
        text = f"{self.kind} {'x'.join(map(str, self.attrs['kernel_shape']))}"
        text += f" /{size_text(stride)}" if stride != (1, 1) else ""
        text += f" d{size_text(self.attrs['dilations'])}" if self.attrs.get("dilations", (1, 1)) != (1, 1) else ""
        return text + (f", {self.attrs['out']}" if "out" in self.attrs else "")


CONV_ARGS = (
    Arg("kernel", pair(), attr="kernel_shape"),
    Arg("stride", pair(), 1, attr="strides"),
    Arg("pad", padding, 0, attr="pads"),
    Arg("dilation", pair(), 1, attr="dilations"),
)


@register
class Conv(_Convolution):
    kind = "conv"
    doc = (
        "2-D convolution (cross-correlation); `kernel`, `stride`, `dilation`: int or `[h, w]`; `pad`: int, "
        "`[h, w]`, `[top, left, bottom, right]`, `same` or `valid`"
    )
    onnx_doc = (
        "`kernel_shape`, `strides`, `pads` (`same` resolved to explicit pads, the odd pixel at the end), "
        "`dilations`, `group`; weight `[out, in/groups, kh, kw]`, bias `[out]`"
    )
    params_doc = "`out * in/groups * kh * kw` (+ `out` with bias)"
    flops_doc = "`2 * MACs` with bias; `2 * MACs - outputs` without (the first add of each output is the bias)"
    arguments = (
        Arg("out", integer()),
        *CONV_ARGS,
        Arg("groups", integer(), 1, attr="group"),
        Arg("bias", boolean, True),
        Arg("weights", weights, None, doc="a fixed kernel: a name (sobel_x, box, gaussian(s), ...) or a list"),
        *LEARNABLE_ARGS,
    )

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        self._check_groups(shapes)
        a = self.attrs
        sizes = output_sizes(
            self.kind, spatial(shapes[0]), a["kernel_shape"], a["strides"], self.pads_for(shapes[0]), a["dilations"]
        )
        return ("N", self.out_channels(shapes), *sizes)

    def macs(self, shapes, out):
        _, per_group, kh, kw = self.weight_shape(shapes)
        return elements(out) * per_group * kh * kw

    def field(self, fields, shapes, out):
        if fields[0] is None:
            return None
        a = self.attrs
        kernel = tuple(effective(k, d) for k, d in zip(a["kernel_shape"], a["dilations"]))
        return window(fields[0], kernel, a["strides"], self.pads_for(shapes[0])[:2])


@register
class DepthwiseConv(Conv):
    kind = "dwconv"
    doc = "depthwise convolution: `groups = in channels`, `out = in channels * mult`"
    onnx_doc = "`group` = input channels, weight `[in*mult, 1, kh, kw]`"
    params_doc = "`out * in/groups * kh * kw` (+ `out` with bias)"
    flops_doc = "`2 * MACs` with bias; `2 * MACs - outputs` without (the first add of each output is the bias)"
    arguments = (
        *CONV_ARGS,
        Arg("mult", integer(), 1),
        Arg("bias", boolean, True),
        *LEARNABLE_ARGS,
    )

    def out_channels(self, shapes) -> int:
        return self.in_channels(shapes) * self.attrs["mult"]

    def group_count(self, shapes) -> int:
        return self.in_channels(shapes)

    def label(self) -> str:
        mult = self.attrs["mult"]
        return super().label() + (f", x{mult}" if mult != 1 else "")


@register
class ConvTranspose(_Convolution):
    kind = "convT"
    doc = (
        "transposed convolution (learned upsampling); `output_pad` must be smaller than the stride "
        "(onnxruntime's limit)"
    )
    onnx_doc = "as `conv` plus `output_padding`; weight `[in, out/groups, kh, kw]`"
    params_doc = "`in * out/groups * kh * kw` (+ `out` with bias)"
    flops_doc = "`2 * MACs` with bias; `2 * MACs - outputs` without (the first add of each output is the bias)"
    arguments = (
        Arg("out", integer()),
        *CONV_ARGS,
        Arg("output_pad", pair(0), 0, attr="output_padding"),
        Arg("groups", integer(), 1, attr="group"),
        Arg("bias", boolean, True),
        *LEARNABLE_ARGS,
    )

    def check(self) -> None:
        a = self.attrs
        for i, axis in enumerate(("height", "width")):
            if a["output_padding"][i] >= a["strides"][i]:
                raise ArgError(
                    f"output_pad {a['output_padding'][i]} on the {axis} must be smaller than the stride "
                    f"({a['strides'][i]})",
                    "output_pad only resolves the ambiguity of a strided transposed convolution",
                    arg="output_pad",
                )

    def weight_shape(self, shapes) -> tuple:
        kh, kw = self.attrs["kernel_shape"]
        return (self.in_channels(shapes), self.out_channels(shapes) // self.group_count(shapes), kh, kw)

    onnx_op = "ConvTranspose"

    def onnx_window(self, shapes) -> dict:
        return {**super().onnx_window(shapes), "output_padding": self.attrs["output_padding"]}

    def pads_for(self, shape) -> tuple:
        if self.attrs["pads"] != "same":
            return self.attrs["pads"]
        a, begin, end = self.attrs, [], []
        for size, k, s, d, extra in zip(
            spatial(shape), a["kernel_shape"], a["strides"], a["dilations"], a["output_padding"]
        ):
            total = max((size - 1) * s + effective(k, d) + extra - size * s, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return (*begin, *end)

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        self._check_groups(shapes)
        a = self.attrs
        sizes = transposed_sizes(
            self.kind,
            spatial(shapes[0]),
            a["kernel_shape"],
            a["strides"],
            self.pads_for(shapes[0]),
            a["output_padding"],
            a["dilations"],
        )
        return ("N", self.out_channels(shapes), *sizes)

    def macs(self, shapes, out):
        _, per_group, kh, kw = self.weight_shape(shapes)
        return elements(shapes[0]) * per_group * kh * kw

    def field(self, fields, shapes, out):
        if fields[0] is None:
            return None
        a, pads = self.attrs, self.pads_for(shapes[0])
        spans = [transposed_span(a["kernel_shape"][i], a["strides"][i], pads[i], a["dilations"][i]) for i in range(2)]
        return resample(fields[0], tuple(s for s, _ in spans), a["strides"], tuple(f for _, f in spans))
