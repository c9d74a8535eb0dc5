"""What a finished fold leaves in its folder, and the run summary built from every fold's table.

Why one place: the network trainer and the classic baseline (``--fusion classic``) must produce the
very same outputs (``predictions.csv``, ``result.json``, summary and table), so that everything
downstream (``cli eval``, ``cli compare``, ``cli report``) treats them alike. Regression metrics
are computed in each label's own units (the manifest's label scale), never on the [0, 1] scale the
network trains on, so MAE reads as rating points.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusion.metrics import compute_metrics, format_results, summarise_folds, to_label_units
from fusion.predictions import read_table, table_results, window_table, write_table
from fusion.splits import Fold
from fusion.train_config import TrainConfig

_log = logging.getLogger(__name__)


def write_fold_result(cfg: TrainConfig, prep: Any, fold: Fold, fold_dir: Path, test_ws: Any, pred: dict[str, Any],
                      extra: dict[str, Any]) -> dict[str, Any]:
    """Write ``predictions.csv`` and ``result.json`` for one fold from ``pred`` (``steps.predict``'s
    score/y/mask/subjects/loss, scores on the training scale) and return the result.

    ``result["test"]`` is window level (per fold); ``result["test_trial"]`` is trial level."""
    d = cfg.data
    scales = prep.manifest.label_scales
    table = window_table(test_ws, np.asarray(pred["score"]), d.labels, scales, dict(d.thresholds), d.task,
                         fold.index)
    write_table(table, fold_dir)
    y, score = np.asarray(pred["y"]), np.asarray(pred["score"])
    if d.task == "regression":
        y, score = to_label_units(y, d.labels, scales), to_label_units(score, d.labels, scales)
    test = compute_metrics(y, pred["mask"], score, pred["subjects"], d.labels, d.task)
    result = {"fold": fold.index, "test": test, "test_trial": table_results(table, d.task)["trial"],
              "test_loss": pred.get("loss", float("nan")), "n_test_windows": len(test_ws),
              "test_subjects": sorted(set(pred["subjects"])), **extra}
    (fold_dir / "result.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    return result


def pooled_table(fold_dirs: list[Path]) -> pd.DataFrame:
    """Every fold's predictions table, concatenated (each recording is tested at most once)."""
    return pd.concat([read_table(d / "predictions.csv") for d in fold_dirs], ignore_index=True)


def run_summary(cfg: TrainConfig, run: Path, folds: list[Fold], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Trial-level (headline) and window-level metrics over the pooled folds' tables, the per-fold
    window-level mean ± std, and the printed table. Pooling matters: with one held-out subject per
    fold, a per-fold balanced accuracy is undefined whenever that subject has only one class; with
    ``within-subject`` it pools one model per subject over every subject."""
    found = table_results(pooled_table([run / f"fold{f.index}" for f in folds]), cfg.data.task)
    levels = {lv: {k: res[k] for k in cfg.data.labels if k in res} for lv, res in found.items()}  # config order
    fold_summary = summarise_folds([r["test"] for r in results])
    return {"trial": levels["trial"], "window": levels["window"], "pooled": levels["window"],
            "summary": fold_summary, "table": format_results(levels["trial"], levels["window"], fold_summary)}
