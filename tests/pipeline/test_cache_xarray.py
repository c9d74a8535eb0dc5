"""The cache explains itself: every entry opens in xarray with named dims, coordinates, units and
attributes equal to what the cache holds; a corrupted chunk fails at read time (crc32c)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import open_cache
from pipeline.cache import FeatureCache
from pipeline.errors import CacheError
from pipeline.manifest import load_manifest
from pipeline.run import RunOptions, extract
from pipeline.video.video_config import VideoConfig

xr = pytest.importorskip("xarray")

EXPECTED = {  # modality -> (array, its dims, its units)
    "eeg": ("data", ("time", "channel"), "uV"),
    "ecg": ("beats", ("time", "beat_sample"), "mV"),
    "audio": ("frames", ("time", "feature"), "see feature names"),
    "video": ("tokens", ("time", "token", "dim"), "1"),
}


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory) -> Path:
    """One demo recording extracted for all four modalities (tiny random-init ViViT on CPU)."""
    from pipeline.synth.demo import generate_demo

    manifest_path = generate_demo(tmp_path_factory.mktemp("xr"), subjects=1, trials=1, duration_s=6.0, seed=5)
    m = load_manifest(manifest_path)
    configs = {"eeg": None, "ecg": None, "audio": None,
               "vivit": VideoConfig(random_init=True, frames=8, device="cpu", batch_size=2)}
    for name, cfg in configs.items():
        summary = extract(m, name, cfg, RunOptions(cache=str(m.cache), scheduler="sync"))
        assert summary.failed == 0, summary.failures
    return manifest_path


@pytest.mark.parametrize("modality", sorted(EXPECTED))
def test_every_modality_opens_in_xarray_as_the_cache_holds_it(demo_cache: Path, modality: str) -> None:
    view = open_cache(demo_cache)
    group = view.current(modality)
    (rec_id, stream), = view.entries(group)
    held = view.read(group, rec_id, stream)
    ds = xr.open_zarr(view.cache.location, group=f"{group.path}/{rec_id}/{stream}", consolidated=False)
    name, dims, units = EXPECTED[modality]
    assert ds[name].dims == dims and ds[name].attrs["units"] == units
    np.testing.assert_array_equal(ds[name].values, held.arrays[name])
    assert "times_s" in ds.coords and ds["times_s"].attrs["units"] == "s"
    np.testing.assert_array_equal(ds["times_s"].values, held.times_s)
    assert ds["times_s"].dims[0] == "time" and ds.sizes["time"] == len(held.times_s)
    assert (ds.attrs["extractor"], ds.attrs["fingerprint"]) == (group.extractor, group.fingerprint)
    assert ds.attrs["recording"] == rec_id and ds.attrs["layout"] == 2
    if modality == "eeg":
        assert list(ds["channel"].values) == held.attrs["ch_names"] and ds.attrs["sfreq"] == held.attrs["sfreq"]
    if modality == "audio":
        assert list(ds["feature"].values) == group.attrs["describe"]["feature_names"]
    xr.testing.assert_identical(ds, view.dataset(modality, rec_id, stream))


def test_a_group_opens_as_a_datatree(demo_cache: Path) -> None:
    view = open_cache(demo_cache)
    group = view.current("eeg")
    (rec_id, stream), = view.entries(group)
    tree = view.datatree("eeg")
    node = tree[f"{rec_id}/{stream}"]
    assert node["data"].dims == ("time", "channel") and tree.attrs["fingerprint"] == group.fingerprint


def test_corrupted_chunk_raises_on_read_and_in_verify(demo_cache: Path, tmp_path: Path) -> None:
    import shutil

    m = load_manifest(demo_cache)
    copy = tmp_path / "cache.zarr"
    shutil.copytree(m.cache, copy)
    cache = FeatureCache(copy)
    group = open_cache(copy).current("eeg")
    (rec_id, stream), = cache.complete_entries(group.path)
    chunk = copy / group.path / rec_id / stream / "data" / "c" / "0" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                      # one flipped byte in the middle of the stored chunk
    chunk.write_bytes(bytes(raw))
    with pytest.raises(Exception, match="(?i)checksum"):
        cache.read_entry(group.path, rec_id, stream)
    assert any("unreadable" in p for p in cache.verify(group.path))


def test_open_cache_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match=r"nowhere.zarr: no cache here"):
        open_cache(tmp_path / "nowhere.zarr")


def test_entry_from_an_older_layout_names_the_rebuild(eeg_dataset: Path) -> None:
    import zarr

    from pipeline.cache import ENTRY_KEY

    m = load_manifest(eeg_dataset)
    group = extract(m, "eeg", None, RunOptions(cache=str(m.cache), scheduler="sync", command="cli extract eeg")).group
    entry = zarr.open_group(str(m.cache), path=f"{group}/r0/eeg", mode="a")
    entry.attrs[ENTRY_KEY] = {k: v for k, v in entry.attrs[ENTRY_KEY].items() if k != "layout"}  # as layout 1 wrote it
    view = open_cache(eeg_dataset)
    with pytest.raises(CacheError, match=r"before cache layout 2.*`cli extract eeg`"):
        view.dataset("eeg", "r0", "eeg")
    assert view.read("eeg", "r0", "eeg").arrays["data"].shape[1] == 14    # still reads (and trains)
