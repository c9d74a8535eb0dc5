"""Metrics: accuracy, balanced accuracy, macro-F1, AUROC (binary); MAE, CCC (regression).

Computed per label, overall and per subject, and summarised as mean +- std over folds. A metric
that is undefined (AUROC with one class present) is NaN, never a made-up number.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score


def ccc(y: np.ndarray, p: np.ndarray) -> float:
    """Lin's concordance correlation coefficient."""
    if len(y) < 2:
        return float("nan")
    my, mp = y.mean(), p.mean()
    vy, vp = y.var(), p.var()
    cov = ((y - my) * (p - mp)).mean()
    den = vy + vp + (my - mp) ** 2
    return float(2 * cov / den) if den > 0 else float("nan")


def label_metrics(y: np.ndarray, score: np.ndarray, task: str) -> dict[str, float]:
    """Metrics for one label. Binary: ``score`` is the probability of the high class."""
    if len(y) == 0:
        return {}
    if task == "binary":
        pred = (score >= 0.5).astype(int)
        yi = y.astype(int)
        out = {"accuracy": float(accuracy_score(yi, pred)),
               "balanced_accuracy": float(balanced_accuracy_score(yi, pred)) if len(set(yi)) > 1 else float("nan"),
               "macro_f1": float(f1_score(yi, pred, average="macro", zero_division=0)),
               "auroc": float(roc_auc_score(yi, score)) if len(set(yi)) > 1 else float("nan")}
        return out
    return {"mae": float(np.abs(y - score).mean()), "ccc": ccc(y, score)}


METRICS = {"binary": ("accuracy", "balanced_accuracy", "macro_f1", "auroc"), "regression": ("mae", "ccc")}
LOWER_IS_BETTER = frozenset({"mae"})


def metric_value(name: str, y: np.ndarray, score: np.ndarray, task: str) -> float:
    """One metric of ``label_metrics`` alone (the statistics recompute one metric many times)."""
    if task == "binary" and name == "accuracy":  # the hot path of permutation tests: plain numpy
        return float(np.mean((score >= 0.5) == (y >= 0.5))) if len(y) else float("nan")
    if task == "binary" and name == "balanced_accuracy":
        yi, hit = y >= 0.5, (score >= 0.5) == (y >= 0.5)
        return float((hit[yi].mean() + hit[~yi].mean()) / 2) if 0 < yi.sum() < len(y) else float("nan")
    if task == "binary" and name == "auroc":
        return float(roc_auc_score(y.astype(int), score)) if len(set(y.astype(int))) > 1 else float("nan")
    if name not in METRICS[task]:
        raise KeyError(f"unknown {task} metric '{name}'. Use one of {list(METRICS[task])}.")
    return label_metrics(y, score, task).get(name, float("nan"))


def compute_metrics(y: np.ndarray, y_mask: np.ndarray, score: np.ndarray, subjects: list[str],
                    labels: tuple[str, ...], task: str) -> dict:
    """{"overall": {label: {metric: v}}, "per_subject": {subject: {label: {...}}}} from window-level
    targets (W, L), presence mask (W, L), scores (W, L) and each window's subject."""
    subj = np.asarray(subjects)
    out: dict = {"overall": {}, "per_subject": defaultdict(dict)}
    for j, name in enumerate(labels):
        m = y_mask[:, j].astype(bool)
        out["overall"][name] = label_metrics(y[m, j], score[m, j], task)
        for s in sorted(set(subjects)):
            ms = m & (subj == s)
            if ms.any():
                out["per_subject"][s][name] = label_metrics(y[ms, j], score[ms, j], task)
    out["per_subject"] = dict(out["per_subject"])
    return out


def summarise_folds(fold_metrics: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """label -> metric -> {"mean", "std", "n"} over folds' overall metrics (NaNs left out)."""
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for fm in fold_metrics:
        for label, ms in fm["overall"].items():
            for k, v in ms.items():
                if v is not None and not math.isnan(v):
                    acc[label][k].append(v)
    return {label: {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)} for k, v in ms.items()}
            for label, ms in acc.items()}


def format_table(summary: dict[str, dict[str, dict[str, float]]]) -> str:
    """A short plain-text table: one row per label, mean +- std per metric."""
    lines = []
    for label, ms in summary.items():
        cells = "  ".join(f"{k}={v['mean']:.3f}±{v['std']:.3f}" for k, v in ms.items())
        lines.append(f"{label:>10}  {cells}")
    return "\n".join(lines)


def to_label_units(values: np.ndarray, labels: tuple[str, ...], scales: dict) -> np.ndarray:
    """Regression targets or scores (W, L) on the training scale [0, 1] mapped back to each label's
    own units (``LabelScale`` min..max), so MAE reads on the rating scale the user knows."""
    lo = np.array([scales[n].min for n in labels], dtype=np.float64)
    hi = np.array([scales[n].max for n in labels], dtype=np.float64)
    return lo + np.asarray(values, dtype=np.float64) * (hi - lo)


def format_results(trial: dict, window: dict, folds: dict | None = None) -> str:
    """The end-of-run table: trial level (the headline: the label belongs to the trial) pooled over
    folds, then window level pooled, then the per-fold window-level mean ± std."""

    def pooled(title: str, res: dict) -> list[str]:
        rows = [f"{label:>10}  " + "  ".join(f"{k}={v:.3f}" for k, v in ms.items()) for label, ms in res.items()]
        return [title, *rows] if rows else []

    lines = pooled("trial level (mean window score per recording), folds pooled:", trial)
    lines += pooled("window level, folds pooled:", window)
    if folds:
        lines += ["window level, mean ± std over folds:", format_table(folds)]
    return "\n".join(lines)
