"""The numbers of a finished run, from its predictions tables: what ``cli eval --json`` prints and
``cli compare`` compares. One function per command, so the CLI stays thin.

Trial level is the headline (``headline``): the label belongs to the trial. Every result carries
its baseline rows (majority class, chance) so a reader can tell whether a number is good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fusion.classic import chance_metrics, majority_metrics
from fusion.predictions import load_run, table_results, true_and_score
from fusion.statistics import N_PERMUTATIONS, compare_runs, headline_stats


def evaluate_run(run_dir: Path, n_permutations: int = N_PERMUTATIONS, seed: int = 0) -> dict[str, Any]:
    """{"headline": label -> value, interval, p-value, chance, per-subject (trial level),
    "trial"/"window": label -> metrics, "baselines": label -> {"majority", "chance"}} of a run folder.
    A run without predictions tables (older runs) has window-level numbers only."""
    run = load_run(Path(run_dir))
    test = run.windows[run.windows["split"] == "test"]
    out: dict[str, Any] = {"run": str(run_dir), "task": run.task, "legacy": run.legacy,
                           **table_results(run.windows, run.task)}
    out["headline"] = {} if run.legacy else headline_stats(run.trials, run.task, None, seed, n_permutations)
    base = test if run.legacy else run.trials
    out["baselines"] = {}
    for label, part in base.groupby("label", sort=False):
        rows = {"majority": majority_metrics(part, run.task)}
        if run.task == "binary":
            rows["chance"] = chance_metrics(true_and_score(part, run.task)[0])
        out["baselines"][str(label)] = rows
    return out


def compare_run_folders(run_a: Path, run_b: Path, metric: str | None = None, level: str = "trial",
                        seed: int = 0) -> dict[str, Any]:
    """``statistics.compare_runs`` (A - B, per subject) on two run folders; ConfigError when their
    folds, subjects or labels differ."""
    return {"a": str(run_a), "b": str(run_b),
            "labels": compare_runs(load_run(Path(run_a)), load_run(Path(run_b)), metric, level, seed)}
