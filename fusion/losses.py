"""Losses: task, masked distillation, SigLIP alignment, summary reconstruction.

Every auxiliary loss takes a per-sample mask and averages over the samples where it applies, so a
sample whose teacher modality is missing or was dropped this step contributes exactly nothing
(and a batch with no such sample gives a zero loss that still has a graph).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def task_loss(logits: torch.Tensor, y: torch.Tensor, y_mask: torch.Tensor, task: str) -> torch.Tensor:
    """BCE-with-logits (binary) or MSE (regression, targets in [0, 1]) over present labels. (B, L)."""
    if task == "binary":
        per = F.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
    else:
        per = (logits.float() - y).square()
    w = y_mask.float()
    return (per * w).sum() / w.sum().clamp_min(1.0)


def masked_distillation(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor,
                        kind: str = "cosine") -> torch.Tensor:
    """Distil student (B, D) towards fixed teacher targets (B, D) on samples where ``mask`` (B,)."""
    teacher = teacher.detach().float()
    if kind == "cosine":
        per = 1.0 - F.cosine_similarity(student.float(), teacher, dim=-1)
    else:
        per = (F.layer_norm(student.float(), student.shape[-1:]) -
               F.layer_norm(teacher, teacher.shape[-1:])).square().mean(-1)
    w = mask.float()
    return (per * w).sum() / w.sum().clamp_min(1.0)


def siglip_loss(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, log_t: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
    """Sigmoid contrastive loss (SigLIP) between paired embeddings a, b (B, D) over the samples
    where ``mask`` (B,) is True; pairs on the diagonal are positives, all others negatives."""
    keep = mask.nonzero(as_tuple=True)[0]
    if keep.numel() < 2:
        return (a.sum() + b.sum()) * 0.0
    a, b = F.normalize(a[keep].float(), dim=-1), F.normalize(b[keep].float(), dim=-1)
    logits = a @ b.t() * log_t.exp() + bias                                      # (n, n)
    labels = 2 * torch.eye(len(keep), device=a.device) - 1                       # +1 diag, -1 off
    return -F.logsigmoid(labels * logits).sum() / len(keep)


def recon_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE from the fused representation to a modality's (detached) summary, on available samples."""
    per = (pred.float() - target.detach().float()).square().mean(-1)
    w = mask.float()
    return (per * w).sum() / w.sum().clamp_min(1.0)
