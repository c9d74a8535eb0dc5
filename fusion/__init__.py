"""Stage two: fusion models trained on the feature cache.

Public entry points for other frameworks (``torch.utils.data.Dataset`` classes over the cache),
imported lazily so ``import fusion`` stays light: ``fusion.WindowDataset`` (windows cut from
continuous cached streams, as the fusion trainer sees them) and ``fusion.FeatureWindowDataset``
(rows of a windowed-feature group such as ``eeg-bands``, e.g. for TorchEEG models).
"""

from __future__ import annotations

from typing import Any

__all__ = ["WindowDataset", "FeatureWindowDataset"]


def __getattr__(name: str) -> Any:
    if name == "WindowDataset":
        from fusion.window_dataset import WindowDataset

        return WindowDataset
    if name == "FeatureWindowDataset":
        from fusion.feature_windows import FeatureWindowDataset

        return FeatureWindowDataset
    raise AttributeError(f"module 'fusion' has no attribute {name!r}")
