"""Windowed-feature cache groups (``eeg-bands``) as a torch Dataset, for models of other frameworks.

Why: a TorchEEG user keeps their model (``CCNN``, ``EEGNet``, ...) and takes eegavi's cache instead
of TorchEEG's ``io_path``. ``WindowDataset`` cuts windows from continuous cached signals for the
fusion model; a windowed-feature group already holds one feature row per window (band DE
``(channels, bands)``), so this dataset returns those rows with labels, subject and recording, read
from the cache alone (the group ``cli extract`` marked current, or one named by path): no
extractor, signal library or weights are imported, so it runs in another framework's environment.
The rows of the selected recordings are read into memory once (32 subjects of DEAP band DE: 39 MB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from fusion.label_targets import label_targets
from pipeline.cache import FeatureCache
from pipeline.errors import ConfigError
from pipeline.manifest import Manifest, Recording, load_manifest
from pipeline.resolve import check_complete, read_current_group


class FeatureWindowDataset(torch.utils.data.Dataset):
    """Rows of one windowed-feature group; item ``i`` is window ``i`` in manifest order as a dict:
    ``features`` (``transform`` of the row, by default a float32 tensor (C, B)), ``labels`` and
    ``label_mask`` (L,), ``subject``, ``recording``, ``window`` (index in its recording), ``start_s``.

    ``manifest``: the manifest YAML (subjects, labels) or a loaded ``Manifest``; the cache is the one
    it names unless ``cache`` is given. ``group``: a group path (``eeg/eeg-bands-...``, see
    ``cli cache ls``) instead of the current one. ``labels`` with ``task='binary'`` use the manifest's
    label scale (``--threshold``-style overrides in ``thresholds``); ``'regression'`` rescales to [0, 1].
    """

    def __init__(self, manifest: str | Path | Manifest, extractor: str = "eeg-bands", array: str = "de",
                 labels: Iterable[str] = (), task: str = "binary", thresholds: dict[str, float] | None = None,
                 recordings: Iterable[str] | None = None, subjects: Iterable[str] | None = None,
                 cache: str | Path | None = None, group: str | None = None, modality: str = "eeg",
                 transform: Callable[[np.ndarray], Any] | None = None) -> None:
        m = manifest if isinstance(manifest, Manifest) else load_manifest(Path(manifest), check_files=False)
        if task not in ("binary", "regression"):
            raise ConfigError(f"task '{task}': expected 'binary' or 'regression'")
        fc = FeatureCache(str(cache or m.cache))
        self.group_path = group or read_current_group(fc, modality, extractor).path
        info = fc.group(self.group_path)
        keep_ids = None if recordings is None else set(recordings)
        keep_subjects = None if subjects is None else set(subjects)
        chosen = [(rec, s.name) for rec in m.recordings for s in rec.streams_of(info.modality)
                  if (keep_ids is None or rec.id in keep_ids)
                  and (keep_subjects is None or rec.subject in keep_subjects)]
        if not chosen:
            raise ConfigError(f"{m.path}: no {info.modality} recording matches recordings={keep_ids}, "
                              f"subjects={keep_subjects}. Check the ids against the manifest.")
        check_complete(fc, info, m, recordings={rec.id for rec, _ in chosen})
        self.labels = tuple(labels)
        self.transform = transform
        rows, starts, recs, index = [], [], [], []
        self.attrs: dict[str, Any] = {}    # the extractor's per-entry facts (bands, ch_names: alike across entries)
        for i, (rec, stream) in enumerate(chosen):
            feats = fc.read_entry(self.group_path, rec.id, stream)
            if array not in feats.arrays:
                raise ConfigError(f"{self.group_path}: no array '{array}' (has {sorted(feats.arrays)}); pass array=")
            rows.append(feats.arrays[array])
            starts.append(np.asarray(feats.times_s)[:, 0] if np.ndim(feats.times_s) == 2 else feats.times_s)
            recs.append(np.full(len(rows[-1]), i))
            index.append(np.arange(len(rows[-1])))
            self.attrs = feats.attrs
        self.features = np.concatenate(rows)                       # (W, ...) e.g. (W, C, B) float32
        self.start_s = np.concatenate(starts)                      # (W,)
        self.window = np.concatenate(index)                        # (W,) index within its recording
        self._rec = np.concatenate(recs)                           # (W,) into self.recordings
        self.recordings: list[Recording] = [rec for rec, _ in chosen]
        self._y, self._ym = label_targets(self.recordings, self.labels, task, m.label_scales, dict(thresholds or {}))

    @property
    def recording_ids(self) -> np.ndarray:
        """(W,) recording id of each window."""
        return np.asarray([r.id for r in self.recordings])[self._rec]

    @property
    def subject_ids(self) -> np.ndarray:
        """(W,) subject of each window (for subject-wise splits)."""
        return np.asarray([r.subject for r in self.recordings])[self._rec]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} out of range (0..{len(self) - 1})")
        row = self.features[i]
        r = int(self._rec[i])
        return {"features": self.transform(row) if self.transform else torch.from_numpy(np.array(row)),
                "labels": torch.from_numpy(self._y[r]), "label_mask": torch.from_numpy(self._ym[r]),
                "subject": self.recordings[r].subject, "recording": self.recordings[r].id,
                "window": int(self.window[i]), "start_s": float(self.start_s[i])}

