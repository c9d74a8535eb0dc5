"""Print stage two's results: the training progress bar, ``cli eval`` and ``cli compare`` output.

The trainer reports progress through a callback (``fusion.loop_state.FoldProgress``); rendering it
with rich is the command line's job, as extraction's progress bar is.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from typing import Any, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commandline.guard import console, out


@contextmanager
def training_progress(title: str, enabled: bool = True) -> Iterator[Any]:
    """A rich progress display with one bar per fold (epochs done, last validation score); yields
    the callback to pass to ``fusion.train.train(progress=...)``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
               TextColumn("{task.fields[score]}"), TimeElapsedColumn())
    console.print(title, highlight=False) if enabled else None
    with Progress(*columns, console=console, transient=False, disable=not enabled) as bar:
        tasks: dict[int, Any] = {}
        last: dict[int, int] = {}

        def update(p: Any) -> None:
            if p.fold not in tasks:
                tasks[p.fold] = bar.add_task(f"fold {p.position}/{p.n_folds}", total=p.epochs, score="")
            fields: dict[str, Any] = {}
            if p.val_score is not None:
                fields["score"] = f"val score {p.val_score:.3f}"
            if p.done:  # early stopping ends a fold before its last epoch: the bar ends where it stopped
                done = last.get(p.fold) or p.epochs
                bar.update(tasks[p.fold], total=done, completed=done,
                           description=f"fold {p.position}/{p.n_folds} done", **fields)
            else:
                last[p.fold] = p.epoch
                bar.update(tasks[p.fold], completed=p.epoch, **fields)

        yield update


def print_json(data: dict) -> None:
    """One JSON document on stdout (NaN written as NaN, as Python's json does)."""
    out.print(json.dumps(data, default=float), soft_wrap=True, highlight=False)


def _f(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def print_evaluation(result: dict[str, Any]) -> None:
    """``cli eval`` on a run folder: the headline (trial level, interval, p-value against chance),
    then per label the trial-level, window-level, majority-class and chance rows."""
    out.print(f"run: {result['run']}  ({result['task']}; trial level = mean window score per recording)")
    for label, h in result.get("headline", {}).items():
        out.print(f"{label}: trial-level {h['metric']} {_f(h['value'])}  95% CI [{_f(h['ci_low'])}, "
                  f"{_f(h['ci_high'])}] over {h['n_subjects']} subjects  permutation p={_f(h['p_value'])} "
                  f"(chance {_f(h['chance'])})", highlight=False, soft_wrap=True)
    if result.get("legacy"):
        out.print("older run without predictions.csv: window level only")
    for label in result["window"]:
        rows = {"trial": result["trial"].get(label, {}), "window": result["window"][label],
                **result.get("baselines", {}).get(label, {})}
        metrics = list(result["window"][label])
        table = Table(title=f"{label}: test metrics, folds pooled")
        for col in ("row", *metrics):
            table.add_column(col)
        for name, ms in rows.items():
            table.add_row(name, *(_f(ms.get(m)) for m in metrics))
        out.print(table)


def print_comparison(result: dict[str, Any]) -> None:
    """``cli compare``: per label, the paired per-subject difference A - B of the headline metric
    (one line per label, so nothing is cut in a narrow terminal)."""
    out.print(f"A: {result['a']}\nB: {result['b']}", highlight=False)
    for label, c in result["labels"].items():
        out.print(f"{label}: {c['level']}-level {c['metric']}  A {_f(c['mean_a'])}  B {_f(c['mean_b'])}  "
                  f"A - B {_f(c['mean_difference'])}  95% CI [{_f(c['ci_low'])}, {_f(c['ci_high'])}]  "
                  f"Wilcoxon p={_f(c['wilcoxon_p'])}  over {c['n_subjects']} subjects (paired, per subject)",
                  highlight=False, soft_wrap=True)


def print_summary(summary: dict) -> None:
    """The table printed at the end of training (trial level first) and by `cli eval` on a checkpoint."""
    table = summary.get("table", "")
    out.print(f"run: {summary.get('run_dir', '')}  device: {summary.get('device', '')}  "
              f"peak memory: {summary.get('peak_memory_gb', float('nan')):.2f} GB ({summary.get('peak_memory_kind', '')})")
    if "probe_peak_gb" in summary:
        out.print(f"first training steps (--vram-budget probe): {summary['probe_peak_gb']:.3f} GB "
                  f"({summary['probe_peak_kind']})")
    out.print("test metrics:")
    out.print(table, highlight=False, soft_wrap=True)
