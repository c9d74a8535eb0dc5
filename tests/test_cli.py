"""The commands as users type them: synth, check, extract all, cache ls, train --max-steps, eval."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from cli import main


def run_cli(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), buf.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli_demo")
    code, _ = run_cli("synth", "demo", "--out", str(root), "--subjects", "3", "--trials", "2", "--duration-s", "8")
    assert code == 0
    manifest = root / "data_manifest.yaml"
    code, out = run_cli("extract", "all", "--manifest", str(manifest), "--random-init", "--scheduler", "sync")
    assert code == 0, out
    return manifest


def test_help_lists_every_group(capsys) -> None:
    code, _ = run_cli("--help")
    text = capsys.readouterr().out + _
    assert code == 0
    for group in ("synth", "manifest", "extract", "cache", "train", "eval", "compare", "report"):
        assert group in text


def test_cache_ls_json_after_extract_all(demo: Path) -> None:
    code, out = run_cli("cache", "ls", "--manifest", str(demo), "--json")
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert code == 0
    assert {r["modality"] for r in rows} == {"eeg", "ecg", "audio", "video"}
    assert all(r["complete"] == r["expected"] == 6 for r in rows)
    video = next(r for r in rows if r["modality"] == "video")
    assert video["random_init"] is True and video["tokens"]["tokens_after"] == 17
    assert video["tokens"]["tokens_before"] > video["tokens"]["tokens_after"]


def test_extract_json_summary_and_noop_rerun(demo: Path) -> None:
    code, out = run_cli("extract", "ecg", "--manifest", str(demo), "--json", "--scheduler", "sync")
    summary = json.loads(out[out.index("{"):])
    assert code == 0 and (summary["done"], summary["skipped"], summary["failed"]) == (0, 6, 0)
    assert summary["seconds"] >= 0


def test_train_two_steps_then_eval(demo: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, out = run_cli("train", "fusion", "--manifest", str(demo), "--modalities", "eeg,video,audio,ecg",
                        "--split", "subject-kfold", "--folds", "3", "--max-folds", "1", "--max-steps", "2",
                        "--batch-size", "4", "--out", str(run))
    assert code == 0, out
    assert "test metrics" in out and "valence" in out
    assert (run / "config.yaml").exists() and (run / "fingerprints.json").exists()
    fold = run / "fold0"
    assert (fold / "metrics.jsonl").read_text().strip() and list(fold.glob("*.png")) and (fold / "best.pt").exists()
    code, out = run_cli("eval", str(run), "--json", "--permutations", "50")
    result = json.loads(out[out.index("{"):])
    assert code == 0 and "valence" in result["trial"] and "valence" in result["headline"]
    assert (fold / "predictions.csv").exists()
    code, out = run_cli("eval", str(fold / "best.pt"), "--json")
    assert code == 0 and "valence" in json.loads(out[out.index("{"):])["summary"]


def test_train_vram_budget_flag_probes_and_refuses(demo: Path, tmp_path: Path, capsys) -> None:
    common = ("train", "fusion", "--manifest", str(demo), "--modalities", "eeg,video,audio,ecg", "--split",
              "subject-kfold", "--folds", "3", "--max-folds", "1", "--max-steps", "1", "--batch-size", "8",
              "--ema-weight", "0.5", "--amp", "bf16")
    code, out = run_cli(*common, "--vram-budget", "8", "--out", str(tmp_path / "ok"))
    assert code == 0, out
    assert "first training steps (--vram-budget probe)" in out and "tensor_peak" in out
    capsys.readouterr()
    code, _ = run_cli(*common, "--vram-budget", "0.001", "--out", str(tmp_path / "over"))
    err = capsys.readouterr().err
    assert code != 0 and "over --vram-budget 0.001 GiB; nothing was trained" in " ".join(err.split())
    assert not list((tmp_path / "over").glob("fold*/*.pt"))


def test_train_refuses_missing_modality_cache_with_command(demo: Path, tmp_path: Path, capsys) -> None:
    code, _ = run_cli("train", "fusion", "--manifest", str(demo), "--cache", str(tmp_path / "empty.zarr"),
                      "--out", str(tmp_path / "r"), "--max-steps", "1")
    err = capsys.readouterr().err
    assert code == 2 and "cli extract eeg" in err
