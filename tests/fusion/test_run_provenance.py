"""Runs read the cache alone, record what they read, validate before writing and are safe to share."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
import torch

from cli import main as cli_main
from fusion.checkpoint import load_checkpoint, load_exported
from fusion.evaluate import evaluate
from fusion.train import train
from fusion.train_config import TrainConfig
from pipeline.cache import FeatureCache
from pipeline.current import mark_current
from pipeline.errors import CacheError, ConfigError
from pipeline.fingerprint import group_identity
from tests.fusion import synthetic as syn

MODALITIES = ("eeg", "video", "audio", "ecg")


def config(manifest: Path, out: Path, **kw) -> TrainConfig:
    base = dict(manifest=manifest, out=out, modalities=MODALITIES, window_s=2.0, hop_s=1.0, batch_size=8,
                epochs=1, max_steps=2, max_folds=1, d_model=16, n_heads=2, eeg_layers=1, fusion_layers=1,
                device="cpu")
    return TrainConfig.from_options(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("prov")
    manifest = syn.write_dataset(root / "data", subjects=3, trials=2, duration_s=6.0)
    summary = train(config(manifest, root / "run"))
    return manifest, root / "run", summary


def test_run_records_group_fingerprint_and_extractor_per_input(trained) -> None:
    manifest, run, summary = trained
    recorded = json.loads((run / "fingerprints.json").read_text())
    cache = FeatureCache(manifest.parent / "cache.zarr")
    assert set(recorded) == {"eeg", "face", "voice", "ecg"}
    for info in recorded.values():
        g = cache.group(info["group"])
        assert (info["fingerprint"], info["extractor"], info["modality"]) == (g.fingerprint, g.extractor, g.modality)
    assert summary["inputs_checked"] == {"checked": 24, "unreachable": 0}


def test_eval_reads_the_recorded_groups_not_whatever_is_current_now(trained) -> None:
    manifest, run, summary = trained
    cache = FeatureCache(manifest.parent / "cache.zarr")
    cls = syn.EXTRACTORS["eeg"]
    newer = cache.create_group(cls.modality, cls.name, group_identity(cls.name, cls.version, cls.config_type(),
                                                                      {"retrained": 1}, cls.libraries), {})
    mark_current(cache, newer)            # a later extraction (still empty) is now current
    try:
        ev = evaluate(run)
    finally:
        cache.remove_group(newer.path)
        mark_current(cache, cache.group(json.loads((run / "fingerprints.json").read_text())["eeg"]["group"]))
    assert json.dumps(ev["folds"][0]["test"]) == json.dumps(summary["folds"][0]["test"])


def test_each_fold_exports_safetensors_and_a_json_config(trained) -> None:
    _, run, _ = trained
    model, meta = load_exported(run / "fold0")
    ck = load_checkpoint(run / "fold0" / "best.pt")
    assert meta["labels"] == ["valence", "arousal"] and meta["fingerprints"] == ck["fingerprints"]
    for k, v in ck["model"].items():
        assert torch.equal(model.state_dict()[k], v), k


def test_a_checkpoint_that_would_run_code_is_refused_and_the_payload_never_runs(trained, tmp_path: Path) -> None:
    _, run, _ = trained
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad_run = tmp_path / "received"
    shutil.copytree(run, bad_run)
    torch.save({"model": Payload(), "config": {}}, bad_run / "fold0" / "best.pt")
    with pytest.raises(ConfigError, match=r"refused to load: the checkpoint names objects outside"):
        load_checkpoint(bad_run / "fold0" / "best.pt")
    with pytest.raises(ConfigError, match="refused to load"):
        evaluate(bad_run)
    assert not marker.exists()


def test_run_and_cache_copied_elsewhere_evaluate_to_the_same_numbers(tmp_path: Path) -> None:
    manifest = syn.write_dataset(tmp_path / "data", subjects=3, trials=2, duration_s=6.0, seed=4)
    summary = train(config(manifest, tmp_path / "run"))
    shutil.move(tmp_path / "data", tmp_path / "elsewhere" / "data")       # the dataset and its cache moved
    shutil.move(tmp_path / "run", tmp_path / "elsewhere" / "run")
    moved = tmp_path / "elsewhere"
    with pytest.raises(ConfigError, match="the run's manifest is not here.*--manifest"):
        evaluate(moved / "run")
    ev = evaluate(moved / "run", manifest=moved / "data" / "data_manifest.yaml")
    assert json.dumps(ev["folds"][0]["test"]) == json.dumps(summary["folds"][0]["test"])
    with pytest.raises(SystemExit) as exc:   # the same through the command line
        cli_main(["eval", str(moved / "run"), "--manifest", str(moved / "data" / "data_manifest.yaml"), "--device", "cpu"])
    assert exc.value.code in (0, None)


def test_a_label_without_a_scale_stops_before_the_run_folder_exists(trained, tmp_path: Path) -> None:
    manifest, _, _ = trained
    with pytest.raises(ConfigError, match=r"labels \['dominance'\] have no label scale"):
        train(config(manifest, tmp_path / "run", labels=("dominance",)))
    assert not (tmp_path / "run").exists()


def test_cache_copied_without_raw_data_trains_and_says_once_inputs_were_not_checked(
        trained, tmp_path: Path, caplog) -> None:
    manifest, _, _ = trained
    laptop = tmp_path / "laptop"
    shutil.copytree(manifest.parent / "cache.zarr", laptop / "cache.zarr")       # the cache, not the recordings
    shutil.copy(manifest, laptop / "data_manifest.yaml")
    with caplog.at_level(logging.WARNING):
        summary = train(config(laptop / "data_manifest.yaml", tmp_path / "run"))
    notes = [r.getMessage() for r in caplog.records if "not reachable" in r.getMessage()]
    assert len(notes) == 1 and "24 of 24" in notes[0] and "not checked" in notes[0]
    assert summary["inputs_checked"] == {"checked": 0, "unreachable": 24}


def test_a_changed_raw_eeg_file_stops_training_with_the_rebuild_command(tmp_path: Path) -> None:
    manifest = syn.write_dataset(tmp_path / "data", subjects=3, trials=2, duration_s=6.0)
    (tmp_path / "data" / "s1_t0.edf").write_bytes(b"edited after extraction")
    with pytest.raises(CacheError, match=r"1 recording\(s\) changed since extraction \(s1_t0/eeg\)\. "
                                         r"Rebuild them with `cli extract eeg`"):
        train(config(manifest, tmp_path / "run"))
    assert not (tmp_path / "run").exists()
