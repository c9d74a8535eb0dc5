"""EMA self-distillation: a slowly moving copy of the model is the student's teacher.

The teacher's weights are an exponential moving average of the student's (updated after every
optimiser step), and it sees the *clean* window: unaugmented EEG and every available modality,
with no modality dropout. The student, seeing the augmented EEG with some modalities dropped, is
pulled towards the teacher's fused embedding, which is a consistency target that needs no labels
(and makes the model rely less on whichever modality happened to be present).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from fusion.batches import Batch


class EmaTeacher:
    """A frozen, eval-mode copy of ``model`` whose weights follow it with ``decay`` per step."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """teacher <- decay * teacher + (1 - decay) * student; buffers are copied."""
        for t, s in zip(self.model.parameters(), student.parameters()):
            t.lerp_(s.detach(), 1.0 - self.decay)
        for t, s in zip(self.model.buffers(), student.buffers()):
            t.copy_(s)

    @torch.no_grad()
    def attach_target(self, batch: Batch) -> Batch:
        """Set ``batch.ema_target``: the teacher's fused embedding (B, D) of the clean view, float32.
        Computed before the student's step (not inside it), so the step itself stays one forward."""
        out = self.model(batch.clean_eeg, batch.inputs, batch.clean_masks, batch.covariates)
        batch.ema_target = out["fused"].float()
        return batch

    def state_dict(self) -> dict[str, Any]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)
