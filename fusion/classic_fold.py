"""``--fusion classic`` as a trainer mode: one fold of the band-power baseline (``fusion/classic.py``)
on the very splits, windows, label encoding and outputs of the network trainer, so its
``predictions.csv`` and ``result.json`` compare one to one with a network run's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from fusion.batches import encode_labels
from fusion.classic import classic_fold_scores
from fusion.fold_results import write_fold_result
from fusion.splits import Fold
from fusion.train_config import TrainConfig


def classic_fold(cfg: TrainConfig, prep: Any, fold: Fold, fold_dir: Path, sides: tuple[dict, Any, dict],
                 peak_memory: Callable[[], tuple[float, str]]) -> dict[str, Any]:
    """Fit band power + DE features and a logistic regression on the fold's training and validation
    recordings (there is no early stopping to feed; ``--classic-model svm``: an RBF SVM), score its test side and write the fold's
    outputs. ``sides``: the trainer's (window sets, normaliser, encoded labels) of the fold. With
    ``--normalise subject|baseline`` the EEG is z-scored as the network's would be first; with
    ``train`` the classifier's own standardisation of the training features is the normalisation."""
    fold_dir.mkdir(parents=True, exist_ok=True)
    sets, norm, labels = sides
    fit = prep.windows.subset(fold.train + fold.val)
    d = cfg.data
    y, m = encode_labels(fit, d.labels, d.task, prep.manifest.label_scales, dict(d.thresholds))
    test = sets["test"]
    score = classic_fold_scores(fit, test, y, m, cfg.model.classic_model, cfg.runtime.seed,
                                norm=norm if d.normalise != "train" else None)
    yt, mt = labels["test"]
    pred = {"score": score, "y": yt[test.rec_idx], "mask": mt[test.rec_idx],
            "subjects": [test.features[int(i)].rec.subject for i in test.rec_idx], "loss": float("nan")}
    peak, kind = peak_memory()
    return write_fold_result(cfg, prep, fold, fold_dir, test, pred,
                             {"n_train_windows": len(fit), "peak_memory_gb": peak, "peak_memory_kind": kind})
