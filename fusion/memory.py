"""Peak memory of a training step, measured before training starts (``--vram-budget``).

A probe runs two optimiser steps on the real model and a real first batch (the second step has
optimiser state, like every later step), then puts the weights and every random number
generator back, so the run that follows is the run that would have happened without the probe.

On CUDA the allocator's own counter (``max_memory_allocated``) is read. On CPU the same quantity
is counted tensor by tensor with torch's ``MemTracker`` (parameters, gradients, optimiser state,
activations, temporaries, the batch), which is what lets a machine without a GPU check that a
configuration, with the same batch and the same autocast dtype, fits a GPU's budget. Neither
figure includes the CUDA context, cuBLAS workspaces or allocator rounding (a few hundred MB on a
real card), so leave that much headroom in the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from fusion.batches import Batch

PROBE_STEPS = 2


def batch_tensors(batch: Batch) -> list[torch.Tensor]:
    """Every tensor a batch holds (what the step reads besides the model)."""
    out = [batch.eeg, batch.covariates, batch.labels, batch.label_mask, *batch.masks.values()]
    out += [t for d in batch.inputs.values() for t in d.values()]
    out += [t for t in (batch.teacher, batch.teacher_mask, batch.clean_eeg, batch.ema_target) if t is not None]
    return out + list((batch.clean_masks or {}).values())


@contextmanager
def _restored(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Put the model's weights and buffers and the torch RNGs back as they were on exit."""
    saved = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    try:
        yield
    finally:
        model.load_state_dict(saved)
        for p in model.parameters():
            p.grad = None
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, device)


def _run_steps(model: nn.Module, opt: torch.optim.Optimizer, batch: Batch,
               loss_fn: Callable[[nn.Module, Batch], torch.Tensor], autocast_ctx: Callable,
               after_step: Callable[[], None] = lambda: None) -> None:
    for _ in range(PROBE_STEPS):
        with autocast_ctx():
            loss = loss_fn(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        after_step()


def probe_peak_gb(model: nn.Module, make_optimizer: Callable[[nn.Module], torch.optim.Optimizer], batch: Batch,
                  loss_fn: Callable[[nn.Module, Batch], torch.Tensor], autocast_ctx: Callable,
                  device: torch.device, frozen: Sequence[nn.Module] = ()) -> tuple[float, str]:
    """Peak GiB of ``PROBE_STEPS`` training steps on ``batch`` (already on ``device``), and how it
    was measured ("cuda_max_allocated" | "tensor_peak"). The model leaves exactly as it came.
    ``frozen``: other modules whose weights are held during training (the EMA teacher); counted,
    not run (their outputs come with the batch)."""
    model.train()
    with _restored(model, device):
        opt = make_optimizer(model)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            _run_steps(model, opt, batch, loss_fn, autocast_ctx)
            torch.cuda.synchronize(device)
            return torch.cuda.max_memory_allocated(device) / 2**30, "cuda_max_allocated"
        from torch.distributed._tools.mem_tracker import MemTracker  # torch's own tensor-level accounting

        tracker = MemTracker()
        tracker.track_external(model, opt, *frozen, *batch_tensors(batch))
        with tracker:  # the tracker wants its per-module stats cleared after each iteration
            _run_steps(model, opt, batch, loss_fn, autocast_ctx, after_step=tracker.reset_mod_stats)
        peak = tracker.get_tracker_snapshot("peak")
        total = sum(v.get("Total", 0) for v in peak.values())
        return total / 2**30, "tensor_peak"
