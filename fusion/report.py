"""``write_report(runs, out)``: one self-contained HTML page a person reads to judge one or more runs.

Why one file: it is attached to a lab notebook or e-mail and must open years later with no
network and no eegavi: figures are embedded PNGs, styles inline, no scripts. Sections:
configuration, data summary, learning curves and gates per fold, trial-level and window-level
results with 95 % subject-bootstrap intervals and permutation p-values, baseline rows (majority
class, chance), per-subject results, confusion matrices, and with two or more runs their paired
comparison (each run against the first). Trial level is the headline, since the label belongs to
the trial.

It reads run folders as ``cli train fusion`` writes them. A run written before per-fold
``predictions.csv`` existed is read from ``test_predictions.npz``: it has no recording ids, so
its trial-level rows say "not available" and only window-level numbers are shown.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from fusion.classic import chance_metrics, majority_metrics
from fusion.metrics import METRICS
from fusion.predictions import RunTables, level_metrics, load_run, true_and_score
from fusion.report_figures import confusion, fold_curves
from fusion.statistics import HEADLINE, N_PERMUTATIONS, bootstrap_interval, compare_runs, headline_stats
from pipeline.errors import ConfigError

_log = logging.getLogger(__name__)

SECTIONS = ("Configuration", "Data summary", "Learning curves and gates", "Trial-level results",
            "Window-level results", "Baselines", "Per-subject results", "Confusion matrices", "Comparison")
CONFIG_KEYS = ("fusion", "modalities", "split", "folds", "seed", "labels", "task", "window_s", "hop_s", "epochs",
               "normalise", "manifest")
_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 8px;"
          "font-size:13px;text-align:right}th{background:#eef}td:first-child,th:first-child{text-align:left}"
          "h2{border-bottom:2px solid #99c;margin-top:2em}.note{color:#555;font-size:13px}img{margin:4px}")


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "—" if np.isnan(v) else f"{v:.3f}"
    return html.escape(str(v))


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _ci(low: float, high: float) -> str:
    return "—" if np.isnan(low) else f"[{low:.3f}, {high:.3f}]"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


class _Run:
    """One run's tables and statistics, computed once for every section."""

    def __init__(self, name: str, tables: RunTables, n_permutations: int, seed: int) -> None:
        self.name, self.t = name, tables
        self.metric = HEADLINE[tables.task]
        test = tables.windows[tables.windows["split"] == "test"]
        self.test_windows, self.trials = test, tables.trials
        self.trial_stats = {} if tables.legacy else headline_stats(self.trials, tables.task, self.metric, seed,
                                                                   n_permutations)
        self.trial_metrics = level_metrics(self.trials, tables.task) if not tables.legacy else {}
        self.window_metrics = level_metrics(test, tables.task)
        self.window_ci = {str(lb): bootstrap_interval(part, tables.task, self.metric, seed=seed)
                          for lb, part in test.groupby("label", sort=False)}


def write_report(runs: list[Path], out: Path, n_permutations: int = N_PERMUTATIONS, seed: int = 0) -> Path:
    """Write the HTML report of ``runs`` (run folders) to ``out``; return ``out``."""
    if not runs:
        raise ConfigError("report: no run folders given. Pass one or more folders written by `cli train fusion`.")
    names = _names([Path(r) for r in runs])
    data = [_Run(n, load_run(Path(r)), n_permutations, seed) for n, r in zip(names, runs)]
    parts = [_configuration(data), _data_summary(data), _curves(data), _results(data, "trial"),
             _results(data, "window"), _baselines(data), _per_subject(data), _confusions(data)]
    if len(data) >= 2:
        parts.append(_comparison(data, seed))
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>eegavi report</title><style>{_STYLE}</style>"
            f"</head><body><h1>eegavi evaluation report</h1>"
            f"{_note('Runs: ' + ', '.join(names) + '. Headline: trial level (mean window score per recording).')}"
            + "".join(parts) + "</body></html>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    _log.info("report of %d run(s) written to %s", len(data), out)
    return out


def _names(runs: list[Path]) -> list[str]:
    """Folder names, made unique with the parent's name where two runs share one."""
    base = [r.resolve().name for r in runs]
    return [f"{r.resolve().parent.name}/{n}" if base.count(n) > 1 else n for r, n in zip(runs, base)]


def _section(title: str, body: str) -> str:
    return f"<section id='{title.lower().replace(' ', '-')}'><h2>{html.escape(title)}</h2>{body}</section>"


def _configuration(data: list[_Run]) -> str:
    rows = [[k, *(json.dumps(r.t.config.get(k, "—")) if isinstance(r.t.config.get(k), list)
                  else r.t.config.get(k, "—") for r in data)] for k in CONFIG_KEYS]
    full = "".join(f"<details><summary>{html.escape(r.name)}: full config.json</summary><pre>"
                   f"{html.escape(json.dumps(r.t.config, indent=1))}</pre></details>" for r in data)
    return _section("Configuration", _table(["setting", *[r.name for r in data]], rows) + full)


def _data_summary(data: list[_Run]) -> str:
    rows = []
    for r in data:
        w, tr = r.test_windows, r.trials
        for label, part in w.groupby("label", sort=False):
            cls = part["target_binary"].astype("Int64").value_counts() if r.t.task == "binary" else pd.Series(dtype=int)
            t_part = tr[tr["label"] == label]
            rows.append([r.name, label, part["subject"].nunique(), part["recording"].nunique() or "—", len(part),
                         int(cls.get(0, 0)), int(cls.get(1, 0)), len(t_part) or "—"])
    return _section("Data summary", _note("Test side of every fold, pooled (each recording is tested once).")
                    + _table(["run", "label", "subjects", "recordings", "windows", "windows low", "windows high",
                              "trials"], rows))


def _curves(data: list[_Run]) -> str:
    body = []
    for r in data:
        imgs = [fold_curves(d) for d in sorted(r.t.path.glob("fold*/"), key=lambda p: p.name)]
        imgs = [f"<img src='{u}' alt='{html.escape(r.name)} learning curves'>" for u in imgs if u]
        body.append(f"<h3>{html.escape(r.name)}</h3>" + ("".join(imgs) or _note("no metrics.jsonl in this run")))
    return _section("Learning curves and gates", "".join(body))


def _results(data: list[_Run], level: str) -> str:
    task = data[0].t.task
    headers = ["run", "label", "subjects", f"headline ({data[0].metric})", "95% CI (subjects)",
               "p (permutation)", "chance (null mean)", *METRICS[task]]
    rows = []
    for r in data:
        metrics = r.trial_metrics if level == "trial" else r.window_metrics
        for label in r.t.labels:
            if label not in metrics:
                rows.append([r.name, label, "—", "not available (run has no predictions.csv)", "", "", "",
                             *[""] * len(METRICS[task])])
                continue
            m = metrics[label]
            if level == "trial":
                s = r.trial_stats[label]
                lead = [s["n_subjects"], s["value"], _ci(s["ci_low"], s["ci_high"]), s["p_value"], s["chance"]]
            else:
                part = r.test_windows[r.test_windows["label"] == label]
                lead = [part["subject"].nunique(), m.get(r.metric, np.nan), _ci(*r.window_ci[label]), "—", "—"]
            rows.append([r.name, label, *lead, *[m.get(k, np.nan) for k in METRICS[task]]])
    note = ("Trial level: a recording's score is the mean of its window scores. Interval: percentile bootstrap "
            "over subjects. p: labels permuted within subject against the fixed predictions (one-sided)."
            if level == "trial" else "Window level: every test window counts once; windows of a trial are not "
            "independent, so these numbers look more certain than they are.")
    return _section(f"{level.capitalize()}-level results", _note(note) + _table(headers, rows))


def _baselines(data: list[_Run]) -> str:
    task = data[0].t.task
    rows = []
    for r in data:
        table = r.trials if not r.t.legacy else r.test_windows
        for label, part in table.groupby("label", sort=False):
            rows.append([r.name, label, "majority class", *[majority_metrics(part, task).get(k, np.nan)
                                                             for k in METRICS[task]]])
            if task == "binary":
                chance = chance_metrics(true_and_score(part, task)[0])
                rows.append([r.name, label, "chance (fair coin)", *[chance[k] for k in METRICS[task]]])
        if r.t.config.get("fusion") == "classic":
            rows.append([r.name, "all", "classic band-power baseline: see its rows in the result tables",
                         *[""] * len(METRICS[task])])
    return _section("Baselines", _note("Trial level, on each run's own test trials. The classic baseline "
                                       "(--fusion classic) is a run of its own.")
                    + _table(["run", "label", "baseline", *METRICS[task]], rows))


def _per_subject(data: list[_Run]) -> str:
    labels = data[0].t.labels
    body = []
    for label in labels:
        per = {r.name: r.trial_stats.get(label, {}).get("per_subject", {}) for r in data}
        subjects = sorted({s for v in per.values() for s in v})
        rows = [[s, *[per[r.name].get(s, np.nan) for r in data]] for s in subjects]
        body.append(f"<h3>{html.escape(label)}: {html.escape(data[0].metric)} per subject (trial level)</h3>"
                    + _table(["subject", *[r.name for r in data]], rows))
    return _section("Per-subject results", "".join(body))


def _confusions(data: list[_Run]) -> str:
    if data[0].t.task != "binary":
        return _section("Confusion matrices", _note("regression labels: no confusion matrix"))
    imgs = []
    for r in data:
        table, level = (r.trials, "trials") if not r.t.legacy else (r.test_windows, "windows")
        for label, part in table.groupby("label", sort=False):
            y, s = true_and_score(part, "binary")
            m = confusion_matrix(y.astype(int), (s >= 0.5).astype(int), labels=[0, 1])
            imgs.append(f"<img src='{confusion(m, f'{r.name}: {label} ({level})')}' alt='confusion {label}'>")
    return _section("Confusion matrices", "".join(imgs))


def _comparison(data: list[_Run], seed: int) -> str:
    ref, rows = data[0], []
    for r in data[1:]:
        try:
            res = compare_runs(r.t, ref.t, seed=seed)
        except ConfigError as e:
            rows.append([f"{r.name} − {ref.name}", "—", "—", "—", "—", "—", f"not comparable: {e}"])
            continue
        for label, c in res.items():
            rows.append([f"{r.name} − {ref.name}", label, c["metric"], c["n_subjects"], c["mean_difference"],
                         _ci(c["ci_low"], c["ci_high"]), c["wilcoxon_p"]])
    return _section("Comparison", _note("Paired per-subject difference of the trial-level headline metric; "
                                        "interval: bootstrap over subjects; p: Wilcoxon signed-rank.")
                    + _table(["runs", "label", "metric", "subjects", "mean difference", "95% CI", "p (Wilcoxon)"],
                             rows))
