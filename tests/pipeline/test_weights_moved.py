"""A video cache built from a local weights folder outlives the folder: stage two reads it from the
cache alone, and ``explain_rebuild`` says why today's extract would rebuild it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cache import FeatureCache
from pipeline.manifest import load_manifest
from pipeline.resolve import read_current_group
from pipeline.run import RunOptions, extract
from pipeline.staleness import explain_rebuild
from pipeline.video.video_config import VideoConfig
from tests.pipeline.video_helpers import save_tiny_vivit


@pytest.fixture
def video_cache(tmp_path: Path, monkeypatch) -> tuple[Path, str]:
    """Demo video extracted with ``--weights ./myvivit`` (a path relative to the working directory)."""
    from pipeline.synth.demo import generate_demo

    manifest_path = generate_demo(tmp_path / "data", subjects=1, trials=1, duration_s=4.0, seed=2)
    save_tiny_vivit(tmp_path / "myvivit")
    monkeypatch.chdir(tmp_path)
    m = load_manifest(manifest_path)
    cfg = VideoConfig(weights="./myvivit", device="cpu", batch_size=2)
    summary = extract(m, "vivit", cfg, RunOptions(cache=str(m.cache), scheduler="sync",
                                                  command="cli extract video --encoder vivit --weights ./myvivit"))
    assert summary.failed == 0, summary.failures
    return manifest_path, summary.group


def test_weights_folder_renamed_still_reads_and_explains_the_rebuild(video_cache, tmp_path: Path, monkeypatch) -> None:
    manifest_path, path = video_cache
    cache = FeatureCache(load_manifest(manifest_path).cache)
    group = cache.group(path)
    assert group.attrs["weights_location"] == str((tmp_path / "myvivit").resolve())
    monkeypatch.chdir(tmp_path / "data")                       # another folder: ./myvivit is not here
    assert explain_rebuild(cache, group) == []                 # found where extraction found it
    (tmp_path / "myvivit").rename(tmp_path / "elsewhere")
    m = load_manifest(manifest_path, check_files=False)
    found = read_current_group(cache, "video", "vivit", manifest=m)     # no weights needed
    assert (found.path, found.fingerprint) == (group.path, group.fingerprint)
    (stream,) = m.recordings[0].streams_of("video")
    assert cache.read_entry(found.path, m.recordings[0].id, stream.name).arrays["tokens"].ndim == 3
    assert explain_rebuild(cache, group) == [f"weights ./myvivit not found (looked in {tmp_path.resolve() / 'myvivit'})"]


def test_extract_with_a_missing_relative_weights_folder_says_where_it_looked(video_cache, tmp_path: Path) -> None:
    from pipeline.errors import WeightsError

    manifest_path, _ = video_cache
    (tmp_path / "myvivit").rename(tmp_path / "elsewhere")
    m = load_manifest(manifest_path)
    with pytest.raises(WeightsError, match=r"'./myvivit' is neither a local folder \(looked at .*/myvivit\)"):
        extract(m, "vivit", VideoConfig(weights="./myvivit", device="cpu"), RunOptions(cache=str(m.cache), scheduler="sync"))
