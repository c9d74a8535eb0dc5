"""How sure are we: per-subject metrics, bootstrap intervals over subjects, a permutation test
against chance and a paired comparison of two runs.

Why subjects: trials of one subject are not independent (same head, same day, same cap), so the
unit of resampling is the subject. Every function takes a predictions table (``fusion.predictions``;
normally the trial-level one) and one label's metric.

- ``bootstrap_interval``: percentile interval of the pooled metric when whole subjects are
  resampled with replacement (a cluster bootstrap).
- ``permutation_test``: the targets are shuffled *within each subject* against the fixed
  predictions. It tests whether predictions and labels are associated beyond what each subject's
  label balance gives by chance. It does not retrain, so it says nothing about how much the
  number would vary with another training run or another sample of subjects (the interval does
  the latter), and it does not guard against leakage in the split itself.
- ``compare_runs``: per-subject differences of two runs evaluated on the same folds, subjects and
  labels; bootstrap interval of the mean difference and the Wilcoxon signed-rank test (scipy).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fusion.metrics import LOWER_IS_BETTER, metric_value
from fusion.predictions import RunTables, true_and_score
from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)

HEADLINE = {"binary": "balanced_accuracy", "regression": "ccc"}
N_BOOTSTRAP = 2000
N_PERMUTATIONS = 1000


def per_subject(df: pd.DataFrame, task: str, metric: str) -> dict[str, float]:
    """subject -> metric over that subject's rows of ``df`` (one label); NaN where undefined."""
    return {str(s): metric_value(metric, *true_and_score(part, task), task)
            for s, part in df.groupby("subject", sort=True)}


def bootstrap_interval(df: pd.DataFrame, task: str, metric: str, confidence: float = 0.95,
                       n_resamples: int = N_BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the metric pooled over subjects resampled with replacement.

    Written out rather than ``scipy.stats.bootstrap``: the statistic is computed on whole subjects'
    rows (a cluster bootstrap), and a resample where it is undefined (e.g. balanced accuracy with
    one class drawn) must be left out, where scipy would turn the whole interval into NaN. NaN
    bounds when fewer than 2 subjects or no resample is defined.
    """
    y, score = true_and_score(df, task)
    codes, subjects = pd.factorize(df["subject"], sort=True)
    if len(subjects) < 2:
        return float("nan"), float("nan")
    rows = [np.flatnonzero(codes == k) for k in range(len(subjects))]
    draws = np.random.default_rng(seed).integers(0, len(subjects), (n_resamples, len(subjects)))
    values = np.array([metric_value(metric, y[sel], score[sel], task)
                       for sel in (np.concatenate([rows[k] for k in d]) for d in draws)])
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def within_subject_permutations(codes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, len(codes)) row indices: each row a permutation that moves rows only within their subject."""
    base = np.argsort(codes, kind="stable")
    keys = codes[base][None, :] + rng.random((n, len(codes)))       # subject first, then random
    out = np.empty((n, len(codes)), dtype=np.int64)
    out[:, base] = base[np.argsort(keys, axis=1)]
    return out


def permutation_test(df: pd.DataFrame, task: str, metric: str, n_permutations: int = N_PERMUTATIONS,
                     seed: int = 0) -> dict[str, float]:
    """Observed pooled metric, its permutation p-value (one-sided, better than chance) and the mean
    of the null distribution (the chance level of this metric on these subjects)."""
    y, score = true_and_score(df, task)
    codes, _ = pd.factorize(df["subject"], sort=True)
    observed = metric_value(metric, y, score, task)
    perms = within_subject_permutations(codes, n_permutations, np.random.default_rng(seed))
    null = np.array([metric_value(metric, y[p], score, task) for p in perms])
    null = null[~np.isnan(null)]
    if math.isnan(observed) or not len(null):
        return {"observed": observed, "p_value": float("nan"), "null_mean": float("nan"), "n_permutations": 0}
    as_good = null <= observed if metric in LOWER_IS_BETTER else null >= observed
    return {"observed": observed, "p_value": float((1 + as_good.sum()) / (1 + len(null))),
            "null_mean": float(null.mean()), "n_permutations": int(len(null))}


def headline_stats(trials: pd.DataFrame, task: str, metric: str | None = None, seed: int = 0,
                   n_permutations: int = N_PERMUTATIONS) -> dict[str, dict[str, Any]]:
    """label -> value, 95 % interval, permutation p-value, chance (null mean), per-subject values and
    the number of subjects, for the headline metric of a (trial-level) table's test rows."""
    metric = metric or HEADLINE[task]
    out: dict[str, dict[str, Any]] = {}
    for label, part in trials[trials["split"] == "test"].groupby("label", sort=False):
        perm = permutation_test(part, task, metric, n_permutations, seed)
        low, high = bootstrap_interval(part, task, metric, seed=seed)
        out[str(label)] = {"metric": metric, "value": perm["observed"], "ci_low": low, "ci_high": high,
                           "p_value": perm["p_value"], "chance": perm["null_mean"],
                           "per_subject": per_subject(part, task, metric), "n_subjects": int(part["subject"].nunique())}
    return out


def _refuse_unpaired(a: RunTables, b: RunTables) -> None:
    """Runs are comparable only on the same folds, subjects and labels."""
    problems = []
    if [(f.get("train"), f.get("val"), f.get("test")) for f in a.folds] != \
            [(f.get("train"), f.get("val"), f.get("test")) for f in b.folds]:
        problems.append("their folds (folds.json) differ")
    only_one = set(a.windows["subject"]) ^ set(b.windows["subject"])
    if only_one:
        problems.append(f"their test subjects differ ({sorted(only_one)[:5]})")
    if a.labels != b.labels or a.task != b.task:
        problems.append(f"their labels differ ({a.task} {a.labels} vs {b.task} {b.labels})")
    if problems:
        raise ConfigError(f"cannot compare {a.path} with {b.path}: {'; '.join(problems)}. Train both with the same "
                          "manifest, --split, --folds, --seed and --labels.")


def compare_runs(a: RunTables, b: RunTables, metric: str | None = None, level: str = "trial",
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """label -> paired per-subject difference (A - B) of ``metric`` at ``level`` ("trial"/"window"):
    mean difference, its 95 % bootstrap interval, the Wilcoxon signed-rank p-value and the number
    of subjects where both runs' metric is defined. Refuses runs whose folds, subjects or labels differ."""
    _refuse_unpaired(a, b)
    metric = metric or HEADLINE[a.task]
    tables = [r.trials if level == "trial" else r.windows[r.windows["split"] == "test"] for r in (a, b)]
    out: dict[str, dict[str, Any]] = {}
    for label in a.labels:
        sa, sb = (per_subject(t[t["label"] == label], a.task, metric) for t in tables)
        pairs = [(s, sa[s], sb[s]) for s in sorted(sa) if s in sb and not (math.isnan(sa[s]) or math.isnan(sb[s]))]
        diff = np.array([x - y for _, x, y in pairs])
        out[label] = {"metric": metric, "level": level, "n_subjects": len(pairs),
                      "mean_a": float(np.mean([x for _, x, _ in pairs])) if pairs else float("nan"),
                      "mean_b": float(np.mean([y for _, _, y in pairs])) if pairs else float("nan"),
                      **_paired_test(diff, seed), "per_subject": {s: x - y for s, x, y in pairs}}
    return out


def _paired_test(diff: np.ndarray, seed: int) -> dict[str, float]:
    """Mean difference, percentile bootstrap interval and two-sided Wilcoxon signed-rank p-value."""
    nan = float("nan")
    if len(diff) < 2:
        return {"mean_difference": float(diff.mean()) if len(diff) else nan, "ci_low": nan, "ci_high": nan,
                "wilcoxon_p": nan}
    if np.allclose(diff, 0):  # identical per-subject results: no evidence of any difference
        return {"mean_difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "wilcoxon_p": 1.0}
    ci = stats.bootstrap((diff,), np.mean, n_resamples=N_BOOTSTRAP, method="percentile",
                         rng=np.random.default_rng(seed)).confidence_interval
    return {"mean_difference": float(diff.mean()), "ci_low": float(ci.low), "ci_high": float(ci.high),
            "wilcoxon_p": float(stats.wilcoxon(diff).pvalue)}
