"""Batch assembly and the deterministic, resumable batch order.

A batch is plain numpy slicing of in-memory features (see ``fusion.data``), so the loader runs in
the training process: no worker processes, and the data order is a pure function of
``(seed, epoch)``, which is what makes ``--resume`` exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fusion.data import WindowSet
from fusion.label_targets import label_targets
from fusion.normalise import Normaliser
from fusion.stream_kinds import stream_kind
from pipeline.manifest import LabelScale


@dataclass
class Batch:
    """One batch. Shapes: eeg (B, C, T); inputs[name][key] (B, N, ...); masks[name] (B, N) bool."""

    eeg: torch.Tensor
    inputs: dict[str, dict[str, torch.Tensor]]
    masks: dict[str, torch.Tensor]
    covariates: torch.Tensor               # (B, K)
    labels: torch.Tensor                   # (B, L) 0/1 or scaled to [0, 1]
    label_mask: torch.Tensor               # (B, L) bool
    teacher: torch.Tensor | None = None    # (B, Dt)
    teacher_mask: torch.Tensor | None = None  # (B,) bool
    subjects: list[str] = field(default_factory=list)
    window_index: np.ndarray | None = None
    clean_eeg: torch.Tensor | None = None          # (B, C, T) unaugmented, for the EMA teacher
    clean_masks: dict[str, torch.Tensor] | None = None  # masks before modality dropout
    ema_target: torch.Tensor | None = None         # (B, D) the EMA teacher's fused embedding of the clean view

    def to(self, device: torch.device) -> "Batch":
        mv = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        mv_masks = lambda ms: None if ms is None else {n: mv(m) for n, m in ms.items()}  # noqa: E731
        return Batch(eeg=mv(self.eeg), inputs={n: {k: mv(v) for k, v in d.items()} for n, d in self.inputs.items()},
                     masks=mv_masks(self.masks), covariates=mv(self.covariates),
                     labels=mv(self.labels), label_mask=mv(self.label_mask), teacher=mv(self.teacher),
                     teacher_mask=mv(self.teacher_mask), subjects=self.subjects, window_index=self.window_index,
                     clean_eeg=mv(self.clean_eeg), clean_masks=mv_masks(self.clean_masks),
                     ema_target=mv(self.ema_target))

    def __len__(self) -> int:
        return self.eeg.shape[0]


def encode_labels(ws: WindowSet, labels: tuple[str, ...], task: str, scales: dict[str, LabelScale],
                  thresholds: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-recording label targets (R, L) and presence mask of a window set (``label_targets``)."""
    return label_targets([rf.rec for rf in ws.features], labels, task, scales, thresholds)


def _gather(items_arr: np.ndarray, lo: int, n: int, pad: int) -> np.ndarray:
    out = np.zeros((pad,) + items_arr.shape[1:], dtype=items_arr.dtype)
    n = min(n, pad)
    out[:n] = items_arr[lo:lo + n]
    return out


def make_batch(ws: WindowSet, idx: np.ndarray, norm: Normaliser, y: np.ndarray, ym: np.ndarray,
               shift_samples: np.ndarray | None = None) -> Batch:
    """Assemble windows ``idx``. ``shift_samples`` (B,) moves only the EEG slice (augmentation);
    the other modalities and the teacher target stay at the unshifted window."""
    T = ws.n_samples
    C = ws.features[0].eeg.shape[0]
    eeg = np.zeros((len(idx), C, T), np.float32)
    subjects = []
    for b, w in enumerate(idx):
        rf = ws.features[ws.rec_idx[w]]
        i0 = int(round((ws.starts[w] - rf.eeg_t0) * ws.sfreq))
        if shift_samples is not None:
            i0 = int(np.clip(i0 + shift_samples[b], 0, max(0, rf.eeg.shape[1] - T)))
        seg = rf.eeg[:, i0:i0 + T]
        eeg[b, :, :seg.shape[1]] = norm.apply_eeg(rf.rec, seg)
        subjects.append(rf.rec.subject)
    inputs: dict[str, dict[str, torch.Tensor]] = {}
    masks: dict[str, torch.Tensor] = {}
    for spec in ws.inputs[1:]:
        pad = ws.pad_sizes[spec.name]
        lo, cnt = ws._lo[spec.name][idx], np.minimum(ws._n[spec.name][idx], pad)
        mask = np.arange(pad)[None, :] < cnt[:, None]
        parts: dict[str, list[np.ndarray]] = {}
        shapes = ws.item_shapes[spec.name]
        for b, w in enumerate(idx):
            arrays = _stream_arrays(ws, int(ws.rec_idx[w]), spec.kind, spec.name, norm)
            for key, shape in shapes.items():
                arr = arrays.get(key)
                parts.setdefault(key, []).append(
                    np.zeros((pad,) + shape, np.float32) if arr is None else _gather(arr, lo[b], cnt[b], pad))
        inputs[spec.name] = {k: torch.from_numpy(np.stack(v).astype(np.float32)) for k, v in parts.items()}
        masks[spec.name] = torch.from_numpy(mask)
    teacher, tmask = _teacher(ws, idx)
    cov = _covariates(ws, idx, norm)
    r = ws.rec_idx[idx]
    return Batch(eeg=torch.from_numpy(eeg), inputs=inputs, masks=masks, covariates=cov,
                 labels=torch.from_numpy(y[r]), label_mask=torch.from_numpy(ym[r]), teacher=teacher,
                 teacher_mask=tmask, subjects=subjects, window_index=np.asarray(idx))


def _stream_arrays(ws: WindowSet, rec_i: int, kind: str, name: str, norm: Normaliser) -> dict[str, np.ndarray]:
    """The per-item arrays the model reads for one stream of one recording, normalised once and
    memoised on the window set (keyed by the normaliser, which differs per fold)."""
    key = (id(norm), rec_i, name)
    if key in ws.normed:
        return ws.normed[key]
    items = ws.features[rec_i].streams.get(name)
    out: dict[str, np.ndarray] = {}
    if items is not None:
        sk = stream_kind(kind, name)
        out = {k: norm.apply_feat(name, k, a.astype(np.float32)).astype(sk.dtype(k), copy=False)
               for k, a in sk.model_arrays(items.arrays).items()}
    ws.normed[key] = out
    return out


def _teacher(ws: WindowSet, idx: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Mean cached target (CLS token, or a derived teacher's embedding) of the valid teacher segments
    overlapping each (unshifted) window; masked where none is valid."""
    if not any(rf.teacher is not None for rf in ws.features):
        return None, None
    dim = next(rf.teacher.arrays["target"].shape[-1] for rf in ws.features if rf.teacher is not None)
    out = np.zeros((len(idx), dim), np.float32)
    mask = np.zeros(len(idx), bool)
    for b, w in enumerate(idx):
        t = ws.features[ws.rec_idx[w]].teacher
        lo, n = ws._lo["__teacher__"][w], ws._n["__teacher__"][w]
        ok = t.arrays["valid"][lo:lo + n] if t is not None else np.zeros(0, bool)
        if ok.any():
            out[b] = t.arrays["target"][lo:lo + n][ok].astype(np.float32).mean(0)
            mask[b] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


def _covariates(ws: WindowSet, idx: np.ndarray, norm: Normaliser) -> torch.Tensor:
    names = norm.cov_names
    if not names:
        return torch.zeros(len(idx), 0)
    raw = np.array([[ws.features[ws.rec_idx[w]].rec.covariates.get(c, np.nan) for c in names] for w in idx],
                   np.float32)
    if norm.cov is not None:
        raw = (raw - norm.cov[0]) / norm.cov[1]
    return torch.from_numpy(np.nan_to_num(raw, nan=0.0).astype(np.float32))


class BatchOrder:
    """Shuffled batch order that is a pure function of (seed, epoch); state = (epoch, position)."""

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle

    def batches(self, epoch: int, start: int = 0):
        """Yield (position, window indices) from batch ``start`` of ``epoch``."""
        order = (np.random.default_rng([self.seed, epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        n_batches = self.batches_per_epoch()
        for pos in range(start, n_batches):
            yield pos, order[pos * self.batch_size:(pos + 1) * self.batch_size]

    def batches_per_epoch(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size
