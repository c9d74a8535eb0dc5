"""Multi-process (DDP) training helpers: who am I, which slice of the batch is mine, sync points.

``torchrun --nproc_per_node N cli.py train fusion ...`` starts N copies of the command. Each copy
gets a ``DistributedContext`` built by the CLI from torchrun's RANK / WORLD_SIZE / LOCAL_RANK
variables (the environment is read in ``cli.py`` only; this module takes the mapping as an argument).
With ``world_size == 1`` every helper here is a no-op, so a plain ``python cli.py train fusion``
runs exactly the single-process code path.

Equivalence with one process: every rank walks the same global batch order and draws the same
random numbers (augmentation, modality dropout) for the whole global batch from the same generator,
then keeps only its contiguous slice of the batch. Each rank's loss is weighted by
``world_size * local_size / global_size``, so DDP's gradient average equals the gradient of the
global batch mean (exact for per-window mean losses; SigLIP's pairwise loss sees only the rank's
own windows). Rank 0 alone writes into the run folder; checkpoints hold every rank's torch RNG
state (dropout), so resume stays exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a multi-process run (rank 0 of 1 when not under torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ConfigError(f"distributed: rank {self.rank} of world size {self.world_size} is invalid. "
                              "Start multi-process training with torchrun --nproc_per_node N.")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes the run folder."""
        return self.rank == 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "DistributedContext":
        """The context torchrun describes in ``env`` (RANK, WORLD_SIZE, LOCAL_RANK); rank 0 of 1 without them."""
        try:
            return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))
        except ValueError as e:
            raise ConfigError(f"distributed: RANK/WORLD_SIZE/LOCAL_RANK must be integers ({e}). "
                              "Launch with torchrun, or unset them for one process.") from e


@contextmanager
def process_group(ctx: DistributedContext, device: torch.device) -> Iterator[torch.device]:
    """Join the process group (nccl on CUDA, gloo on CPU) for the block; yield this rank's device."""
    if not ctx.enabled:
        yield device
        return
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    owned = not dist.is_initialized()
    if owned:  # MASTER_ADDR/MASTER_PORT come from torchrun through the default env:// init
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ctx.rank,
                                world_size=ctx.world_size)
    _log.info("rank %d of %d on %s (%s)", ctx.rank, ctx.world_size, device, dist.get_backend())
    try:
        yield device
    finally:
        if owned:
            dist.destroy_process_group()


def barrier(ctx: DistributedContext) -> None:
    """Wait for every rank (after rank 0 wrote a file the others read)."""
    if ctx.enabled:
        dist.barrier()


def shard(n: int, ctx: DistributedContext) -> tuple[slice, float]:
    """This rank's contiguous slice of a global batch of ``n`` windows and its loss weight.

    A rank whose slice would be empty (last batch smaller than the world) takes window 0 with
    weight 0: it still runs forward/backward, as DDP needs, but contributes nothing."""
    bounds = np.linspace(0, n, ctx.world_size + 1).round().astype(int) if ctx.enabled else np.array([0, n])
    lo, hi = int(bounds[ctx.rank]), int(bounds[ctx.rank + 1])
    if hi == lo:
        return slice(0, 1), 0.0
    return slice(lo, hi), ctx.world_size * (hi - lo) / n


class _LossForward(nn.Module):
    """Runs the whole loss inside ``forward`` so DDP sees every parameter use (the SigLIP and
    reconstruction heads are called outside the model's own forward)."""

    def __init__(self, model: nn.Module, fn: Callable[[nn.Module, Any], dict[str, torch.Tensor]]) -> None:
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.fn(self.model, batch)


class StepForward:
    """Callable ``batch -> losses`` for training; DDP-wrapped when the run has several ranks."""

    def __init__(self, model: nn.Module, fn: Callable[[nn.Module, Any], dict[str, torch.Tensor]],
                 ctx: DistributedContext, device: torch.device) -> None:
        self.model, self.fn, self.ctx = model, fn, ctx
        self.ddp = None
        if ctx.enabled:
            ids = [device.index] if device.type == "cuda" else None
            # find_unused_parameters: heads without a target this run (no teacher, weight 0) get no grad.
            self.ddp = nn.parallel.DistributedDataParallel(_LossForward(model, fn), device_ids=ids,
                                                           find_unused_parameters=True)

    def __call__(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.fn(self.model, batch) if self.ddp is None else self.ddp(batch)

    def accumulating(self, skip_sync: bool):
        """Context for one micro-batch: no gradient all-reduce while accumulating."""
        return self.ddp.no_sync() if self.ddp is not None and skip_sync else nullcontext()


def global_losses(losses: dict[str, torch.Tensor], weight: float, ctx: DistributedContext) -> dict[str, float]:
    """Logged loss values of the global batch: the weight-averaged per-rank values (same on all ranks)."""
    keys = list(losses)  # same order on every rank: the terms present depend only on the config
    vals = torch.tensor([float(losses[k].detach()) for k in keys], dtype=torch.float64)
    if ctx.enabled:  # on the losses' device: nccl reduces CUDA tensors only
        vals = (vals * weight / ctx.world_size).to(losses[keys[0]].device)
        dist.all_reduce(vals)
    return dict(zip(keys, vals.tolist()))


def max_over_ranks(value: float, ctx: DistributedContext, device: torch.device) -> float:
    """The largest ``value`` over all ranks (so every rank takes the same decision); collective."""
    if not ctx.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def gather_torch_rng(state: dict[str, Any], ctx: DistributedContext) -> dict[str, Any]:
    """Add every rank's torch RNG state (``torch_ranks``) to ``state``; collective, call on all ranks."""
    if not ctx.enabled:
        return state
    states: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(states, state["torch"])
    return {**state, "torch_ranks": states}


def own_torch_rng(state: dict[str, Any], ctx: DistributedContext) -> dict[str, Any]:
    """The RNG state this rank resumes from: its own torch state when the checkpoint has one per rank."""
    ranks = state.get("torch_ranks")
    if not ranks:
        return state
    if len(ranks) != ctx.world_size:
        _log.warning("checkpoint was written by %d processes, this run has %d: dropout randomness will differ "
                     "from an uninterrupted run (resume with the same --nproc_per_node to keep it exact)",
                     len(ranks), ctx.world_size)
    return {**state, "torch": ranks[min(ctx.rank, len(ranks) - 1)]}
