"""The nested TrainConfig: one mapping from flat options, dotted keys and nested YAML onto its
groups; the saved run config is nested and `cli eval` reads it back; the per-kind table."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from fusion.model import ENCODERS, FusionConfig
from fusion.train_config import TrainConfig
from pipeline.config_layers import layer_config
from pipeline.errors import CacheError, ConfigError
from tests.fusion import synthetic as syn

REQUIRED = {"manifest": "m.yaml", "out": "runs/x"}


@dataclass(frozen=True)
class A:
    width: int = 1


@dataclass(frozen=True)
class B:
    width: int = 2


@dataclass(frozen=True)
class Both:
    a: A = field(default_factory=A)
    b: B = field(default_factory=B)


@dataclass(frozen=True)
class C:
    thresholds: tuple[tuple[str, float], ...] = ()


def test_leaf_names_dotted_keys_and_nested_mappings_set_the_same_field() -> None:
    by_leaf = TrainConfig.from_options(**REQUIRED, d_model=32, lr=0.01, seed=7)
    by_path = TrainConfig.from_options(REQUIRED, {"model.d_model": "32", "optimisation.lr": "0.01", "runtime.seed": 7})
    nested = TrainConfig.from_options({"data": {"manifest": "m.yaml"}, "runtime": {"out": "runs/x", "seed": 7},
                                       "model": {"d_model": 32}, "optimisation": {"lr": 0.01}})
    assert by_leaf == by_path == nested
    assert isinstance(by_leaf.model, FusionConfig) and by_leaf.model.d_model == 32  # the model part itself
    assert by_leaf.runtime.out == Path("runs/x") and by_leaf.data.manifest == Path("m.yaml")
    assert by_leaf.override(**{"model.n_heads": 8}).model.n_heads == 8
    assert by_leaf.override(seed=3).runtime.seed == 3 and by_leaf.runtime.seed == 7


def test_to_dict_is_nested_and_round_trips_every_group() -> None:
    cfg = TrainConfig.from_options(**REQUIRED, modalities="eeg,video", thresholds=[["valence", 5]], teacher="video:vivit",
                                   max_steps=3, vram_budget_gb=2.0, eeg_tokenizer="patch", aug_noise=0.2)
    d = cfg.to_dict()
    assert set(d) == {"data", "model", "optimisation", "augment", "losses", "runtime"}
    assert d["model"]["eeg_tokenizer"] == "patch" and d["losses"]["teacher"] == "video:vivit"
    assert d["data"]["thresholds"] == [["valence", 5.0]]
    back = TrainConfig.from_dict(json.loads(json.dumps(d)))
    assert back == cfg and back.data.thresholds == (("valence", 5.0),)


def test_unknown_and_ambiguous_keys_name_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'd_modle' for TrainConfig\. Known keys: .*model\.d_model"):
        TrainConfig.from_options(**REQUIRED, d_modle=3)
    with pytest.raises(ConfigError, match="'width' for Both is ambiguous: use one of a.width, b.width"):
        layer_config(Both, {"width": 3})
    assert layer_config(Both, {"b.width": 3}) == Both(b=B(3))


def test_fixed_length_tuples_keep_each_positions_type() -> None:
    """Regression: YAML ``thresholds: [[valence, 5]]`` became ("valence", "5") strings, and labels
    were then compared with a string threshold."""
    assert layer_config(C, {"thresholds": [["valence", 5]]}).thresholds == (("valence", 5.0),)
    with pytest.raises(ConfigError, match="'thresholds': expected 2 values"):
        layer_config(C, {"thresholds": [["valence", 5, 6]]})


def test_every_groups_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_options(**REQUIRED, d_model=30, n_heads=4, window_s=0, amp="fp8", teacher="vivit")
    msg = str(e.value)
    for part in ("model.d_model (30) must be divisible by model.n_heads (4)", "data.window_s", "optimisation.amp='fp8'",
                 "losses.teacher='vivit'"):
        assert part in msg
    with pytest.raises(ConfigError, match="data: .*manifest"):
        TrainConfig.from_options(out="x")


def test_stream_kind_table_covers_every_model_encoder_and_refuses_unknown_kinds() -> None:
    from fusion.data import KINDS
    from fusion.stream_kinds import STREAM_KINDS, stream_kind

    assert set(STREAM_KINDS) == set(ENCODERS) and KINDS == ("eeg", *STREAM_KINDS)
    with pytest.raises(CacheError, match="stream 'thermal': modality kind 'infrared' has no fusion input adapter"):
        stream_kind("infrared", "thermal")


def test_cli_layers_yaml_and_set_onto_the_nested_config_and_eval_reads_it(tmp_path: Path) -> None:
    from cli import main

    dataset = syn.write_dataset(tmp_path / "syn", subjects=3, trials=2, duration_s=6.0)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"train": {"model": {"eeg_layers": 1}, "fusion_layers": 1,
                                                              "optimisation": {"lr": 0.002}}}))
    run = tmp_path / "run"
    args = ["train", "fusion", "--manifest", str(dataset), "--out", str(run), "--modalities", "eeg,video",
            "--split", "trial", "--folds", "2", "--max-folds", "1", "--max-steps", "1", "--batch-size", "8",
            "--window-s", "2", "--hop-s", "1", "--device", "cpu", "--eeg-tokenizer", "patch",
            "--config", str(tmp_path / "c.yaml"), "--set", "model.d_model=16", "--set", "n_heads=2", "--set", "lr=0.003"]
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code in (0, None)
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"] == {**saved["model"], "d_model": 16, "n_heads": 2, "eeg_layers": 1, "fusion_layers": 1,
                              "eeg_tokenizer": "patch"}
    assert saved["optimisation"]["lr"] == 0.003 and saved["optimisation"]["max_steps"] == 1  # flags over YAML
    assert yaml.safe_load((run / "config.yaml").read_text()) == saved
    for target, key in ((run, "trial"), (run / "fold0" / "best.pt", "summary")):  # tables; checkpoint re-run
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
            main(["eval", str(target), "--json", "--permutations", "50"])
        assert exc.value.code in (0, None)
        out = buf.getvalue()
        assert "valence" in json.loads(out[out.index("{"):])[key]


def test_eval_reads_a_checkpoint_written_before_the_nested_config(tmp_path: Path) -> None:
    """Runs trained before the split kept a flat config and one flat ``fusion_config`` object."""
    import torch

    from fusion.checkpoint import load_checkpoint

    from fusion.evaluate import evaluate
    from fusion.train import train

    dataset = syn.write_dataset(tmp_path / "syn", subjects=3, trials=2, duration_s=6.0, video=False, audio=False)
    cfg = TrainConfig.from_options(manifest=dataset, out=tmp_path / "run", modalities=("eeg", "ecg"),
                                   split="trial", folds=2, max_folds=1, max_steps=1, batch_size=8, window_s=2.0,
                                   hop_s=1.0, d_model=16, n_heads=2, eeg_layers=1, fusion_layers=1, device="cpu")
    out = train(cfg)
    path = tmp_path / "run" / "fold0" / "best.pt"
    ck = load_checkpoint(path)
    flat = {k: v for group in ck["config"].values() for k, v in group.items()}
    # the old flat FusionConfig: the same class, holding the model inputs' fields too (it pickles by name,
    # so it loads under weights_only through the checkpoint allow-list)
    old = object.__new__(FusionConfig)
    old.__dict__.update(**vars(ck.pop("model_inputs")), **{**vars(cfg.model), "tokenizer": "conv"})
    torch.save({**ck, "config": flat, "fusion_config": old}, path)
    ev = evaluate(path)
    assert json.dumps(ev["folds"][0]["test"]) == json.dumps(out["folds"][0]["test"])
