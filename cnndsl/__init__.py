"""cnndsl: a declarative language and compiler for convolutional neural networks.

>>> import cnndsl
>>> net = cnndsl.loads("network N { input x: [3, 32, 32]; conv(8, 3, pad=1) -> bn -> relu }")
>>> net.totals["params"], net.totals["state"]
(240, 16)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import CnnError  # noqa: E402
from .network import Network, load, loads  # noqa: E402

__all__ = ["CnnError", "Network", "load", "loads", "__version__"]
