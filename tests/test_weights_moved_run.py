"""Issue 13, end to end through the CLI: extract video with a local weights folder, rename the
folder, then train and evaluate (both succeed and record the fingerprints), while `cli cache ls`
says the video group would be rebuilt and why."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from cli import main
from tests.pipeline.video_helpers import save_tiny_vivit


def run_cli(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), buf.getvalue()


def test_weights_folder_renamed_trains_evaluates_and_ls_explains(tmp_path: Path, monkeypatch) -> None:
    from pipeline.synth.demo import generate_demo

    manifest = str(generate_demo(tmp_path / "data", subjects=3, trials=2, duration_s=6.0, seed=5))
    save_tiny_vivit(tmp_path / "myvivit")
    monkeypatch.chdir(tmp_path)
    for args in (("extract", "eeg"), ("extract", "video", "--encoder", "vivit", "--weights", "./myvivit",
                                      "--device", "cpu", "--batch-size", "2")):
        code, out = run_cli(*args, "--manifest", manifest, "--scheduler", "sync", "--json")
        assert code == 0, out
    video_group = json.loads(out)["group"]
    (tmp_path / "myvivit").rename(tmp_path / "moved")       # the weights are gone (another machine)

    code, out = run_cli("train", "fusion", "--manifest", manifest, "--out", "run", "--modalities", "eeg,video",
                        "--split", "trial", "--folds", "2", "--max-folds", "1", "--max-steps", "2",
                        "--window-s", "2", "--hop-s", "1", "--device", "cpu", "--set", "d_model=16",
                        "--set", "n_heads=2", "--set", "eeg_layers=1", "--set", "fusion_layers=1", "--json")
    assert code == 0, out
    recorded = json.loads((tmp_path / "run" / "fingerprints.json").read_text())
    assert recorded["video"]["group"] == video_group and recorded["video"]["extractor"] == "vivit"
    assert recorded["video"]["fingerprint"] == video_group.rsplit("-", 1)[1]
    code, out = run_cli("eval", "run", "--device", "cpu")
    assert code == 0, out

    code, out = run_cli("cache", "ls", "--manifest", manifest, "--json")
    rows = {r["group"]: r for r in map(json.loads, out.splitlines())}
    assert code == 0 and rows[recorded["eeg"]["group"]]["rebuild"] == []
    assert rows[video_group]["rebuild"] == [f"weights ./myvivit not found (looked in {tmp_path.resolve() / 'myvivit'})"]
