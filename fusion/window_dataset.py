"""``WindowDataset``: the trainer's windows as a ``torch.utils.data.Dataset`` for your own model.

It reads the cache exactly as ``cli train fusion`` does (``fusion.data.prepare_data``: the current
group of each modality from the cache alone, reachable input files checked), cuts the same windows,
fits the same normaliser on its own recordings (pass ``normaliser`` to reuse another split's) and
encodes the labels by the manifest's label scales. ``collate`` assembles a batch with the trainer's
own ``fusion.batches.make_batch``, so a DataLoader over it yields the very tensors the trainer sees
(without the trainer's augmentation and modality dropout). Example (plain PyTorch, EEG only)::

    ds = WindowDataset("data_manifest.yaml", labels=("valence",), window_s=4, hop_s=2)
    loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=ds.collate)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(1))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for batch in loader:
        logits = net(batch.eeg)[:, 0]                              # eeg: (B, C, T)
        loss = F.binary_cross_entropy_with_logits(logits[batch.label_mask[:, 0]],
                                                  batch.labels[batch.label_mask[:, 0], 0])
        opt.zero_grad(); loss.backward(); opt.step()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fusion.batches import Batch, BatchOrder, encode_labels, make_batch
from fusion.data import Prepared, prepare_data
from fusion.normalise import Normaliser, fit_normaliser
from pipeline.cache import FeatureCache
from pipeline.errors import ConfigError
from pipeline.manifest import Manifest, load_manifest


class WindowDataset(torch.utils.data.Dataset):
    """Windows of cached recordings with masks and labels; item ``i`` is window ``i`` as a dict of
    tensors (``eeg`` (C, T), ``inputs``/``masks`` per stream, ``labels``/``label_mask`` (L,),
    ``subject``, ``index``), and ``collate`` turns a list of items into a ``fusion.batches.Batch``.

    ``manifest``: a manifest YAML path or a loaded ``Manifest`` (it holds the subjects and labels;
    the cache is the one it names unless ``cache`` is given). ``recordings``/``subjects`` keep only
    those (e.g. one split's); the pad sizes are computed over all recordings, as the trainer does.
    """

    def __init__(self, manifest: str | Path | Manifest, modalities: Iterable[str] = ("eeg",),
                 labels: Iterable[str] = (), window_s: float = 4.0, hop_s: float = 2.0, task: str = "binary",
                 recordings: Iterable[str] | None = None, subjects: Iterable[str] | None = None,
                 cache: str | Path | None = None, extractors: dict[str, str] | None = None,
                 thresholds: dict[str, float] | None = None, normaliser: Normaliser | None = None) -> None:
        m = manifest if isinstance(manifest, Manifest) else _load(Path(manifest))
        self.prepared: Prepared = prepare_data(m, FeatureCache(cache or m.cache), tuple(modalities),
                                               dict(extractors or {}), None, window_s, hop_s)
        feats = self.prepared.windows.features
        keep = {rf.rec.id for rf in feats
                if (recordings is None or rf.rec.id in set(recordings))
                and (subjects is None or rf.rec.subject in set(subjects))}
        if not keep:
            raise ConfigError(f"{m.path}: no recording with cached EEG matches recordings={recordings}, "
                              f"subjects={subjects}. Check the ids against the manifest.")
        self.windows = self.prepared.windows.subset(keep)
        self.labels = tuple(labels)
        self.normaliser = normaliser or fit_normaliser(self.windows.features, self.prepared.inputs,
                                                       self.prepared.cov_names)
        self._y, self._ym = encode_labels(self.windows, self.labels, task, m.label_scales, dict(thresholds or {}))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} out of range (0..{len(self) - 1})")
        b = self.collate([{"index": i}])
        return {"index": i, "eeg": b.eeg[0], "inputs": {n: {k: v[0] for k, v in d.items()} for n, d in b.inputs.items()},
                "masks": {n: v[0] for n, v in b.masks.items()}, "covariates": b.covariates[0],
                "labels": b.labels[0], "label_mask": b.label_mask[0], "subject": b.subjects[0]}

    def collate(self, items: list[dict[str, Any]]) -> Batch:
        """The batch of these windows, built by the trainer's ``make_batch``."""
        idx = np.asarray([int(it["index"]) for it in items], dtype=np.int64)
        return make_batch(self.windows, idx, self.normaliser, self._y, self._ym)

    def batch_sampler(self, batch_size: int, seed: int, epoch: int = 0) -> Iterator[list[int]]:
        """The trainer's shuffled batch order for ``seed`` and ``epoch`` (``DataLoader(batch_sampler=...)``)."""
        for _, idx in BatchOrder(len(self), batch_size, seed).batches(epoch):
            yield idx.tolist()


def _load(path: Path) -> Manifest:
    if path.is_dir() or path.suffix == ".zarr":
        raise ConfigError(f"{path}: WindowDataset needs the manifest (subjects, labels), not the cache. Pass the "
                          "manifest YAML the cache was built from (and cache=... when the cache moved).")
    return load_manifest(path, check_files=False)
