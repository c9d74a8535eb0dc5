"""Label targets per recording, from the manifest's label scales: one rule for every dataset class.

Why its own module: ``fusion.batches`` (continuous windows) and ``fusion.feature_windows`` (cached
feature rows, used from other frameworks' environments) must binarise labels the same way, and the
latter must not import the training stack to do it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.errors import ConfigError
from pipeline.manifest import LabelScale, Recording


def label_targets(recordings: Sequence[Recording], labels: tuple[str, ...], task: str,
                  scales: dict[str, LabelScale], thresholds: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-recording label targets (R, L) and presence mask: binary = the label scale's rule
    (``LabelScale.binarize``: > or >= its threshold); regression = value rescaled to [0, 1] by the scale."""
    missing = [name for name in labels if name not in scales]
    if missing:
        raise ConfigError(f"labels {missing} have no label scale in the manifest (known: {sorted(scales)}). "
                          "Fix --labels or add label_scales.")
    y = np.zeros((len(recordings), len(labels)), np.float32)
    m = np.zeros_like(y, dtype=bool)
    for i, rec in enumerate(recordings):
        for j, name in enumerate(labels):
            if name not in rec.labels:
                continue
            v, sc = float(rec.labels[name]), scales[name]
            y[i, j] = sc.binarize(v, thresholds.get(name)) if task == "binary" else (v - sc.min) / (sc.max - sc.min)
            m[i, j] = True
    return y, m
