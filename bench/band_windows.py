"""Read an ``eeg-bands`` cache group as windows: (subject, trial, k) keys, DE arrays and labels.

Used by ``bench/peer_torcheeg.py`` (comparisons) and, in the TorchEEG venv, by the interop check
(a ``torch.utils.data.Dataset`` over the cache). It reads the cache alone: no extractor runs. The
group is given by path, or is the only eeg-bands group of the cache. It imports neither the
extractors nor ``pipeline.resolve`` (which re-checks library versions): the TorchEEG venv has other
scipy/mne versions than the environment that built the cache, and none of the extractors' libraries.
TODO: replace with ``fusion.WindowDataset`` once it reads windowed-feature groups.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.cache import FeatureCache
from pipeline.errors import CacheError
from pipeline.manifest import load_manifest

_DEAP_ID = re.compile(r"^deap-s(\d+)-v(\d+)$")


class BandWindows:
    """All windows of one eeg-bands group, in manifest order; ``de`` is (W, C, B) float32."""

    def __init__(self, cache: str | Path, manifest: str | Path, label: str | None = None,
                 group: str | None = None) -> None:
        m = load_manifest(Path(manifest), check_files=False)
        fc = FeatureCache(str(cache))
        self.group_path = group or _only_band_group(fc, cache, manifest)
        complete = fc.complete_entries(self.group_path)
        if not complete:
            raise CacheError(f"{cache}: group '{self.group_path}' has no complete entry. Check the group path "
                             f"(`cli cache ls -m {manifest}`) or build it with `cli extract eeg --features bands`.")
        keys, de, labels = [], [], []
        for rec in m.recordings:
            for stream in rec.streams_of("eeg"):
                if (rec.id, stream.name) not in complete:
                    continue
                feats = fc.read_entry(self.group_path, rec.id, stream.name)
                subject, trial = _deap_key(rec.id)
                n = len(feats.times_s)
                keys.append(np.stack([np.full(n, subject), np.full(n, trial), np.arange(n)], axis=1))
                de.append(feats.arrays["de"])
                if label is not None:
                    labels.append(np.full(n, int(rec.labels[label] > 5.0)))
                self.bands = feats.attrs.get("bands", [])
        self.keys = np.concatenate(keys) if keys else np.zeros((0, 3), dtype=np.int64)   # (W, 3)
        self.de = np.concatenate(de) if de else np.zeros((0, 32, 4), dtype=np.float32)   # (W, C, B)
        self.labels = np.concatenate(labels) if labels else None                          # (W,)

    def torch_dataset(self, transform: Callable[[np.ndarray], Any]):
        """A map-style torch Dataset of (transform(de), label) pairs."""
        import torch

        outer = self

        class _Dataset(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return len(outer.de)

            def __getitem__(self, i: int):
                return transform(outer.de[i]), int(outer.labels[i])

        return _Dataset()


def _only_band_group(fc: FeatureCache, cache: str | Path, manifest: str | Path) -> str:
    paths = [g.path for g in fc.groups("eeg") if g.extractor == "eeg-bands"]
    if len(paths) != 1:
        raise CacheError(f"{cache}: {len(paths)} eeg-bands groups ({paths}); pass the one to read as `group`. "
                         f"Build one with `cli extract eeg --features bands -m {manifest}`.")
    return paths[0]


def _deap_key(recording_id: str) -> tuple[int, int]:
    """(subject, 0-based trial) of a DEAP adapter recording id such as deap-s01-v07."""
    match = _DEAP_ID.match(recording_id)
    if not match:
        raise CacheError(f"recording '{recording_id}' is not a DEAP adapter id (deap-sNN-vNN)")
    return int(match.group(1)), int(match.group(2)) - 1
