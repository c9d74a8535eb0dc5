"""`cli eval --json`, `cli compare` and `cli report` as users type them, on small demo runs."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from cli import main
from fusion.report import SECTIONS
from tests.fusion.cli_runs import demo_manifest

COMMON = ("--split", "subject-kfold", "--folds", "3", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
          "--set", "d_model=16", "--set", "n_heads=2", "--set", "eeg_layers=1")


def run_cli(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``cli ...`` run in this process."""
    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), buf.getvalue(), err.getvalue()


def _json(text: str) -> dict:
    return json.loads(text[text.index("{"):])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """An EEG-only and a classic run on the same folds, and a classic run on other folds (loso)."""
    manifest = str(demo_manifest(tmp_path_factory.getbasetemp()))
    root = tmp_path_factory.mktemp("cli_eval_runs")
    out = {"eeg": root / "eeg-only", "classic": root / "classic", "loso": root / "classic-loso"}
    for name, extra in (("eeg", ("--fusion", "eeg-only", *COMMON)), ("classic", ("--fusion", "classic", *COMMON)),
                        ("loso", ("--fusion", "classic", "--split", "loso"))):
        code, text, err = run_cli("train", "fusion", "--manifest", manifest, "--modalities", "eeg",
                                  "--out", str(out[name]), *extra)
        assert code == 0, text + err
    return out


def test_training_prints_trial_level_first_and_a_bar_per_fold(tmp_path_factory, tmp_path: Path) -> None:
    manifest = str(demo_manifest(tmp_path_factory.getbasetemp()))
    code, text, err = run_cli("train", "fusion", "--manifest", manifest, "--modalities", "eeg", "--fusion", "eeg-only",
                              "--out", str(tmp_path / "r"), *COMMON, "--max-folds", "2")
    assert code == 0
    assert text.index("trial level") < text.index("window level")
    assert "fold 1/2" in err and "fold 2/2" in err and "val score" in err


def test_eval_json_leads_with_trial_level_statistics_and_baselines(runs: dict[str, Path]) -> None:
    code, text, _ = run_cli("eval", str(runs["eeg"]), "--json", "--permutations", "200")
    result = _json(text)
    assert code == 0 and not result["legacy"]
    head = result["headline"]["valence"]
    assert head["metric"] == "balanced_accuracy" and head["n_subjects"] == 3
    assert 0 <= head["p_value"] <= 1 and head["ci_low"] <= head["ci_high"]
    assert set(result["trial"]) == set(result["window"]) == {"valence", "arousal"}
    assert set(result["baselines"]["valence"]) == {"majority", "chance"}
    assert result["baselines"]["valence"]["chance"]["balanced_accuracy"] == 0.5
    code, text, _ = run_cli("eval", str(runs["eeg"]), "--permutations", "100")
    assert code == 0 and "trial-level balanced_accuracy" in text and "majority" in text


def test_compare_two_runs_on_the_same_folds(runs: dict[str, Path]) -> None:
    code, text, _ = run_cli("compare", str(runs["eeg"]), str(runs["classic"]), "--json")
    result = _json(text)
    assert code == 0
    c = result["labels"]["valence"]
    assert c["level"] == "trial" and c["n_subjects"] <= 3
    assert c["mean_difference"] == pytest.approx(c["mean_a"] - c["mean_b"]) or c["n_subjects"] == 0
    code, text, _ = run_cli("compare", str(runs["eeg"]), str(runs["classic"]))
    assert code == 0 and "Wilcoxon" in text


def test_compare_refuses_runs_on_different_folds(runs: dict[str, Path]) -> None:
    code, text, err = run_cli("compare", str(runs["eeg"]), str(runs["loso"]))
    assert code == 2
    assert "cannot compare" in err and "folds" in err and "--split" in err


def test_report_writes_one_self_contained_page(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, text, err = run_cli("report", str(runs["eeg"]), str(runs["classic"]), "-o", str(out), "--permutations", "100")
    assert code == 0, err
    page = out.read_text()
    for title in SECTIONS:
        assert f">{title}</h2>" in page
    assert "http://" not in page and "https://" not in page and "<img" in page


@pytest.mark.parametrize("split", ["stimulus", "subject-stimulus"])
def test_stimulus_splits_hold_clips_out(tmp_path_factory, tmp_path: Path, split: str) -> None:
    manifest = str(demo_manifest(tmp_path_factory.getbasetemp()))
    code, text, err = run_cli("train", "fusion", "--manifest", manifest, "--modalities", "eeg", "--fusion", "classic",
                              "--split", split, "--folds", "2", "--out", str(tmp_path / "r"), "--json")
    assert code == 0, err
    folds = json.loads((tmp_path / "r" / "folds.json").read_text())
    assert len(folds) == 2 and all(f["test"] for f in folds)
    tables = [pd.read_csv(tmp_path / "r" / f"fold{i}" / "predictions.csv") for i in range(2)]
    for fold, table in zip(folds, tables):
        train = pd.DataFrame({"recording": fold["train"] + fold["val"]})
        stim = train["recording"].str.extract(r"_t(\d+)$")[0].astype(int)      # demo: trial k shows clip k
        assert set(table["stimulus"].str[-2:].astype(int)).isdisjoint(set(stim))
        if split == "subject-stimulus":
            assert set(table["subject"]).isdisjoint(train["recording"].str.split("_").str[0])
