"""evaluate(run or checkpoint): re-run checkpoints on their test sides: window-level metrics per
subject and overall, mean ± std over folds. (``cli eval`` on a run folder reads the predictions
tables instead: ``fusion/results.py``; this module is for one checkpoint, or to check that a cache
still reproduces a run.)

Everything needed comes from the checkpoint (config, fold, normaliser, layout, fingerprints). The
features are read from the very cache groups the checkpoint records (not whatever is current
today), so the numbers never mix feature versions; a run folder copied elsewhere with its cache
evaluates there (``cache``/``manifest`` point at the copies when the recorded paths moved).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from fusion.batches import encode_labels
from fusion.checkpoint import load_checkpoint
from fusion.data import Layout, WindowSet
from fusion.metrics import compute_metrics, format_table, summarise_folds, to_label_units
from fusion.model import FusionModel, ModelInputs
from fusion.normalise import Normaliser
from fusion.splits import Fold
from fusion.device import resolve_amp, resolve_device
from fusion.train import load_data
from fusion.train_config import TrainConfig
from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)


def _checkpoints(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    found = sorted(path.glob("fold*/best.pt"), key=lambda p: int(p.parent.name[4:]))
    if not found:
        raise ConfigError(f"{path}: no fold*/best.pt here. Pass a run folder written by `cli train fusion` "
                          "or one of its .pt files.")
    return found


def evaluate(run_or_checkpoint: Path, device: str = "auto", manifest: Path | None = None,
             cache: str | None = None) -> dict[str, Any]:
    """Evaluate a run folder (every fold's best.pt) or one checkpoint on its fold's test side.
    ``manifest``/``cache`` replace the recorded ones (a run and its cache copied elsewhere)."""
    from fusion.steps import predict

    ckpts = _checkpoints(Path(run_or_checkpoint))
    dev = resolve_device(device)
    prepared: dict[str, Any] = {}
    folds = []
    for path in ckpts:
        ck = load_checkpoint(path, dev)
        cfg = _relocated(TrainConfig.from_dict(ck["config"]), manifest, cache)
        key = json.dumps([str(cfg.data.manifest), str(cfg.data.cache), ck["fingerprints"]], sort_keys=True)
        if key not in prepared:  # folds of a run share the data
            prepared[key] = load_data(cfg, recorded=ck["fingerprints"])
        prep = prepared[key]
        fold = Fold.from_dict(ck["fold"])
        layout = Layout(pad_sizes=ck["layout"]["pad_sizes"], item_shapes=ck["layout"]["item_shapes"])
        test = WindowSet([rf for rf in prep.windows.features if rf.rec.id in set(fold.test)], prep.inputs,
                         cfg.data.window_s, cfg.data.hop_s, prep.windows.sfreq, layout)
        d = cfg.data
        y, ym = encode_labels(test, d.labels, d.task, prep.manifest.label_scales, dict(d.thresholds))
        model = FusionModel(cfg.model, _model_inputs(ck)).to(dev)
        model.load_state_dict(ck["model"])
        norm = Normaliser.from_state(ck["normaliser"])
        pred = predict(model, test, norm, y, ym, d.task, dev, resolve_amp(cfg.optimisation.amp, dev))
        y_eval, s_eval = pred["y"], pred["score"]
        if d.task == "regression":  # MAE in the label's own units, as training reports it
            scales = prep.manifest.label_scales
            y_eval, s_eval = to_label_units(y_eval, d.labels, scales), to_label_units(s_eval, d.labels, scales)
        metrics = compute_metrics(y_eval, pred["mask"], s_eval, pred["subjects"], d.labels, d.task)
        folds.append({"fold": fold.index, "checkpoint": str(path), "test": metrics, "test_loss": pred["loss"],
                      "n_test_windows": len(test)})
    summary = summarise_folds([f["test"] for f in folds])
    _log.info("evaluation over %d fold(s), mean ± std:\n%s", len(folds), format_table(summary))
    return {"source": str(run_or_checkpoint), "folds": folds, "summary": summary, "table": format_table(summary)}


def _model_inputs(ck: dict[str, Any]) -> ModelInputs:
    """The checkpoint's ``ModelInputs``; a checkpoint from before the nested TrainConfig kept them
    inside its flat ``fusion_config`` (its flat config keys are today's leaf names, so they load)."""
    if "model_inputs" in ck:
        return ck["model_inputs"]
    old = ck["fusion_config"].__dict__
    return ModelInputs(**{f.name: old[f.name] for f in dataclasses.fields(ModelInputs)})


def _relocated(cfg: TrainConfig, manifest: Path | None, cache: str | None) -> TrainConfig:
    """The run's config with the manifest/cache moved; a recorded manifest that is gone is an error."""
    data = cfg.data
    if manifest is not None:
        data = dataclasses.replace(data, manifest=Path(manifest), cache=None if cache is None else data.cache)
    if cache is not None:
        data = dataclasses.replace(data, cache=str(cache))
    if not Path(data.manifest).exists():
        raise ConfigError(f"{data.manifest}: the run's manifest is not here (run folder moved?). Pass --manifest "
                          "with its copy (and --cache when the cache is not where that manifest says).")
    return dataclasses.replace(cfg, data=data)
