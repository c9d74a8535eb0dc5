"""FeatureArrays: what every extractor returns and what the cache stores, shared by both stages.

It lives outside ``pipeline.extractors`` so that readers (``pipeline.cache``, ``fusion``) can use
it without importing any extractor module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FeatureArrays:
    """What an extractor returns for one stream of one recording.

    ``arrays`` maps names to numpy arrays whose axis 0 is the item axis (samples, frames, segments,
    beats). ``times_s`` is aligned with axis 0 and is on the recording's clock (seconds, 0 = trial
    start, the stream's ``offset_s`` already applied): shape ``(N,)`` for points/samples or
    ``(N, 2)`` for ``[start, end)`` intervals. ``attrs`` holds JSON-able per-entry facts (sampling
    rate, channel names, HRV summary, the reason a result is empty, ...).
    """

    times_s: np.ndarray
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.times_s)
        if self.times_s.ndim not in (1, 2) or (self.times_s.ndim == 2 and self.times_s.shape[1] != 2):
            raise ValueError(f"times_s must have shape (N,) or (N, 2), got {self.times_s.shape}")
        for name, arr in self.arrays.items():
            if name == "times_s":
                raise ValueError("'times_s' is reserved; pass it as FeatureArrays.times_s")
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ValueError(f"array '{name}' has shape {arr.shape}; axis 0 must match times_s ({n})")
