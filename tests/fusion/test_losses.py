"""Losses: masked distillation ignores dropped/missing teacher samples; SigLIP and metrics sanity."""

from __future__ import annotations

import numpy as np
import torch

from fusion.batches import Batch
from fusion.losses import masked_distillation, siglip_loss, task_loss
from fusion.metrics import ccc, compute_metrics, summarise_folds
from fusion.steps import drop_modalities


def test_masked_distillation_ignores_masked_samples() -> None:
    s, t = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8)
    mask = torch.tensor([True, False, True, False])
    t2 = t.clone()
    t2[~mask] = torch.randn(2, 8) * 1e3  # whatever the dropped teachers say
    for kind in ("cosine", "mse"):
        a, b = masked_distillation(s, t, mask, kind), masked_distillation(s, t2, mask, kind)
        assert torch.equal(a, b)
        grad = torch.autograd.grad(a, s)[0]
        assert torch.all(grad[~mask] == 0) and torch.any(grad[mask] != 0)
    assert masked_distillation(s, t, torch.zeros(4, dtype=torch.bool)).item() == 0.0


def test_dropped_teacher_modality_drops_distillation_target() -> None:
    masks = {"face": torch.ones(64, 2, dtype=torch.bool)}
    b = Batch(eeg=torch.zeros(64, 1, 4), inputs={}, masks=masks, covariates=torch.zeros(64, 0),
              labels=torch.zeros(64, 1), label_mask=torch.ones(64, 1, dtype=torch.bool),
              teacher=torch.zeros(64, 3), teacher_mask=torch.ones(64, dtype=torch.bool))
    b = drop_modalities(b, 0.5, torch.Generator().manual_seed(0), "face")
    dropped = ~b.masks["face"].any(1)
    assert dropped.any() and (~dropped).any()
    assert torch.equal(b.teacher_mask, ~dropped)


def test_siglip_prefers_aligned_pairs_and_respects_mask() -> None:
    a = torch.randn(6, 16)
    t, bias = torch.tensor(np.log(10.0)), torch.tensor(-5.0)
    m = torch.ones(6, dtype=torch.bool)
    assert siglip_loss(a, a, m, t, bias) < siglip_loss(a, torch.randn(6, 16), m, t, bias)
    m[3:] = False
    junk = a.clone()
    junk[3:] = torch.randn(3, 16)
    assert torch.equal(siglip_loss(a, a, m, t, bias), siglip_loss(a, junk, m, t, bias))


def test_task_loss_skips_missing_labels_and_metrics() -> None:
    logits = torch.tensor([[3.0, 0.0], [-3.0, 100.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    ym = torch.tensor([[True, False], [True, False]])
    assert task_loss(logits, y, ym, "binary") < 0.1
    assert abs(ccc(np.arange(5.0), np.arange(5.0)) - 1) < 1e-9
    yy = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], float)
    m = compute_metrics(yy, np.ones_like(yy, bool), yy * 0.8 + 0.1, ["a", "a", "b", "b"], ("v", "a"), "binary")
    assert m["overall"]["v"]["accuracy"] == 1.0 and m["overall"]["v"]["auroc"] == 1.0
    s = summarise_folds([m, m])
    assert s["v"]["balanced_accuracy"] == {"mean": 1.0, "std": 0.0, "n": 2}
