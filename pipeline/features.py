"""FeatureArrays: what every extractor returns and what the cache stores, shared by both stages.

It lives outside ``pipeline.extractors`` so that readers (``pipeline.cache``, ``fusion``) can use
it without importing any extractor module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TIMES = "times_s"
TIME_DIM = "time"


@dataclass(frozen=True)
class FeatureArrays:
    """What an extractor returns for one stream of one recording.

    ``arrays`` maps names to numpy arrays whose axis 0 is the item axis (samples, frames, segments,
    beats). ``times_s`` is aligned with axis 0 and is on the recording's clock (seconds, 0 = trial
    start, the stream's ``offset_s`` already applied): shape ``(N,)`` for points/samples or
    ``(N, 2)`` for ``[start, end)`` intervals. ``attrs`` holds JSON-able per-entry facts (sampling
    rate, channel names, HRV summary, the reason a result is empty, ...).

    So that the cache explains itself (xarray, other tools), an extractor also declares per array
    its dimension names (``dims``; axis 0 is always ``time``), its ``units``, and labels for named
    dimensions (``coords``: e.g. ``{"channel": ["Fz", ...]}``). None of these changes the numbers,
    so none enters the fingerprint; undeclared axes get ``<array>_<axis>`` names.
    """

    times_s: np.ndarray
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)
    dims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    coords: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.times_s)
        if self.times_s.ndim not in (1, 2) or (self.times_s.ndim == 2 and self.times_s.shape[1] != 2):
            raise ValueError(f"times_s must have shape (N,) or (N, 2), got {self.times_s.shape}")
        for name, arr in self.arrays.items():
            if name == "times_s":
                raise ValueError("'times_s' is reserved; pass it as FeatureArrays.times_s")
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ValueError(f"array '{name}' has shape {arr.shape}; axis 0 must match times_s ({n})")
        sizes: dict[str, int] = {}
        for name in (TIMES, *self.arrays):
            for dim, size in zip(self.dims_of(name), self._array(name).shape):
                if sizes.setdefault(dim, size) != size:
                    raise ValueError(f"dimension '{dim}' has size {size} in '{name}' but {sizes[dim]} elsewhere; "
                                     "give the axes distinct names in FeatureArrays.dims")
        for dim, labels in self.coords.items():
            if dim == TIME_DIM or sizes.get(dim, len(labels)) != len(labels):
                raise ValueError(f"coords['{dim}'] has {len(labels)} labels for a dimension of size "
                                 f"{sizes.get(dim)}; 'time' takes no labels (times_s is its coordinate)")

    def _array(self, name: str) -> np.ndarray:
        return self.times_s if name == TIMES else self.arrays[name]

    def dims_of(self, name: str) -> tuple[str, ...]:
        """Dimension names of ``times_s`` or one array: declared, else ``time`` + ``<name>_<axis>``."""
        arr = self._array(name)
        if name == TIMES:
            return (TIME_DIM,) if arr.ndim == 1 else (TIME_DIM, "bound")
        declared = tuple(self.dims.get(name, ()))
        if declared and (len(declared) != arr.ndim or declared[0] != TIME_DIM):
            raise ValueError(f"dims of '{name}' are {declared} for shape {arr.shape}; give one name per axis, "
                             f"the first '{TIME_DIM}'")
        return declared or (TIME_DIM, *(f"{name}_{axis}" for axis in range(1, arr.ndim)))

    def unit_of(self, name: str) -> str:
        """Unit of ``times_s`` (seconds) or of one array (``""`` when undeclared)."""
        return "s" if name == TIMES else self.units.get(name, "")
