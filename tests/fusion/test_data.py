"""Windows pull the right items by time; splits never share subjects/trials; missing caches say how to build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusion.batches import encode_labels, make_batch
from fusion.data import prepare_data
from fusion.normalise import fit_normaliser
from fusion.splits import make_folds
from pipeline.cache import FeatureCache
from pipeline.errors import CacheError
from pipeline.manifest import Recording, load_manifest
from tests.fusion import synthetic as syn


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return syn.write_dataset(tmp_path_factory.mktemp("syn"), subjects=2, trials=2, duration_s=8.0,
                             teacher=True, missing_video=("s1_t1",))


def prepared(manifest_path: Path, window_s: float = 2.0, hop_s: float = 1.0, **kw):
    m = load_manifest(manifest_path)
    return prepare_data(m, FeatureCache(m.cache), kw.get("modalities", ("eeg", "video", "audio", "ecg")),
                        {}, kw.get("teacher"), window_s, hop_s)


def test_windows_pull_items_by_time(dataset: Path) -> None:
    p = prepared(dataset, teacher="face:fusiontest_teacher")
    ws = p.windows
    assert [s.name for s in p.inputs] == ["eeg", "face", "voice", "ecg"]
    assert len(ws) == 4 * 7                              # 8 s, 2 s windows, 1 s hop
    norm = fit_normaliser(ws.features, p.inputs, p.cov_names)
    y, ym = encode_labels(ws, ("valence",), "binary", p.manifest.label_scales, {})
    idx = np.arange(len(ws))
    b = make_batch(ws, idx, norm, y, ym)
    assert b.eeg.shape == (len(ws), syn.CHANNELS, int(2.0 * syn.SFREQ))
    for w in idx:
        start = ws.starts[w]
        rf = ws.features[ws.rec_idx[w]]
        # video: segments [k, k+1) overlapping [start, start+2) -> starts start and start+1
        mu, sd = norm.feats["face"]["tokens"]            # tokens are z-scored per position and dim
        seg = b.inputs["face"]["tokens"][w, :, 1, 1][b.masks["face"][w]].numpy() * sd[1, 1] + mu[1, 1]
        if "face" in rf.streams:
            np.testing.assert_allclose(seg, [start, start + 1], atol=0.02)
        else:
            assert seg.size == 0
        # audio: frame centres in [start, start+2); column 0 held the time before normalisation
        fr = b.masks["voice"][w].numpy()
        want = np.arange(syn.AUDIO_HOP / 2, 8.0, syn.AUDIO_HOP)
        want = want[(want >= start) & (want < start + 2)]
        mu, sd = norm.feats["voice"]["frames"]
        got = b.inputs["voice"]["frames"][w, fr, 0].numpy() * sd[0] + mu[0]
        np.testing.assert_allclose(got, want, atol=1e-4)
        # ecg: R times in [start, start+2)
        rt = rf.streams["ecg"].begin
        want = rt[(rt >= start) & (rt < start + 2)]
        mu, sd = norm.feats["ecg"]["beats"]
        got = b.inputs["ecg"]["beats"][w, b.masks["ecg"][w], 0].numpy() * sd + mu
        np.testing.assert_allclose(got, want, atol=1e-4)
        # teacher: mean CLS of the overlapping segments; absent where the recording has no video
        assert bool(b.teacher_mask[w]) == ("face" in rf.streams)
        # eeg: the slice starts at the window start
        mean, std = norm.eeg_stats(rf.rec.subject)
        i0 = int(round(start * syn.SFREQ))
        np.testing.assert_allclose(b.eeg[w, :, 0].numpy() * std + mean, rf.eeg[:, i0], rtol=1e-5, atol=1e-4)
    assert ws.pad_sizes["face"] == 2 and ws.pad_sizes["voice"] == 8


def test_teacher_by_kind_names_the_stream(dataset: Path) -> None:
    p = prepared(dataset, modalities=("eeg",), teacher="video:fusiontest_teacher")
    assert p.teacher is not None and p.teacher.name == "face" and p.teacher.group.extractor == "fusiontest_teacher"
    assert sum(rf.teacher is not None for rf in p.windows.features) == 3  # s1_t1 has no video


def test_eeg_shift_moves_only_eeg(dataset: Path) -> None:
    p = prepared(dataset)
    ws = p.windows
    norm = fit_normaliser(ws.features, p.inputs, p.cov_names)
    y, ym = encode_labels(ws, ("valence",), "binary", p.manifest.label_scales, {})
    idx = np.array([3])
    a = make_batch(ws, idx, norm, y, ym)
    b = make_batch(ws, idx, norm, y, ym, shift_samples=np.array([4]))
    assert np.allclose(a.eeg[0, :, 4:].numpy(), b.eeg[0, :, :-4].numpy())
    assert all(np.array_equal(a.inputs[k][kk], b.inputs[k][kk]) for k in a.inputs for kk in a.inputs[k])


def test_missing_cache_gives_build_command(tmp_path: Path) -> None:
    path = syn.write_dataset(tmp_path / "d", subjects=2, trials=1, duration_s=4.0)
    m = load_manifest(path)
    with pytest.raises(CacheError, match=r"cli extract video --encoder vivit"):
        prepare_data(m, FeatureCache(m.cache), ("eeg", "video"), {"video": "vivit"}, None, 2.0, 1.0)
    with pytest.raises(CacheError, match=r"`cli extract eeg`"):
        prepare_data(m, FeatureCache(tmp_path / "empty.zarr"), ("eeg",), {}, None, 2.0, 1.0)


def _recs(n_subj: int, n_trial: int) -> list[Recording]:
    return [Recording(id=f"s{s}t{t}", dataset="d", subject=f"S{s}", trial=f"T{t}", streams={})
            for s in range(n_subj) for t in range(n_trial)]


@pytest.mark.parametrize("split,k", [("loso", 0), ("subject-kfold", 3)])
def test_subject_splits_never_share_subjects(split: str, k: int) -> None:
    recs = _recs(7, 3)
    subj = {r.id: r.subject for r in recs}
    folds = make_folds(recs, split, max(k, 2), seed=1, val_subjects=1)
    tested = set()
    for f in folds:
        sides = [{subj[i] for i in side} for side in (f.train, f.val, f.test)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert len(f.train) + len(f.val) + len(f.test) == len(recs)
        tested |= sides[2]
    assert tested == set(subj.values())
    assert len(folds) == (7 if split == "loso" else 3)


def test_trial_split_never_shares_trials() -> None:
    recs = _recs(3, 5)
    key = {r.id: (r.subject, r.trial) for r in recs}
    folds = make_folds(recs, "trial", 5, seed=0)
    for f in folds:
        sides = [{key[i] for i in side} for side in (f.train, f.val, f.test)]
        assert not (sides[0] & sides[2]) and not (sides[1] & sides[2]) and not (sides[0] & sides[1])
        assert {s for s, _ in sides[2]} == {"S0", "S1", "S2"}  # every subject is tested on some trial
    assert sorted(i for f in folds for i in f.test) == sorted(r.id for r in recs)
