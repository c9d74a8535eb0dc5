"""The per-fold predictions table: one row per test window and label, joinable with the manifest.

Why: metrics per window alone cannot be turned into per-trial, per-subject or per-stimulus results
afterwards. Each row says which recording (subject, session, trial, stimulus), which window
(start and end in seconds on the recording clock), which label (its value in the label's own
units, and the binarised target), the model's score, the fold and the split side. The table is
written as ``predictions.csv`` in the fold folder (and ``predictions.parquet`` when pyarrow is
installed) and everything downstream (trial-level results, statistics, comparison, report)
reads it back.

Trial level: the label belongs to the trial, so the headline unit is the recording. A trial's
score is the **mean of its window scores** (for binary labels, the mean probability of the high
class, then thresholded at 0.5); its target is the recording's label.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fusion.metrics import label_metrics
from pipeline.errors import ConfigError
from pipeline.manifest import LabelScale, Recording

_log = logging.getLogger(__name__)

COLUMNS = ("recording", "subject", "session", "trial", "stimulus", "start_s", "end_s", "label", "target",
           "target_binary", "score", "fold", "split")
TRIAL_KEYS = ["fold", "split", "recording", "label"]
_TEXT = ("recording", "subject", "session", "trial", "stimulus", "label", "split")


def predictions_frame(recordings: Sequence[Recording], rec_idx: np.ndarray, starts: np.ndarray, window_s: float,
                      score: np.ndarray, labels: Sequence[str], scales: dict[str, LabelScale],
                      thresholds: dict[str, float], task: str, fold: int, split: str = "test") -> pd.DataFrame:
    """The table for windows ``i`` of recording ``recordings[rec_idx[i]]`` starting at ``starts[i]``.

    ``score`` (W, L) is what the trainer predicts: the probability of the high class (binary) or
    the label rescaled to [0, 1] by its scale (regression), which is mapped back to the label's
    units here. Windows of a recording without a label get no row for that label.
    """
    if score.shape != (len(rec_idx), len(labels)):
        raise ValueError(f"score has shape {score.shape}; expected ({len(rec_idx)}, {len(labels)}) windows x labels")
    rows: list[dict[str, Any]] = []
    for i, (r_i, start) in enumerate(zip(rec_idx, starts)):
        rec = recordings[int(r_i)]
        for j, name in enumerate(labels):
            if name not in rec.labels:
                continue
            sc, value = scales[name], float(rec.labels[name])
            s = float(score[i, j]) if task == "binary" else sc.min + float(score[i, j]) * (sc.max - sc.min)
            rows.append({"recording": rec.id, "subject": rec.subject, "session": rec.session, "trial": rec.trial,
                         "stimulus": rec.stimulus, "start_s": float(start), "end_s": float(start) + window_s,
                         "label": name, "target": value,
                         "target_binary": int(sc.binarize(value, thresholds.get(name))),
                         "score": s, "fold": int(fold), "split": split})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def window_table(ws: Any, score: np.ndarray, labels: Sequence[str], scales: dict[str, LabelScale],
                 thresholds: dict[str, float], task: str, fold: int, split: str = "test") -> pd.DataFrame:
    """``predictions_frame`` for a ``fusion.data.WindowSet`` and the scores ``predict`` returned."""
    return predictions_frame([rf.rec for rf in ws.features], ws.rec_idx, ws.starts, ws.window_s, score, labels,
                             scales, thresholds, task, fold, split)


def write_table(df: pd.DataFrame, fold_dir: Path) -> list[Path]:
    """Write ``predictions.csv`` (and ``predictions.parquet`` with pyarrow) into ``fold_dir``."""
    fold_dir.mkdir(parents=True, exist_ok=True)
    paths = [fold_dir / "predictions.csv"]
    df.to_csv(paths[0], index=False)
    if importlib.util.find_spec("pyarrow") is not None:
        paths.append(fold_dir / "predictions.parquet")
        df.to_parquet(paths[1], index=False)
    return paths


def read_table(path: Path) -> pd.DataFrame:
    """One fold's ``predictions.csv`` (or ``.parquet``) back, with ids read as text."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if not path.exists():
        raise ConfigError(f"{path}: predictions table not found. Train with a version that writes it.")
    return pd.read_csv(path, dtype={c: "string" for c in _TEXT}, keep_default_na=True)


def aggregate_trials(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (fold, split, recording, label): mean window score, the recording's target, the
    span of its windows and ``n_windows``. Rows without a recording id (legacy runs) are dropped."""
    df = df[df["recording"].notna()]
    first = {c: "first" for c in ("subject", "session", "trial", "stimulus", "target", "target_binary")}
    out = df.groupby(TRIAL_KEYS, sort=True, dropna=False).agg(
        **{c: (c, f) for c, f in first.items()}, start_s=("start_s", "min"), end_s=("end_s", "max"),
        score=("score", "mean"), n_windows=("score", "size")).reset_index()
    return out[[*COLUMNS, "n_windows"]]


def true_and_score(df: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Targets and scores of a table as the metrics want them (binary: the binarised target)."""
    y = df["target_binary" if task == "binary" else "target"].to_numpy(dtype=float)
    return y, df["score"].to_numpy(dtype=float)


def level_metrics(df: pd.DataFrame, task: str) -> dict[str, dict[str, float]]:
    """label -> metric -> value over every row of ``df`` (folds pooled)."""
    return {str(name): label_metrics(*true_and_score(part, task), task)
            for name, part in df.groupby("label", sort=False)}


def table_results(df: pd.DataFrame, task: str) -> dict[str, dict[str, dict[str, float]]]:
    """{"trial": ..., "window": ...} metrics of the test rows; trial level is the headline."""
    test = df[df["split"] == "test"]
    return {"trial": level_metrics(aggregate_trials(test), task), "window": level_metrics(test, task)}


# ---------------------------------------------------------------- a run folder


@dataclass
class RunTables:
    """What a run folder holds that evaluation needs: config, folds and the pooled test windows."""

    path: Path
    config: dict[str, Any]
    folds: list[dict[str, Any]]
    windows: pd.DataFrame
    legacy: bool  # True: rebuilt from test_predictions.npz (no recording ids; window level only)

    @property
    def task(self) -> str:
        return str(self.config.get("task", "binary"))

    @property
    def labels(self) -> list[str]:
        return list(self.config.get("labels", sorted(self.windows["label"].unique())))

    @property
    def trials(self) -> pd.DataFrame:
        return aggregate_trials(self.windows[self.windows["split"] == "test"])


def load_run(run_dir: Path) -> RunTables:
    """Read ``config.json``, ``folds.json`` and every ``fold*/predictions.csv`` of a run; a run
    written before predictions tables existed is read from ``fold*/test_predictions.npz``."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise ConfigError(f"{run_dir}: no config.json; pass a run folder written by `cli train fusion`.")
    config = flat_config(json.loads((run_dir / "config.json").read_text()))
    folds = json.loads((run_dir / "folds.json").read_text()) if (run_dir / "folds.json").exists() else []
    fold_dirs = sorted(run_dir.glob("fold*/"), key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else -1)
    tables = [read_table(d / "predictions.csv") for d in fold_dirs if (d / "predictions.csv").exists()]
    legacy = not tables
    if legacy:
        tables = [_legacy_table(d, config) for d in fold_dirs if (d / "test_predictions.npz").exists()]
        if tables:
            _log.warning("%s: no predictions.csv (older run); window-level results only", run_dir)
    if not tables:
        raise ConfigError(f"{run_dir}: no fold*/predictions.csv or fold*/test_predictions.npz. Did training finish?")
    return RunTables(run_dir, config, folds, pd.concat(tables, ignore_index=True), legacy)


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """A run's config.json by leaf name: today's is nested (data.labels, model.fusion, ...) and its
    leaf names are unique; older runs are flat already."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(flat_config(value) if isinstance(value, dict) else {key: value})
    return flat


def _legacy_table(fold_dir: Path, config: dict[str, Any]) -> pd.DataFrame:
    """Window rows from a ``test_predictions.npz`` (score, y, mask, subjects): no recording, trial or
    time is known; regression scores and targets stay on the [0, 1] training scale."""
    npz = np.load(fold_dir / "test_predictions.npz")
    labels, task = config.get("labels", []), config.get("task", "binary")
    fold = int(fold_dir.name[4:])
    parts = []
    for j, name in enumerate(labels):
        m = npz["mask"][:, j].astype(bool)
        y = npz["y"][m, j].astype(float)
        parts.append(pd.DataFrame({"recording": pd.NA, "subject": npz["subjects"][m].astype(str), "label": name,
                                   "target": y, "target_binary": y.astype(int) if task == "binary" else pd.NA,
                                   "score": npz["score"][m, j].astype(float), "fold": fold, "split": "test"}))
    return pd.concat(parts, ignore_index=True).reindex(columns=list(COLUMNS))
