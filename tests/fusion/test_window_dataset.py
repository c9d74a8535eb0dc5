"""fusion.WindowDataset: the trainer's windows for a plain PyTorch model (the docs example runs here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fusion.train import train
from fusion.train_config import TrainConfig
from pipeline.errors import ConfigError
from tests.fusion import synthetic as syn


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return syn.write_dataset(tmp_path_factory.mktemp("wds"), subjects=3, trials=2, duration_s=6.0)


def test_docs_example_trains_a_plain_pytorch_model_on_cached_eeg(dataset: Path) -> None:
    # --- the example of docs/cache.md, verbatim apart from the manifest path ---
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from fusion import WindowDataset

    ds = WindowDataset(dataset, labels=("valence",), window_s=2, hop_s=1)
    loader = DataLoader(ds, batch_size=8, shuffle=True, collate_fn=ds.collate)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(1))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for epoch in range(2):
        for batch in loader:
            m = batch.label_mask[:, 0]
            loss = F.binary_cross_entropy_with_logits(net(batch.eeg)[m, 0], batch.labels[m, 0])
            opt.zero_grad(); loss.backward(); opt.step()  # noqa: E702
    # --- end of the example ---
    assert torch.isfinite(loss)
    item = ds[0]
    assert item["eeg"].shape == (syn.CHANNELS, 2 * syn.SFREQ) and item["labels"].shape == (1,)
    assert len(ds) == 6 * 5  # 6 recordings x five 2 s windows at 1 s hop over 6 s


def test_first_batch_equals_the_trainers_first_batch_for_the_same_seed(dataset: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    from torch.utils.data import DataLoader

    import fusion.train as train_mod
    from fusion import WindowDataset

    seen = []
    real = train_mod.training_batch
    monkeypatch.setattr(train_mod, "training_batch", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    cfg = TrainConfig.from_options(manifest=dataset, out=tmp_path / "run", modalities=("eeg", "video", "audio", "ecg"),
                                   labels=("valence", "arousal"), window_s=2.0, hop_s=1.0, batch_size=4,
                                   split="trial", folds=2, max_folds=1, max_steps=1, seed=7, device="cpu",
                                   d_model=16, n_heads=2, eeg_layers=1, fusion_layers=1, modality_dropout=0.0,
                                   aug_shift_s=0.0, aug_scale=0.0, aug_channel_drop=0.0, aug_noise=0.0)
    train(cfg)
    want = seen[0]                                                 # the trainer's first batch of fold 0
    fold = json.loads((tmp_path / "run" / "folds.json").read_text())[0]
    seed = cfg.runtime.seed * 1000 + fold["index"]                 # the trainer's per-fold seed

    ds = WindowDataset(dataset, modalities=("eeg", "video", "audio", "ecg"), labels=("valence", "arousal"),
                       window_s=2.0, hop_s=1.0, recordings=fold["train"])
    got = next(iter(DataLoader(ds, batch_sampler=list(ds.batch_sampler(4, seed)), collate_fn=ds.collate)))
    assert got.subjects == want.subjects
    torch.testing.assert_close(got.eeg, want.eeg, rtol=0, atol=0)
    torch.testing.assert_close(got.labels, want.labels, rtol=0, atol=0)
    assert torch.equal(got.label_mask, want.label_mask) and set(got.inputs) == set(want.inputs) == {"face", "voice", "ecg"}
    for name in want.inputs:
        assert torch.equal(got.masks[name], want.masks[name])
        for key in want.inputs[name]:
            torch.testing.assert_close(got.inputs[name][key], want.inputs[name][key], rtol=0, atol=0)
    torch.testing.assert_close(got.covariates, want.covariates, rtol=0, atol=0)


def test_a_cache_path_instead_of_the_manifest_says_what_to_pass(dataset: Path) -> None:
    from fusion import WindowDataset

    with pytest.raises(ConfigError, match="needs the manifest"):
        WindowDataset(dataset.parent / "cache.zarr")
    with pytest.raises(ConfigError, match="no recording with cached EEG matches"):
        WindowDataset(dataset, recordings=["nope"])


def test_items_are_the_collated_batch_rows(dataset: Path) -> None:
    from fusion import WindowDataset

    ds = WindowDataset(dataset, modalities=("eeg", "video"), labels=("arousal",), window_s=2, hop_s=1)
    batch = ds.collate([{"index": 3}, {"index": 11}])
    assert torch.equal(ds[11]["eeg"], batch.eeg[1]) and torch.equal(ds[3]["masks"]["face"], batch.masks["face"][0])
    assert np.array_equal(batch.window_index, [3, 11])
    with pytest.raises(IndexError):
        ds[len(ds)]
