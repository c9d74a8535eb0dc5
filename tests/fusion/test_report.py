"""The HTML report: self-contained, every section present, and rendered by a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusion.predictions import COLUMNS, write_table
from fusion.report import SECTIONS, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _fake_run(path: Path, skill: float, seed: int, fusion: str = "eeg-only") -> Path:
    """A run folder as `cli train fusion` writes it: 2 folds x 3 subjects x 4 trials x 3 windows,
    metrics.jsonl with gates, predictions.csv whose scores carry ``skill`` of the true class."""
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(0)  # the same labels in every run, as with one manifest
    (path).mkdir(parents=True)
    folds = []
    for f in range(2):
        rows, ids = [], []
        for s in range(3):
            subj = f"S{f * 3 + s}"
            for t in range(4):
                rid, y = f"{subj}_t{t}", int(truth.integers(0, 2))
                ids.append(rid)
                for w in range(3):
                    rows.append({"recording": rid, "subject": subj, "session": None, "trial": f"t{t}",
                                 "stimulus": f"clip{t}", "start_s": 2.0 * w, "end_s": 2.0 * w + 4, "label": "valence",
                                 "target": 7.0 if y else 3.0, "target_binary": y,
                                 "score": float(np.clip(skill * y + (1 - skill) * rng.random(), 0, 1)), "fold": f,
                                 "split": "test"})
        folds.append({"index": f, "train": [], "val": [], "test": ids})
        fold_dir = path / f"fold{f}"
        write_table(pd.DataFrame(rows, columns=list(COLUMNS)), fold_dir)
        log = [{"kind": "train", "step": e + 1, "epoch": e, "lr": 1e-3, "task": 0.7 - 0.05 * e, "total": 0.8 - 0.05 * e}
               for e in range(4)]
        log += [{"kind": "val", "step": e + 1, "epoch": e, "val_loss": 0.7 - 0.02 * e, "val_score": 0.5 + 0.05 * e,
                 "gate/layer0/video/attn": 0.02 * e} for e in range(4)]
        (fold_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (path / "config.json").write_text(json.dumps({"fusion": fusion, "modalities": ["eeg"], "split": "subject-kfold",
                                                  "folds": 2, "seed": 0, "labels": ["valence"], "task": "binary",
                                                  "window_s": 4.0, "hop_s": 2.0, "epochs": 4}))
    (path / "folds.json").write_text(json.dumps(folds))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    runs = [_fake_run(root / "eeg-only", 0.2, 1), _fake_run(root / "classic", 0.1, 2, fusion="classic"),
            _fake_run(root / "gated", 0.7, 3, fusion="gated-xattn")]
    return write_report(runs, root / "out" / "report.html", n_permutations=200)


def test_report_is_self_contained_with_every_section(report: Path) -> None:
    page = report.read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == list(SECTIONS)
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)  # nothing fetched from a network
    assert page.count("data:image/png;base64,") == 2 * 3 + 3        # curves per fold per run + confusion per run
    assert "gated − eeg-only" in page and "classic − eeg-only" in page
    assert "majority class" in page and "chance (fair coin)" in page


def test_report_refuses_to_pair_runs_on_different_folds(tmp_path: Path) -> None:
    a = _fake_run(tmp_path / "a", 0.5, 1)
    b = _fake_run(tmp_path / "b", 0.5, 2)
    (b / "folds.json").write_text(json.dumps([{"index": 0, "train": [], "val": [], "test": ["x"]}]))
    page = write_report([a, b], tmp_path / "r.html", n_permutations=50).read_text()
    assert "not comparable" in page and "folds.json" in page


def _chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--no-first-run",
                               f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium; .ci/run does it)")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    dom = _chromium("--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.findall(r"<h2>(.*?)</h2>", dom.stdout) == list(SECTIONS)
    shot = tmp_path / "report.png"
    proc = _chromium(f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01  # text, tables and figures, not a blank page


def test_evaluate_run_and_compare_run_folders_as_the_cli_prints_them(tmp_path: Path) -> None:
    from fusion.results import compare_run_folders, evaluate_run

    good, weak = _fake_run(tmp_path / "good", 0.9, 1), _fake_run(tmp_path / "weak", 0.0, 2)
    res = evaluate_run(good, n_permutations=100)
    json.dumps(res)  # --json must be able to print it
    assert res["trial"]["valence"]["accuracy"] == 1.0 and res["window"]["valence"]["accuracy"] > 0.9
    assert res["headline"]["valence"]["n_subjects"] == 6 and res["headline"]["valence"]["p_value"] < 0.05
    assert res["baselines"]["valence"]["majority"]["auroc"] == 0.5
    assert res["baselines"]["valence"]["chance"]["accuracy"] == 0.5
    cmp = compare_run_folders(good, weak)["labels"]["valence"]
    assert cmp["mean_difference"] > 0 and cmp["metric"] == "balanced_accuracy"
