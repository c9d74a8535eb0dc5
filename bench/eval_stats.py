"""Bench: evaluation and statistics of a DEAP-sized run from its predictions tables.

32 subjects x 40 trials x 29 windows (4 s windows, 2 s hop over 60 s trials), two binary labels,
leave-one-subject-out (32 folds), synthetic scores with a weak planted effect. Times each stage
of what ``cli eval`` plus statistics and ``cli report`` do after training: reading the per-fold
``predictions.csv`` tables, trial aggregation and metrics at both levels, the headline statistics
(2,000 subject-bootstrap resamples, 1,000 within-subject permutations, per label), the paired
comparison of two runs, and the whole HTML report of two runs.

Against what: ``cli eval`` (``fusion.results.evaluate_run``: tables, both levels, headline
statistics, baseline rows) is timed next to one training epoch of a LOSO fold at the same size
(31 training subjects x 40 trials x 29 windows = 35,960 windows of 32 channels x 4 s at 128 Hz),
EEG-only model with default width, batch 32, AdamW, on this machine's CPU. A full epoch is too
long for the shared 2-core machine, so ``--train-steps`` steps are timed (after one warm-up step)
and scaled to the epoch's step count; the batch assembly from the cache is not included (it is
a small fraction of a step: ``bench/train_step.py``), so the true epoch is somewhat longer and the
printed ratio somewhat pessimistic for evaluation.

    python -m bench.eval_stats --threads 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


from fusion.predictions import COLUMNS, load_run, table_results, write_table
from fusion.report import write_report
from fusion.results import evaluate_run
from fusion.statistics import bootstrap_interval, compare_runs, headline_stats


def fake_run(path: Path, subjects: int, trials: int, windows: int, skill: float, seed: int) -> Path:
    """A LOSO run folder with one ``predictions.csv`` per fold (labels shared across runs)."""
    truth, rng = np.random.default_rng(0), np.random.default_rng(seed)
    folds = []
    for s in range(subjects):
        subj = f"s{s + 1:02d}"
        n = trials * windows * 2
        y = np.repeat(truth.integers(0, 2, (trials, 2)), windows, axis=0).T.ravel()   # label-major
        rec = np.tile(np.repeat([f"{subj}_t{t + 1:02d}" for t in range(trials)], windows), 2)
        df = pd.DataFrame({"recording": rec, "subject": subj, "session": None,
                           "trial": [r.split("_")[1] for r in rec], "stimulus": [f"clip{r[-2:]}" for r in rec],
                           "start_s": np.tile(2.0 * np.arange(windows), trials * 2),
                           "label": np.repeat(["valence", "arousal"], trials * windows), "target": 1 + 8 * y,
                           "target_binary": y, "score": np.clip(skill * y + (1 - skill) * rng.random(n), 0, 1),
                           "fold": s, "split": "test"})
        df["end_s"] = df["start_s"] + 4.0
        write_table(df[list(COLUMNS)], path / f"fold{s}")
        folds.append({"index": s, "train": [], "val": [], "test": sorted(set(rec))})
    (path / "folds.json").write_text(json.dumps(folds))
    (path / "config.json").write_text(json.dumps({"labels": ["valence", "arousal"], "task": "binary",
                                                  "split": "loso", "fusion": "bench"}))
    return path


def epoch_seconds(train_windows: int, steps: int, batch: int = 32, channels: int = 32, sfreq: float = 128.0,
                  window_s: float = 4.0) -> tuple[float, float]:
    """(seconds per training step, scaled seconds per epoch) of the default EEG-only model."""
    import torch

    from fusion.model import FusionConfig, FusionModel, ModelInputs
    from fusion.train import make_optimizer
    from fusion.train_config import OptimisationConfig

    n = int(sfreq * window_s)
    model = FusionModel(FusionConfig(fusion="eeg-only"), ModelInputs(channels, n, sfreq, 2))
    opt = make_optimizer(model, OptimisationConfig())
    x, y = torch.randn(batch, channels, n), torch.randint(0, 2, (batch, 2)).float()
    cov = torch.zeros(batch, 0)

    def step() -> None:
        logits = model(x, {}, {}, cov)["logits"]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - t0) / steps
    return per_step, per_step * -(-train_windows // batch)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--windows", type=int, default=29)
    ap.add_argument("--train-steps", type=int, default=5, help="Training steps timed (scaled to one epoch).")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the training steps.")
    args = ap.parse_args(argv)
    times: dict[str, float] = {}

    def timed(name: str, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        return out

    with tempfile.TemporaryDirectory() as tmp:
        a = timed("write 2 x predictions tables",
                  lambda: [fake_run(Path(tmp) / k, args.subjects, args.trials, args.windows, sk, i)
                           for i, (k, sk) in enumerate((("a", 0.15), ("b", 0.05)))])
        run_a, run_b = timed("read one run's tables", lambda: load_run(a[0])), load_run(a[1])
        print(f"{len(run_a.windows):,} window rows, {len(run_a.trials):,} trial rows per run")
        timed("trial aggregation + metrics at both levels", lambda: table_results(run_a.windows, "binary"))
        timed("headline statistics, trial level (2 labels)", lambda: headline_stats(run_a.trials, "binary"))
        timed("window-level bootstrap intervals (2 labels)",
              lambda: [bootstrap_interval(p, "binary", "balanced_accuracy") for _, p in run_a.windows.groupby("label")])
        timed("paired comparison of two runs", lambda: compare_runs(run_a, run_b))
        timed("HTML report of two runs (all of the above)", lambda: write_report(a, Path(tmp) / "r.html"))
        timed("`cli eval` of one run (evaluate_run: tables, both levels, statistics, baselines)",
              lambda: evaluate_run(a[0]))
    for k, v in times.items():
        print(f"| {k} | {v:.2f} s |")
    import torch

    torch.set_num_threads(args.threads)
    train_windows = (args.subjects - 1) * args.trials * args.windows
    per_step, epoch = epoch_seconds(train_windows, args.train_steps)
    ev = times["`cli eval` of one run (evaluate_run: tables, both levels, statistics, baselines)"]
    print(f"| one training epoch, LOSO fold, {train_windows:,} windows, batch 32, {args.threads} thread(s): "
          f"{per_step:.3f} s/step x {-(-train_windows // 32)} steps (scaled from {args.train_steps} steps) | "
          f"{epoch:.0f} s |")
    print(f"| `cli eval` / one training epoch | {ev / epoch:.4f} |")


if __name__ == "__main__":
    main()
