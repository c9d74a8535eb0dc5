"""An ``eeg-bands`` cache group as DEAP windows: (subject, trial, k) keys and DE arrays.

Used by ``bench/peer_torcheeg.py`` to line eegavi's windows up with TorchEEG's. It reads the cache
through the public ``fusion.FeatureWindowDataset`` (cache alone, no extractor), so the comparison
and the interop check in the TorchEEG venv exercise what users call; only the DEAP keys are added.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fusion.feature_windows import FeatureWindowDataset
from pipeline.errors import CacheError

_DEAP_ID = re.compile(r"^deap-s(\d+)-v(\d+)$")


class BandWindows:
    """All windows of one eeg-bands group, in manifest order; ``de`` is (W, C, B) float32."""

    def __init__(self, cache: str | Path, manifest: str | Path, group: str | None = None) -> None:
        self.dataset = FeatureWindowDataset(manifest, cache=cache, group=group)
        self.group_path = self.dataset.group_path
        pairs = [_deap_key(rid) for rid in self.dataset.recording_ids]
        subject, trial = (np.asarray(col, dtype=np.int64) for col in zip(*pairs))
        self.keys = np.stack([subject, trial, self.dataset.window], axis=1)    # (W, 3)
        self.de = self.dataset.features                                         # (W, C, B)


def _deap_key(recording_id: str) -> tuple[int, int]:
    """(subject, 0-based trial) of a DEAP adapter recording id such as deap-s01-v07."""
    match = _DEAP_ID.match(recording_id)
    if not match:
        raise CacheError(f"recording '{recording_id}' is not a DEAP adapter id (deap-sNN-vNN)")
    return int(match.group(1)), int(match.group(2)) - 1
