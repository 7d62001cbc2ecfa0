"""The PyTorch backend: `cnndsl export --to pytorch` and :meth:`Network.to_torch`.

Writing the module source needs nothing but cnndsl; running it
(:func:`to_torch`) needs torch, imported here only when called.
"""

from __future__ import annotations

from .codegen import generate

__all__ = ["generate", "to_torch"]


def to_torch(network, seed: int = 0, initial: bool = True):
    """An instance of the generated module, holding the initial weights `compile` would draw with `seed`
    (or PyTorch's own initialisation when `initial` is false)."""
    from ..weightfiles import import_torch, initial_state

    torch = import_torch()

    namespace: dict = {"__name__": f"cnndsl_generated_{network.name}"}
    source = generate(network)
    exec(compile(source, f"<cnndsl export {network.name}>", "exec"), namespace)  # noqa: S102 - our own output
    module = namespace[class_name(source)]()
    if not initial:
        return module
    state = {key: torch.from_numpy(array) for key, array in initial_state(network, seed).items()}
    module.load_state_dict(state, strict=False)
    return module


def class_name(source: str) -> str:
    """The network's class: the last class of the generated file."""
    return [line for line in source.splitlines() if line.startswith("class ")][-1][6:].split("(")[0]
