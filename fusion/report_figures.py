"""The report's figures as embedded PNGs: learning curves and gates per fold, confusion matrices.

Why a separate module: ``fusion.report`` assembles HTML; this one only draws (matplotlib, Agg
backend) and returns ``data:image/png;base64,...`` URIs so the HTML file stands alone.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def png_uri(fig) -> str:
    """Close ``fig`` and return it as a base64 PNG data URI."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def fold_curves(fold_dir: Path) -> str | None:
    """Losses over steps (train and validation) and, for gated fusion, ``tanh(gate)`` per layer and
    modality over epochs, from a fold's ``metrics.jsonl``; None when it has no rows."""
    rows = _rows(fold_dir / "metrics.jsonl")
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    if not train and not val:
        return None
    gate_keys = sorted({k for r in val for k in r if k.startswith("gate/")})
    fig, axes = plt.subplots(1, 2 if gate_keys else 1, figsize=(9 if gate_keys else 5, 3), squeeze=False)
    ax = axes[0, 0]
    for key in [k for k in (train[0] if train else {}) if k not in ("kind", "step", "epoch", "lr")]:
        ax.plot([r["step"] for r in train], [r.get(key, np.nan) for r in train], label=key, lw=1)
    vl = [r for r in val if "val_loss" in r]
    if vl:
        ax.plot([r["step"] for r in vl], [r["val_loss"] for r in vl], "o-", label="val task", lw=1.5)
    ax.set(xlabel="optimiser step", ylabel="loss", title=f"{fold_dir.name}: losses")
    ax.legend(fontsize=6)
    if gate_keys:
        ax = axes[0, 1]
        for k in gate_keys:
            ax.plot([r["epoch"] for r in val], [r.get(k, np.nan) for r in val], label=k[5:], lw=1)
        ax.set(xlabel="epoch", ylabel="tanh(gate)", title=f"{fold_dir.name}: gates")
        ax.legend(fontsize=5, ncol=2)
    return png_uri(fig)


def confusion(matrix: np.ndarray, title: str) -> str:
    """A 2x2 confusion matrix (rows = true low/high, columns = predicted) with counts."""
    fig, ax = plt.subplots(figsize=(2.6, 2.4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(int(v)), ha="center", va="center", color="black", fontsize=11)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["low", "high"], yticklabels=["low", "high"],
           xlabel="predicted", ylabel="true", title=title)
    ax.title.set_fontsize(8)
    return png_uri(fig)
