"""Stage two: fusion models trained on the feature cache.

``fusion.WindowDataset`` is the public entry point for other frameworks (a ``torch.utils.data.Dataset``
over cached windows); it is imported lazily so ``import fusion`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WindowDataset"]


def __getattr__(name: str) -> Any:
    if name == "WindowDataset":
        from fusion.window_dataset import WindowDataset

        return WindowDataset
    raise AttributeError(f"module 'fusion' has no attribute {name!r}")
