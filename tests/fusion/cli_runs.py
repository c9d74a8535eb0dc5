"""`cli train fusion` in subprocesses (one process or torchrun) on the bundled demo, for the
multi-process and kill-and-resume tests.

The demo (3 subjects x 2 trials x 8 s, random-init video encoder) is built once per pytest session
through the real CLI in a subprocess, because a subprocess cannot see the in-process stand-in
extractors of ``synthetic.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Small, and free of randomness that cannot match across world sizes: dropout masks (torch global
# RNG, per rank) and SigLIP (pairs within a rank's share of the batch). Augmentation and modality
# dropout stay on: they are drawn for the global batch. 9 training windows, batch 4: the last batch
# of each epoch has 1 window, so with 2 ranks one rank gets an empty share.
TRAIN_ARGS = ("--modalities", "eeg,video,audio,ecg", "--split", "trial", "--folds", "2", "--max-folds", "1",
              "--epochs", "3", "--batch-size", "4", "--device", "cpu", "--seed", "3",
              "--set", "dropout=0", "--set", "siglip_weight=0", "--set", "d_model=16", "--set", "n_heads=2",
              "--set", "eeg_layers=1", "--set", "fusion_layers=1")


def env() -> dict[str, str]:
    """Child environment: one torch thread (2 shared cores), repo importable."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def cli(*args: str) -> list[str]:
    return [sys.executable, "cli.py", *args]


def demo_manifest(basetemp: Path) -> Path:
    """The demo's manifest under the session's base temp folder, built on first use."""
    root = basetemp / "fusion_cli_demo"
    manifest = root / "data_manifest.yaml"
    done = root / "extracted.ok"
    if not done.exists():
        for args in (("synth", "demo", "--out", str(root), "--subjects", "3", "--trials", "2", "--duration-s", "8"),
                     ("extract", "all", "--manifest", str(manifest), "--random-init", "--scheduler", "sync")):
            proc = subprocess.run(cli(*args), cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        done.write_text("ok\n")
    return manifest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_command(manifest: Path, out: Path, nproc: int, *extra: str) -> list[str]:
    """`cli train fusion` for one process, or under torchrun with ``nproc`` ranks."""
    args = ("train", "fusion", "--manifest", str(manifest), "--out", str(out), *TRAIN_ARGS, *extra)
    if nproc == 1:
        return cli(*args)
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
            "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "cli.py", *args]


def train(manifest: Path, out: Path, nproc: int = 1, *extra: str) -> str:
    """Run training to the end; return its stdout (fails the test with the output on error)."""
    proc = subprocess.run(train_command(manifest, out, nproc, *extra), cwd=REPO, env=env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def rows(run: Path, kind: str) -> list[dict]:
    """metrics.jsonl rows of fold 0 of ``kind`` ("train" or "val")."""
    lines = (run / "fold0" / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())
