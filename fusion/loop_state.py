"""Where one fold's training loop is: the small state a checkpoint saves and ``--resume`` restores.

The data order is a pure function of ``(seed, epoch)`` (``fusion.batches.BatchOrder``), so the
epoch, the batch position within it and the optimiser step are all a resume needs besides the
weights, optimiser and RNG states; early stopping adds its best score and patience count.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass
class LoopState:
    """Mutable loop position and early-stopping state of one fold."""

    epoch: int = 0                  # current epoch (0-based)
    pos: int = 0                    # next batch of the epoch
    step: int = 0                   # optimiser steps done
    best: float = -math.inf         # best validation score so far (higher is better)
    bad_epochs: int = 0             # epochs since ``best`` improved
    stopped: bool = False           # early stop or --max-steps reached

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the checkpoint (readable without this class)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LoopState":
        """Inverse of ``to_dict``."""
        return cls(**data)


def truncate_metrics_log(path: Path, state: LoopState) -> None:
    """Drop metric rows written after the checkpoint we resume from (they will be rewritten): train
    rows past its step, validation rows of an epoch it had not finished, and a line torn by SIGKILL."""
    if not path.exists():
        return
    keep = []
    for ln in path.read_text().splitlines():
        try:
            row = json.loads(ln)
        except json.JSONDecodeError:
            continue
        if row["step"] <= state.step and (row["kind"] != "val" or row["epoch"] < state.epoch):
            keep.append(ln)
    path.write_text("".join(r + "\n" for r in keep))


@dataclass(frozen=True)
class FoldProgress:
    """One progress update of training, for a caller's progress bar (the library itself prints
    nothing): after each epoch of a fold, and once when the fold is done (``done``).

    ``position`` counts folds from 1 to ``n_folds`` in run order; ``epoch`` is the number of epochs
    finished (of at most ``epochs``); ``val_score`` is the early-stopping score of the epoch just
    validated (None without a validation side or when the fold has no epochs, e.g. ``--fusion classic``).
    """

    fold: int
    position: int
    n_folds: int
    epoch: int
    epochs: int
    val_score: float | None = None
    done: bool = False


ProgressCallback = Callable[[FoldProgress], None]
