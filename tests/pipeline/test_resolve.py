"""Stage two's view of the cache: the current group, refused when stale or incomplete."""

from pathlib import Path

import pytest

from pipeline.cache import GROUP_KEY, FeatureCache
from pipeline.errors import CacheError
from pipeline.extractors.eeg_extractor import EEGConfig
from pipeline.fingerprint import fingerprint
from pipeline.manifest import load_manifest
from pipeline.resolve import resolve_group
from pipeline.run import RunOptions, extract


def _extract(manifest_path: Path, config=None, command: str = "cli extract eeg"):
    m = load_manifest(manifest_path)
    return m, extract(m, "eeg", config, RunOptions(cache=str(m.cache), scheduler="sync", command=command))


def test_missing_group_names_the_command(eeg_dataset: Path) -> None:
    with pytest.raises(CacheError, match=r"no eeg features cached. Build them with `cli extract eeg`"):
        resolve_group(FeatureCache(eeg_dataset.parent / "cache.zarr"), "eeg")
    with pytest.raises(CacheError, match=r"`cli extract video --encoder clip`"):
        resolve_group(FeatureCache(eeg_dataset.parent / "cache.zarr"), "video", extractor="clip")


def test_current_group_is_the_latest_extraction(eeg_dataset: Path) -> None:
    m, first = _extract(eeg_dataset)
    m, second = _extract(eeg_dataset, EEGConfig(sfreq=100.0, h_freq=40.0), "cli extract eeg --sfreq 100 --h-freq 40")
    group = resolve_group(FeatureCache(m.cache), "eeg", manifest=m)
    assert group.path == second.group != first.group


def test_stale_group_is_refused_with_its_rebuild_command(eeg_dataset: Path) -> None:
    m, summary = _extract(eeg_dataset, EEGConfig(sfreq=100.0, h_freq=40.0), "cli extract eeg --sfreq 100 --h-freq 40")
    cache = FeatureCache(m.cache)
    import zarr

    grp = zarr.open_group(cache.location, path=summary.group, mode="a")
    meta = dict(grp.attrs[GROUP_KEY])
    meta["identity"] = {**meta["identity"], "libraries": {**meta["identity"]["libraries"], "mne": "0.1.0"}}
    meta["fingerprint"] = fingerprint(meta["identity"])
    grp.attrs[GROUP_KEY] = meta                     # as if extracted with an older MNE
    with pytest.raises(CacheError, match=r"is stale \(library versions changed \{'mne': '0.1.0 -> .*"
                                         r"Rebuild with `cli extract eeg --sfreq 100 --h-freq 40`"):
        resolve_group(FeatureCache(m.cache), "eeg")


def test_incomplete_group_is_refused(eeg_dataset: Path) -> None:
    (eeg_dataset.parent / "eeg" / "r2.edf").write_bytes(b"broken")
    m, summary = _extract(eeg_dataset)
    assert summary.failed == 1
    with pytest.raises(CacheError, match=r"incomplete: 1 of 3 recording streams missing \(e.g. r2/eeg\)"):
        resolve_group(FeatureCache(m.cache), "eeg", manifest=m)
