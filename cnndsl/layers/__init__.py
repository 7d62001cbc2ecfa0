"""Layer kinds, one class each, registered by their source name in :data:`LAYERS`.

Every fact about a kind lives on its class (see :class:`base.Layer` and
docs/architecture.md); a merge is a class whose `arity` is None (`Layer.is_merge`).
"""

from . import activation, channels, conv, dense, merge, norm, normalize, pool, shape  # noqa: F401  (registration)
from .args import Arg, ArgError
from .base import LAYERS, Layer, ShapeError, format_shape
from .shape import Input

__all__ = ["LAYERS", "Arg", "ArgError", "Input", "Layer", "ShapeError", "format_shape"]
