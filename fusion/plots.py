"""PNG plots of a fold's metrics.jsonl: loss curves, validation metric, gate values.

Matplotlib with the Agg backend (no display needed). The gate plot shows ``tanh(gate)`` per layer
and modality over training: it is the quickest way to see whether the model uses a modality at all.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_log = logging.getLogger(__name__)


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def plot_fold(fold_dir: Path) -> list[Path]:
    """Write loss.png, val_metric.png and (gated-xattn) gates.png into ``fold_dir``; return paths."""
    rows = _rows(fold_dir / "metrics.jsonl")
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    written: list[Path] = []
    if train:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for key in [k for k in train[0] if k not in ("kind", "step", "epoch", "lr")]:
            ax.plot([r["step"] for r in train], [r.get(key, float("nan")) for r in train], label=key, lw=1)
        if any("val_loss" in r for r in val):
            ax.plot([r["step"] for r in val if "val_loss" in r], [r["val_loss"] for r in val if "val_loss" in r],
                    "o-", label="val task", lw=1.5)
        ax.set(xlabel="optimiser step", ylabel="loss", title="losses")
        ax.legend(fontsize=7)
        written.append(_save(fig, fold_dir / "loss.png"))
    if any("val_score" in r for r in val):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([r["epoch"] for r in val if "val_score" in r], [r["val_score"] for r in val if "val_score" in r], "o-")
        ax.set(xlabel="epoch", ylabel="validation score", title="early-stopping metric")
        written.append(_save(fig, fold_dir / "val_metric.png"))
    gate_keys = sorted({k for r in val for k in r if k.startswith("gate/")})
    if gate_keys:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for k in gate_keys:
            ax.plot([r["epoch"] for r in val], [r.get(k, float("nan")) for r in val], label=k[5:], lw=1)
        ax.set(xlabel="epoch", ylabel="tanh(gate)", title="gate values per layer and modality")
        ax.legend(fontsize=6, ncol=2)
        written.append(_save(fig, fold_dir / "gates.png"))
    return written


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
