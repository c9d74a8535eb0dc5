"""The low/high rule of label scales written by `cli manifest from` (issue 14.7, DREAMER's rating 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.adapters import build_manifest
from pipeline.errors import ConfigError
from pipeline.manifest import load_manifest
from tests.adapters import fixtures as F
from tests.adapters.cli_helpers import from_dataset


def _scales(manifest: Path) -> dict:
    return yaml.safe_load(manifest.read_text())["label_scales"]


def test_dreamer_manifest_states_the_rule_and_3_is_low_by_default(tmp_path: Path, capsys) -> None:
    F.write_dreamer(tmp_path / "dreamer", subjects=1, films=1)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("dreamer", tmp_path / "dreamer", out, capsys)
    assert code == 0 and "binary labels: high = rating > 3.0" in text
    assert _scales(out)["valence"] == {"min": 1.0, "max": 5.0, "threshold": 3.0, "threshold_inclusive": False}
    scale = load_manifest(out).label_scales["valence"]
    assert (scale.binarize(3.0), scale.binarize(4.0)) == (0.0, 1.0)


def test_threshold_options_choose_the_rule(tmp_path: Path, capsys) -> None:
    F.write_dreamer(tmp_path / "dreamer", subjects=1, films=1)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("dreamer", tmp_path / "dreamer", out, capsys, "--threshold-inclusive")
    assert code == 0 and "high = rating >= 3.0" in text
    assert _scales(out)["arousal"]["threshold_inclusive"] is True
    assert load_manifest(out).label_scales["arousal"].binarize(3.0) == 1.0
    assert from_dataset("dreamer", tmp_path / "dreamer", out, capsys, "--threshold", "4")[0] == 0
    scale = load_manifest(out).label_scales["dominance"]
    assert (scale.threshold, scale.threshold_inclusive, scale.binarize(4.0), scale.binarize(4.5)) == (4.0, False, 0.0, 1.0)


def test_threshold_outside_a_scale_is_refused_before_the_walk(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--threshold 7.0 is outside the label scale\(s\) valence \[1.0, 5.0\]"):
        build_manifest("dreamer", tmp_path, tmp_path / "m.yaml", threshold=7.0)


def test_every_adapter_writes_the_rule(tmp_path: Path) -> None:
    F.write_deap_preprocessed(tmp_path / "deap", subjects=(1,), trials=2)
    build_manifest("deap", tmp_path / "deap", tmp_path / "m.yaml")
    assert {s["threshold_inclusive"] for s in _scales(tmp_path / "m.yaml").values()} == {False}
