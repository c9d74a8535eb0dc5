"""Stage two with the VATE teacher: ``--teacher vate:video`` trains and its distillation loss falls;
``vate:audio`` is masked where HuBERT was not cached; a teacher derived from a replaced upstream
group stops training with the command that rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusion.data import prepare_data
from fusion.train import train
from fusion.train_config import TrainConfig
from pipeline.cache import FeatureCache
from pipeline.errors import CacheError
from pipeline.manifest import load_manifest
from tests.pipeline import vate_cache


@pytest.fixture(scope="module")
def demo(tmp_path_factory, real_data: Path) -> Path:
    ckpt = vate_cache.checkpoint(real_data)
    if not ckpt.is_file():
        pytest.skip(f"{ckpt} absent: the VATE checkpoint is not in EEGAVI_DATA")
    return vate_cache.demo_cache(tmp_path_factory.mktemp("vate_fusion"), ckpt, subjects=2, trials=2, duration_s=8.0)


def _prepare(manifest: Path, teacher: str):
    m = load_manifest(manifest)
    return prepare_data(m, FeatureCache(m.cache), ("eeg",), {}, teacher, window_s=2.0, hop_s=1.0)


def test_vate_video_teacher_trains_and_distillation_falls(demo: Path, tmp_path: Path) -> None:
    cfg = TrainConfig.from_options(manifest=demo, out=tmp_path / "run", modalities=("eeg",), fusion="eeg-only",
                                   teacher="vate:video", split="trial", folds=2, max_folds=1, window_s=2.0,
                                   hop_s=1.0, batch_size=4, epochs=6, d_model=16, n_heads=2, eeg_layers=1,
                                   device="cpu", siglip_weight=0.0, distill_weight=1.0, dropout=0.0)
    train(cfg)
    rows = [json.loads(x) for x in (tmp_path / "run" / "fold0" / "metrics.jsonl").read_text().splitlines()]
    distill = [r["distill"] for r in rows if r["kind"] == "train"]
    assert len(distill) >= 10
    k = len(distill) // 4
    assert np.mean(distill[-k:]) < 0.8 * np.mean(distill[:k]), distill
    fps = json.loads((tmp_path / "run" / "fingerprints.json").read_text())
    assert any(v["group"].startswith("teacher/vate-") for v in fps.values())   # the run records the teacher group


def test_vate_targets_are_the_cached_embeddings_and_audio_is_masked_without_hubert(demo: Path) -> None:
    from fusion.batches import _teacher

    video = _prepare(demo, "vate:video")
    assert video.teacher.group.path.startswith("teacher/vate-") and video.teacher.array == "vate_video"
    idx = np.arange(len(video.windows))
    target, mask = _teacher(video.windows, idx)
    assert target.shape == (len(idx), 100) and bool(mask.all())
    # window 0 of recording 0 is [0, 2): exactly the first 2 s video segment, so its target is that row
    rf = video.windows.features[0]
    np.testing.assert_allclose(target[0].numpy(), rf.teacher.arrays["target"][0], atol=1e-6)
    audio = _prepare(demo, "vate:audio")
    _, amask = _teacher(audio.windows, idx)
    assert not bool(amask.any())            # no HuBERT group was cached: every audio target is masked


def test_unknown_part_and_replaced_upstream_are_clear_errors(demo: Path, real_data: Path, tmp_path: Path) -> None:
    with pytest.raises(CacheError, match=r"--teacher vate:face: teacher 'vate' has parts video, audio"):
        _prepare(demo, "vate:face")
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo.parent, copy)
    manifest = copy / demo.name
    vate_cache.vivit_logits(manifest, seed=5)     # the upstream changes, the teacher is not re-derived
    with pytest.raises(CacheError, match=r"was derived from video/vivit_logits-\w+, but the current vivit_logits "
                                         r"group is now video/vivit_logits-\w+\. Rebuild it with `cli extract vate`"):
        _prepare(manifest, "vate:video")


def test_an_incomplete_teacher_group_stops_training_with_its_command(demo: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo.parent, copy)
    manifest = copy / demo.name
    m = load_manifest(manifest)
    cache = FeatureCache(m.cache)
    group = _prepare(manifest, "vate:video").teacher.group.path
    rec = m.recordings[0]
    cache.remove_group(f"{group}/{rec.id}")      # as if that recording's derivation had failed
    with pytest.raises(CacheError, match=rf"{group} is incomplete: 1 of 4 video streams missing "
                                         rf"\(e\.g\. {rec.id}/video\)\. Finish it with `cli extract vate`"):
        _prepare(manifest, "vate:video")
