"""`cli train fusion --resume` after SIGKILL: training continues from the last checkpoint and ends
with the same metrics.jsonl losses and test metrics as an uninterrupted run (CPU, fixed seed), for
one process and for torchrun with 2 ranks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from fusion.checkpoint import load_checkpoint
from tests.fusion import cli_runs


def _children(pid: int) -> list[int]:
    """Direct children (torchrun's workers run in their own sessions, so a group kill misses them)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _kill_at_first_checkpoint(cmd: list[str], checkpoint: Path) -> None:
    """Start ``cmd``, wait (polling, no fixed delay) until ``checkpoint`` exists, SIGKILL it and its workers."""
    proc = subprocess.Popen(cmd, cwd=cli_runs.REPO, env=cli_runs.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        while not checkpoint.exists():
            if proc.poll() is not None:
                raise AssertionError(f"training exited ({proc.returncode}) before {checkpoint}: {proc.stderr.read()}")
            time.sleep(0.02)
        for pid in _children(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.kill()
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stderr.close()


@pytest.mark.parametrize("nproc", [1, 2])
def test_sigkill_then_resume_finishes_like_an_uninterrupted_run(nproc: int, tmp_path_factory, tmp_path: Path) -> None:
    manifest = cli_runs.demo_manifest(tmp_path_factory.getbasetemp())
    full, part = tmp_path / "full", tmp_path / "part"
    cli_runs.train(manifest, full, nproc)
    _kill_at_first_checkpoint(cli_runs.train_command(manifest, part, nproc, "--checkpoint-every", "1"),
                              part / "fold0" / "last.pt")
    killed_at = load_checkpoint(part / "fold0" / "last.pt")["state"]["step"]
    cli_runs.train(manifest, part, nproc, "--checkpoint-every", "1", "--resume")

    ref, got = cli_runs.rows(full, "train"), cli_runs.rows(part, "train")
    assert [r["step"] for r in got] == list(range(1, 10)), f"killed at step {killed_at}"
    if nproc == 1:  # one process: bit-identical
        assert [r["total"] for r in got] == [r["total"] for r in ref]
        assert cli_runs.rows(part, "val") == cli_runs.rows(full, "val")
        a, b = cli_runs.summary(full)["folds"][0], cli_runs.summary(part)["folds"][0]
        assert json.dumps(b["test"]) == json.dumps(a["test"]) and b["test_loss"] == a["test_loss"]
    else:  # gloo all-reduce order may differ in the last bits
        np.testing.assert_allclose([r["total"] for r in got], [r["total"] for r in ref], rtol=1e-5)
        a, b = cli_runs.summary(full)["folds"][0], cli_runs.summary(part)["folds"][0]
        assert b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-4)
    assert not list(part.rglob("*.tmp"))


def test_resume_trims_rows_after_the_checkpoint_and_a_torn_last_line(tmp_path: Path) -> None:
    from fusion.loop_state import LoopState, truncate_metrics_log

    log = tmp_path / "metrics.jsonl"
    rows = [{"kind": "train", "step": 1, "epoch": 0}, {"kind": "train", "step": 2, "epoch": 0},
            {"kind": "val", "step": 2, "epoch": 0},      # epoch 0 validated ...
            {"kind": "train", "step": 3, "epoch": 1}, {"kind": "train", "step": 4, "epoch": 1},
            {"kind": "val", "step": 4, "epoch": 1}]      # ... epoch 1 validated, but killed before last.pt
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kind": "train", "st')
    truncate_metrics_log(log, LoopState(step=4, epoch=1))  # last.pt: step 4 written mid-epoch 1
    assert [json.loads(x) for x in log.read_text().splitlines()] == rows[:5]
    truncate_metrics_log(log, LoopState(step=2, epoch=1))
    assert [json.loads(x) for x in log.read_text().splitlines()] == rows[:3]
