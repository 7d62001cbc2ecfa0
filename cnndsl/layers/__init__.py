"""Layer kinds, one class each, registered by their source name in :data:`LAYERS`."""

from . import activation, channels, conv, dense, merge, norm, normalize, pool, shape  # noqa: F401  (registration)
from .args import Arg, ArgError
from .base import LAYERS, Layer, ShapeError, format_shape
from .shape import Input

MERGES = ("concat", "add", "mul")

__all__ = ["LAYERS", "MERGES", "Arg", "ArgError", "Input", "Layer", "ShapeError", "format_shape"]
