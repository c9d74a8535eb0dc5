"""One training step's pieces: model construction, augmentation, modality dropout, losses, prediction.

Kept apart from ``train.py`` so the loop there reads as a loop, and so tests and the benchmark can
call the step without the run-folder machinery.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from fusion.batches import Batch, make_batch
from fusion.data import InputSpec, WindowSet
from fusion.losses import masked_distillation, recon_loss, siglip_loss, task_loss
from fusion.model import FusionModel, ModalityConfig, ModelInputs
from fusion.normalise import Normaliser
from fusion.train_config import AugmentConfig, TrainConfig


def model_inputs(ws: WindowSet, n_outputs: int, n_covariates: int, teacher_dim: int) -> ModelInputs:
    """What the data fixes about the model (EEG layout, the other modalities' pad sizes and shapes);
    the architecture itself is ``TrainConfig.model``."""
    mods = tuple(ModalityConfig(s.name, s.kind, ws.pad_sizes[s.name],
                                tuple((k, tuple(v)) for k, v in ws.item_shapes[s.name].items()))
                 for s in ws.inputs[1:])
    return ModelInputs(n_channels=ws.features[0].eeg.shape[0], n_samples=ws.n_samples, sfreq=ws.sfreq,
                       n_outputs=n_outputs, modalities=mods, n_covariates=n_covariates, teacher_dim=teacher_dim)


def teacher_dim(ws: WindowSet) -> int:
    """Width of the cached teacher target, 0 without a teacher."""
    for rf in ws.features:
        if rf.teacher is not None and len(rf.teacher.arrays["target"]):
            return int(rf.teacher.arrays["target"].shape[-1])
    return 0


def shift_samples(aug: AugmentConfig, n: int, sfreq: float, gen: torch.Generator) -> np.ndarray:
    """Random EEG time shift per window, in samples (student-only augmentation)."""
    max_shift = int(round(aug.aug_shift_s * sfreq))
    if max_shift == 0:
        return np.zeros(n, np.int64)
    return torch.randint(-max_shift, max_shift + 1, (n,), generator=gen).numpy()


def augment_eeg(aug: AugmentConfig, eeg: torch.Tensor, gen: torch.Generator, n: int | None = None,
                part: slice = slice(None)) -> torch.Tensor:
    """Amplitude scaling, channel dropout and Gaussian noise on normalised EEG (B, C, T). The
    cached teacher targets were computed from unaugmented input, so only the student sees this.
    ``eeg`` may be rows ``part`` of a global batch of ``n`` (one DDP rank's share): the random
    numbers are drawn for all ``n`` rows, so every rank's rows get what one process would draw."""
    _, C, T = eeg.shape
    B = eeg.shape[0] if n is None else n
    scale = 1 + aug.aug_scale * (2 * torch.rand(B, 1, 1, generator=gen) - 1)
    keep = (torch.rand(B, C, 1, generator=gen) >= aug.aug_channel_drop).float()
    noise = aug.aug_noise * torch.randn((B, C, T), generator=gen)
    return (eeg * scale[part] * keep[part] + noise[part]).to(eeg.dtype)


def drop_modalities(batch: Batch, p: float, gen: torch.Generator, teacher_name: str | None,
                    n: int | None = None, part: slice = slice(None)) -> Batch:
    """Per sample and modality, drop a non-EEG input with probability ``p`` (mask set to False).
    A sample whose teacher stream is dropped also loses its distillation target. ``n``/``part``:
    as in ``augment_eeg`` (draws for the global batch, keeps this rank's rows)."""
    if p <= 0:
        return batch
    for name in sorted(batch.masks):
        keep = (torch.rand(len(batch) if n is None else n, generator=gen) >= p)[part]  # (B,)
        batch.masks[name] = batch.masks[name] & keep[:, None]
        if name == teacher_name and batch.teacher_mask is not None:
            batch.teacher_mask = batch.teacher_mask & keep
    return batch


def training_batch(cfg: TrainConfig, ws: WindowSet, idx: np.ndarray, norm: Normaliser, y: np.ndarray,
                   ym: np.ndarray, gen: torch.Generator, teacher: InputSpec | None,
                   part: slice = slice(None)) -> Batch:
    """Assemble, augment (EEG only) and modality-drop one training batch, on CPU. ``part``: the rows
    of the global batch ``idx`` this DDP rank trains on; only those are assembled, but the random
    draws are made for all of ``idx`` so the generator stays in step with a one-process run."""
    n = len(idx)
    shifts = shift_samples(cfg.augment, n, ws.sfreq, gen)
    batch = make_batch(ws, idx[part], norm, y, ym, shift_samples=shifts[part])
    if cfg.losses.ema_weight > 0:  # the EMA teacher's view: the same windows, unshifted and unaugmented
        batch.clean_eeg = make_batch(ws, idx[part], norm, y, ym).eeg
        batch.clean_masks = dict(batch.masks)
    batch.eeg = augment_eeg(cfg.augment, batch.eeg, gen, n, part)
    return drop_modalities(batch, cfg.augment.modality_dropout, gen, teacher.name if teacher else None, n, part)


def autocast(device: torch.device, amp: str):
    """Autocast context for the resolved AMP mode ("bf16" | "fp16" | "off")."""
    if amp == "off":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def compute_losses(model: FusionModel, batch: Batch, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """All loss terms for one batch (already on the model's device) and their weighted ``total``."""
    w = cfg.losses
    out = model(batch.eeg, batch.inputs, batch.masks, batch.covariates)
    losses = {"task": task_loss(out["logits"], batch.labels, batch.label_mask, cfg.data.task)}
    if "teacher_pred" in out and batch.teacher is not None and w.distill_weight > 0:
        losses["distill"] = masked_distillation(out["teacher_pred"], batch.teacher, batch.teacher_mask,
                                                w.distill_kind)
    if w.siglip_weight > 0 and out["summaries"]:
        a = model.siglip_eeg(out["eeg_emb"])
        losses["siglip"] = sum(siglip_loss(a, model.siglip_mod[n](s), out["avail"][n], model.siglip_t,
                                           model.siglip_b) for n, s in out["summaries"].items())
    if w.recon_weight > 0 and out["summaries"]:
        losses["recon"] = sum(recon_loss(model.recon[n](out["fused"]), s, out["avail"][n])
                              for n, s in out["summaries"].items())
    if w.ema_weight > 0 and batch.ema_target is not None:
        every = torch.ones(len(batch), dtype=torch.bool, device=batch.ema_target.device)
        losses["ema"] = masked_distillation(out["fused"], batch.ema_target, every, w.distill_kind)
    weights = {"task": 1.0, "distill": w.distill_weight, "siglip": w.siglip_weight, "recon": w.recon_weight,
               "ema": w.ema_weight}
    losses["total"] = sum(weights[k] * v for k, v in losses.items())
    return losses


@torch.no_grad()
def predict(model: FusionModel, ws: WindowSet, norm: Normaliser, y: np.ndarray, ym: np.ndarray, task: str,
            device: torch.device, amp: str = "off", batch_size: int = 64) -> dict[str, np.ndarray | list]:
    """Scores for every window of ``ws`` (probabilities for binary, values for regression), with
    targets, label masks, subjects and the mean task loss; no augmentation, no modality dropout."""
    model.eval()
    scores, targets, masks, subjects, loss_sum, n = [], [], [], [], 0.0, 0
    for start in range(0, len(ws), batch_size):
        idx = np.arange(start, min(start + batch_size, len(ws)))
        batch = make_batch(ws, idx, norm, y, ym).to(device)
        with autocast(device, amp):
            out = model(batch.eeg, batch.inputs, batch.masks, batch.covariates)
        logits = out["logits"].float()
        loss_sum += float(task_loss(logits, batch.labels, batch.label_mask, task)) * len(idx)
        n += len(idx)
        scores.append((torch.sigmoid(logits) if task == "binary" else logits).cpu().numpy())
        targets.append(batch.labels.cpu().numpy())
        masks.append(batch.label_mask.cpu().numpy())
        subjects += batch.subjects
    if not scores:
        return {"score": np.zeros((0, y.shape[1])), "y": np.zeros((0, y.shape[1])),
                "mask": np.zeros((0, y.shape[1]), bool), "subjects": [], "loss": float("nan")}
    return {"score": np.concatenate(scores), "y": np.concatenate(targets), "mask": np.concatenate(masks),
            "subjects": subjects, "loss": loss_sum / max(n, 1)}
