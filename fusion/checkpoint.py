"""Checkpoints: everything needed to resume exactly or to evaluate without the command line.

A checkpoint holds the model, optimiser, scheduler and AMP scaler states, the RNG states (torch
global and the training generator), the data-order position (epoch, batch), the early-stopping
state, the resolved TrainConfig (nested, as ``TrainConfig.to_dict``; its ``model`` is the architecture),
the ``ModelInputs`` the data fixed, the normalisation statistics, the fold and the cache
fingerprints it was trained on. It is written to a temporary file and renamed, so a crash
leaves the previous checkpoint intact.

Run folders are shared between people, so a checkpoint is read with ``torch.load(weights_only=True)``:
tensors, plain containers and numbers, plus the explicit allow-list ``SAFE_GLOBALS`` (our frozen
config dataclasses). A pickle that names anything else (``os.system``, ``builtins.exec``, ...) is
refused before any of it runs. The model is also exported per fold as ``model.safetensors`` plus
``model_config.json`` (``export_model``), which needs no pickle at all to read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from fusion.model import FusionConfig, FusionModel, ModalityConfig, ModelInputs
from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)

# The only classes a checkpoint may name besides tensors and plain data. FusionConfig is in
# checkpoints written before the nested TrainConfig (their ``fusion_config``).
SAFE_GLOBALS: tuple[type, ...] = (ModelInputs, ModalityConfig, FusionConfig)
EXPORT_FORMAT = "eegavi-fusion-model/1"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` to ``path`` (tmp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    _log.debug("checkpoint written: %s", path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; refuse one that would run code."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found. Pass a run folder or a .pt file from one.")
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refused a global: nothing of the file ran
        raise ConfigError(f"{path}: refused to load: the checkpoint names objects outside the allowed tensors, "
                          f"plain data and eegavi configs, so it could run code ({_first_line(e)}). Only load "
                          "checkpoints from people you trust; model.safetensors in the same fold folder needs "
                          "no pickle.") from None
    except Exception as e:  # torn or foreign file
        raise ConfigError(f"{path}: cannot read checkpoint ({type(e).__name__}: {_first_line(e)}). "
                          "Use last.pt or best.pt of a finished run.") from e


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def rng_state(gen: torch.Generator) -> dict[str, Any]:
    """RNG states that influence training: torch global (dropout), CUDA, and our generator."""
    st = {"torch": torch.get_rng_state(), "gen": gen.get_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any], gen: torch.Generator) -> None:
    """Restore what ``rng_state`` captured."""
    torch.set_rng_state(st["torch"])
    gen.set_state(st["gen"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def export_model(checkpoint: Path, out_dir: Path) -> Path:
    """Write ``model.safetensors`` (weights) and ``model_config.json`` (architecture, inputs, labels,
    normaliser, layout, cache fingerprints) for ``checkpoint``: a model anyone can load without pickle."""
    from safetensors.torch import save_file

    ck = load_checkpoint(checkpoint)
    weights = {k: v.detach().to("cpu").contiguous().clone() for k, v in ck["model"].items()}
    save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": EXPORT_FORMAT})
    cfg = ck["config"]
    meta = {"format": EXPORT_FORMAT, "model": cfg["model"], "model_inputs": dataclasses.asdict(ck["model_inputs"]),
            "labels": list(cfg["data"]["labels"]), "task": cfg["data"]["task"], "normaliser": ck["normaliser"],
            "layout": ck["layout"], "cov_names": list(ck["cov_names"]), "fingerprints": ck["fingerprints"],
            "fold": ck["fold"], "source_checkpoint": checkpoint.name}
    (out_dir / "model_config.json").write_text(json.dumps(meta, indent=1, default=_jsonable) + "\n")
    return out_dir / "model.safetensors"


def _jsonable(x: Any) -> Any:
    if isinstance(x, (tuple, set)):
        return list(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def model_inputs_from_dict(d: dict[str, Any]) -> ModelInputs:
    """Inverse of ``dataclasses.asdict(ModelInputs)`` (JSON turned tuples into lists)."""
    mods = tuple(ModalityConfig(name=m["name"], kind=m["kind"], n_items=int(m["n_items"]),
                                shapes=tuple((k, tuple(s)) for k, s in m["shapes"])) for m in d["modalities"])
    return ModelInputs(**{**d, "modalities": mods})


def load_exported(fold_dir: Path, map_location: str | torch.device = "cpu") -> tuple[FusionModel, dict[str, Any]]:
    """The model of ``export_model`` (in eval mode) and its ``model_config.json``, without pickle."""
    from safetensors.torch import load_file

    fold_dir = Path(fold_dir)
    cfg_path, weights = fold_dir / "model_config.json", fold_dir / "model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise ConfigError(f"{fold_dir}: model.safetensors and model_config.json not both found. Pass a fold folder "
                          "of a run trained by `cli train fusion`.")
    meta = json.loads(cfg_path.read_text())
    model_cfg = FusionConfig(**meta["model"])
    model = FusionModel(model_cfg, model_inputs_from_dict(meta["model_inputs"]))
    model.load_state_dict(load_file(str(weights), device=str(map_location)))
    return model.eval(), meta
