"""Checkpoints: everything needed to resume exactly or to evaluate without the command line.

A checkpoint holds the model, optimiser, scheduler and AMP scaler states, the RNG states (torch
global and the training generator), the data-order position (epoch, batch), the early-stopping
state, the resolved TrainConfig (nested, as ``TrainConfig.to_dict``; its ``model`` is the architecture),
the ``ModelInputs`` the data fixed, the normalisation statistics, the fold and the cache
fingerprints it was trained on. It is written to a temporary file and renamed, so a crash
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` to ``path`` (tmp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    _log.debug("checkpoint written: %s", path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``."""
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found. Pass a run folder or a .pt file from one.")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # torn or foreign file
        raise ConfigError(f"{path}: cannot read checkpoint ({type(e).__name__}: {e}). "
                          "Use last.pt or best.pt of a finished run.") from e


def rng_state(gen: torch.Generator) -> dict[str, Any]:
    """RNG states that influence training: torch global (dropout), CUDA, and our generator."""
    st = {"torch": torch.get_rng_state(), "gen": gen.get_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any], gen: torch.Generator) -> None:
    torch.set_rng_state(st["torch"])
    gen.set_state(st["gen"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
