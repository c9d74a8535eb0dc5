"""The VATE teacher: its real checkpoint, its heads against a direct computation, derived groups
(fingerprint lineage, per-entry re-derivation, audio masking) and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.cache import FeatureCache
from pipeline.cache_inventory import list_groups
from pipeline.current import current_groups, mark_current
from pipeline.errors import CacheError, ConfigError, WeightsError
from pipeline.features import FeatureArrays
from pipeline.manifest import load_manifest
from tests.pipeline import vate_cache


def _numpy_head(state: dict, prefix: str, x: np.ndarray) -> np.ndarray:
    """VATE's MLP written out with the state dict's arrays: Linear-ReLU-Linear-ReLU-Linear, L2 norm."""
    w = {k: v.numpy().astype(np.float64) for k, v in state.items()}
    h = np.maximum(x @ w[f"{prefix}.0.weight"].T + w[f"{prefix}.0.bias"], 0)
    h = np.maximum(h @ w[f"{prefix}.2.weight"].T + w[f"{prefix}.2.bias"], 0)
    y = h @ w[f"{prefix}.4.weight"].T + w[f"{prefix}.4.bias"]
    return y / np.linalg.norm(y, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def ckpt(real_data: Path) -> Path:
    path = vate_cache.checkpoint(real_data)
    if not path.is_file():
        pytest.skip(f"{path} absent: the VATE checkpoint is not in EEGAVI_DATA")
    return path


def test_real_checkpoint_loads_weights_only_and_heads_are_unit_norm(ckpt: Path) -> None:
    import torch

    from pipeline.teachers.vate import embed, load_heads

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["embedding_video.0.weight"].shape == (200, 400)
    assert state["embedding_audio.4.weight"].shape == (100, 200)
    heads = load_heads(ckpt)
    rng = np.random.default_rng(0)
    for part, width in (("video", 400), ("audio", 768)):
        out = embed(heads[part], rng.normal(size=(5, width)))
        assert out.shape == (5, 100) and out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        assert np.ptp(out, axis=0).max() > 1e-3   # different inputs, different embeddings


def test_heads_equal_a_direct_numpy_computation(ckpt: Path) -> None:
    import torch

    from pipeline.teachers.vate import embed, load_heads

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    heads = load_heads(ckpt)
    rng = np.random.default_rng(1)
    video = rng.normal(0, 3, size=(7, 400))          # Kinetics logits are of this order
    audio = rng.normal(0, 0.5, size=(7, 768))
    np.testing.assert_allclose(embed(heads["video"], video), _numpy_head(state, "embedding_video", video), atol=2e-5)
    np.testing.assert_allclose(embed(heads["audio"], audio), _numpy_head(state, "embedding_audio", audio), atol=2e-5)


def test_a_checkpoint_without_a_head_is_refused_naming_the_file(tmp_path: Path, ckpt: Path) -> None:
    import torch

    from pipeline.teachers.vate import load_heads

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    bad = tmp_path / "partial.pt"
    torch.save({k: v for k, v in state.items() if not k.startswith("embedding_audio")}, bad)
    with pytest.raises(WeightsError, match=r"partial\.pt: the audio head 'embedding_audio\.\*'"):
        load_heads(bad)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, ckpt: Path) -> Path:
    return vate_cache.demo_cache(tmp_path_factory.mktemp("vate"), ckpt)


def _written(cache: FeatureCache, group: str) -> dict:
    return {k: m["written"] + m["input_hash"] for k, m in cache.complete_entries(group).items()}


def test_vate_entries_are_the_heads_on_the_cached_logits(demo: Path, ckpt: Path) -> None:
    from pipeline.teachers.vate import embed, load_heads

    m = load_manifest(demo)
    cache = FeatureCache(m.cache)
    groups = current_groups(cache)
    vate, logits = groups["teacher"]["vate"], groups["video"]["vivit_logits"]
    heads = load_heads(ckpt)
    for rec in m.recordings:
        (video,) = rec.streams_of("video")
        up = cache.read_entry(logits, rec.id, video.name)
        got = cache.read_entry(vate, rec.id, video.name)
        np.testing.assert_array_equal(got.times_s, up.times_s)           # the upstream segments' times
        np.testing.assert_allclose(got.arrays["vate_video"], embed(heads["video"], up.arrays["logits"]), atol=1e-6)
        assert not got.arrays["audio_valid"].any()                        # no hubert group: audio masked
        assert not got.arrays["vate_audio"].any()
    info = cache.group(vate)
    assert info.attrs["derived_from"][0]["group"] == logits
    assert info.identity["upstream"]["video"]["fingerprint"] == cache.group(logits).fingerprint
    assert info.identity["weights"]["checkpoint_sha256"].startswith("c4d76cd4")
    assert "checkpoint" not in info.identity["config"]    # the path is not the identity, its sha256 is
    row = next(r for r in list_groups(cache, m) if r.group == vate)
    assert row.derived_from == (logits,) and row.complete == row.expected == 2


def test_rerun_is_a_no_op_and_a_changed_upstream_entry_rederives_only_that_entry(demo: Path, ckpt: Path) -> None:
    m = load_manifest(demo)
    cache = FeatureCache(m.cache)
    vate_path = current_groups(cache)["teacher"]["vate"]
    again = vate_cache.run(demo, "vate", checkpoint=str(ckpt))
    assert (again.group, again.done, again.skipped) == (vate_path, 0, 2)
    before = _written(cache, vate_path)
    logits = current_groups(cache)["video"]["vivit_logits"]
    rec = m.recordings[0]
    (video,) = rec.streams_of("video")
    old = cache.read_entry(logits, rec.id, video.name)   # as if this recording's video was re-extracted
    cache.write_entry(logits, rec.id, video.name, FeatureArrays(old.times_s, {"logits": old.arrays["logits"] + 1.0}),
                      "another-input-hash")
    redo = vate_cache.run(demo, "vate", checkpoint=str(ckpt))
    assert (redo.group, redo.done, redo.skipped) == (vate_path, 1, 1)
    after = _written(cache, vate_path)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(rec.id, video.name)}


def test_another_vivit_seed_rebuilds_the_vate_group_and_nothing_else(tmp_path: Path, ckpt: Path) -> None:
    manifest = vate_cache.demo_cache(tmp_path, ckpt, trials=1)
    cache = FeatureCache(load_manifest(manifest).cache)
    first = current_groups(cache)
    eeg_before = _written(cache, first["eeg"]["eeg"])
    vate_before = _written(cache, first["teacher"]["vate"])
    vate_cache.vivit_logits(manifest, seed=1)
    rebuilt = vate_cache.run(manifest, "vate", checkpoint=str(ckpt))
    now = current_groups(cache)
    assert now["video"]["vivit_logits"] != first["video"]["vivit_logits"]
    assert rebuilt.group == now["teacher"]["vate"] != first["teacher"]["vate"] and rebuilt.done == 1
    assert now["eeg"] == first["eeg"] and _written(cache, first["eeg"]["eeg"]) == eeg_before
    assert _written(cache, first["teacher"]["vate"]) == vate_before           # the old group stays for gc
    assert cache.group(rebuilt.group).attrs["derived_from"][0]["group"] == now["video"]["vivit_logits"]


def test_cache_ls_explains_a_derived_group_by_its_lineage_not_by_its_weights(tmp_path: Path, ckpt: Path) -> None:
    """`cache ls`'s rebuild reasons for a VATE group: nothing while its upstream is current (the
    checkpoint path is not recorded, so "weights not available" would be false), the replaced
    upstream group once ViViT is re-extracted."""
    from pipeline.staleness import explain_rebuild

    manifest = vate_cache.demo_cache(tmp_path, ckpt, trials=1)
    cache = FeatureCache(load_manifest(manifest).cache)
    vate = cache.group(current_groups(cache)["teacher"]["vate"])
    assert explain_rebuild(cache, vate) == []
    vate_cache.vivit_logits(manifest, seed=1)
    reasons = explain_rebuild(cache, vate)
    assert len(reasons) == 1 and "the current vivit_logits group is now" in reasons[0], reasons


def test_audio_is_embedded_where_hubert_is_cached_and_masked_where_not(tmp_path: Path, ckpt: Path) -> None:
    """A hand-made 768-d HuBERT group with 1 s segments (the video's are 2 s): each video segment's
    audio input is the overlap-weighted mean of the HuBERT rows inside it; a recording without a
    HuBERT entry gets an all-masked audio embedding."""
    from pipeline.teachers.vate import embed, load_heads

    manifest = vate_cache.demo_cache(tmp_path, ckpt)
    m = load_manifest(manifest)
    cache = FeatureCache(m.cache)
    hubert = cache.create_group("audio", "hubert", {"extractor": "hubert", "version": "1", "config": {"test": 1},
                                                    "weights": {}, "libraries": {}}, {})
    rec, other = m.recordings
    (audio,) = rec.streams_of("audio")
    t = np.stack([np.arange(0, 4.0), np.arange(1, 5.0)], axis=1)              # [0,1), [1,2), ... [3,4)
    frames = np.random.default_rng(2).normal(0, 0.3, size=(4, 768)).astype(np.float32)
    cache.write_entry(hubert.path, rec.id, audio.name, FeatureArrays(t, {"frames": frames}), "h")
    mark_current(cache, hubert)
    summary = vate_cache.run(manifest, "vate", checkpoint=str(ckpt))
    assert summary.done == 2                      # a new upstream group: a new fingerprint, all entries
    (video,) = rec.streams_of("video")
    got = cache.read_entry(summary.group, rec.id, video.name)
    seg = got.times_s
    heads = load_heads(ckpt)
    for i, (a, b) in enumerate(seg):
        w = np.clip(np.minimum(b, t[:, 1]) - np.maximum(a, t[:, 0]), 0, None)
        assert got.arrays["audio_valid"][i] == (w.sum() > 0)
        if w.sum() > 0:
            want = embed(heads["audio"], (w @ frames.astype(np.float64) / w.sum())[None])[0]
            np.testing.assert_allclose(got.arrays["vate_audio"][i], want, atol=1e-5)
    assert got.arrays["audio_valid"].any()
    (ov,) = other.streams_of("video")
    assert not cache.read_entry(summary.group, other.id, ov.name).arrays["audio_valid"].any()


def test_missing_upstream_names_the_command_that_builds_it(tmp_path: Path, ckpt: Path) -> None:
    from pipeline.run import RunOptions, extract
    from pipeline.synth.demo import generate_demo
    from pipeline.extractors.vate_extractor import VateConfig

    manifest = generate_demo(tmp_path, subjects=1, trials=1, duration_s=4.0, seed=3)
    m = load_manifest(manifest)
    with pytest.raises(CacheError, match=r"'vivit_logits' video group, which is not cached\. "
                                         r"Build it first with `cli extract video --head logits"):
        extract(m, "vate", VateConfig(checkpoint=str(ckpt)), RunOptions(cache=str(m.cache), scheduler="sync"))


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    from pipeline.extractors.vate_extractor import VateConfig
    from pipeline.run import RunOptions, extract
    from pipeline.synth.demo import generate_demo

    m = load_manifest(generate_demo(tmp_path, subjects=1, trials=1, duration_s=4.0, seed=3))
    opts = RunOptions(cache=str(m.cache), scheduler="sync")
    with pytest.raises(WeightsError, match=r"nope\.pt: VATE checkpoint not found\. Download best_model_contrastive"):
        extract(m, "vate", VateConfig(checkpoint=str(tmp_path / "nope.pt")), opts)
    with pytest.raises(ConfigError, match="pass --checkpoint PATH"):
        extract(m, "vate", VateConfig(), opts)
    assert not FeatureCache(m.cache).groups()          # nothing was written


def test_cli_extract_teacher_errors_are_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import cli
    from pipeline.synth.demo import generate_demo

    manifest = generate_demo(tmp_path, subjects=1, trials=1, duration_s=4.0, seed=3)
    runner = CliRunner()
    res = runner.invoke(cli.app, ["extract", "teacher", "--manifest", str(manifest), "--checkpoint",
                                  str(tmp_path / "missing.pt"), "--scheduler", "sync"])
    assert res.exit_code == 2 and "missing.pt: VATE checkpoint not found" in res.output
    res = runner.invoke(cli.app, ["extract", "teacher", "--teacher", "eeg", "--manifest", str(manifest)])
    assert res.exit_code == 2 and "--teacher eeg: unknown teacher. Known teachers: vate" in res.output


def test_cli_extract_teacher_runs_and_cache_ls_shows_the_lineage(demo: Path, ckpt: Path) -> None:
    from typer.testing import CliRunner

    import cli

    runner = CliRunner()
    res = runner.invoke(cli.app, ["extract", "teacher", "--teacher", "vate", "--checkpoint", str(ckpt),
                                  "--manifest", str(demo), "--scheduler", "sync"])
    assert res.exit_code == 0, res.output
    vate = current_groups(FeatureCache(load_manifest(demo).cache))["teacher"]["vate"]
    assert f"-> {vate}" in res.output.replace("\n", "")
    res = runner.invoke(cli.app, ["cache", "ls", "--manifest", str(demo)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and f"{vate} derived from video/vivit_logits-" in res.output
