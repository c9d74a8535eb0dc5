"""Stage two's view of the cache: the current group, refused when stale or incomplete."""

from pathlib import Path

import pytest

from pipeline.cache import GROUP_KEY, FeatureCache
from pipeline.errors import CacheError
from pipeline.extractors.eeg_extractor import EEGConfig
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


def test_group_extracted_with_other_library_versions_is_read_and_explained(eeg_dataset: Path, monkeypatch) -> None:
    """Staleness belongs to extraction: stage two reads the marked group whatever today's MNE is;
    ``explain_rebuild`` (for ``cli cache ls``) says why today's extract would rebuild it."""
    import pipeline.fingerprint as fpmod
    from pipeline.staleness import explain_rebuild

    real = fpmod.library_versions
    monkeypatch.setattr(fpmod, "library_versions", lambda names: {**real(names), "mne": "0.1.0"})
    m, summary = _extract(eeg_dataset, EEGConfig(sfreq=100.0, h_freq=40.0), "cli extract eeg --sfreq 100 --h-freq 40")
    monkeypatch.setattr(fpmod, "library_versions", real)   # as if MNE was upgraded since
    cache = FeatureCache(m.cache)
    group = resolve_group(cache, "eeg", manifest=m)
    assert group.path == summary.group and group.identity["libraries"]["mne"] == "0.1.0"
    import mne

    assert explain_rebuild(cache, group) == [f"mne 0.1.0 -> {mne.__version__}"]


def test_fresh_group_needs_no_rebuild_and_config_change_is_named(eeg_dataset: Path) -> None:
    from pipeline.staleness import explain_rebuild

    m, summary = _extract(eeg_dataset)
    cache = FeatureCache(m.cache)
    group = cache.group(summary.group)
    assert explain_rebuild(cache, group) == []
    assert explain_rebuild(cache, group, EEGConfig(sfreq=100.0)) == ["config sfreq 128.0 -> 100.0"]
    _extract(eeg_dataset, EEGConfig(h_freq=40.0))
    assert explain_rebuild(cache, group)[0].startswith("superseded by eeg/eeg-")


def test_edited_group_attributes_are_refused(eeg_dataset: Path) -> None:
    m, summary = _extract(eeg_dataset)
    import zarr

    grp = zarr.open_group(str(m.cache), path=summary.group, mode="a")
    meta = dict(grp.attrs[GROUP_KEY])
    meta["identity"] = {**meta["identity"], "config": {**meta["identity"]["config"], "sfreq": 64.0}}
    grp.attrs[GROUP_KEY] = meta                      # recorded config no longer what was extracted
    with pytest.raises(CacheError, match=r"recorded fingerprint does not match its recorded identity.*`cli extract eeg`"):
        resolve_group(FeatureCache(m.cache), "eeg")


def test_incomplete_group_is_refused(eeg_dataset: Path) -> None:
    (eeg_dataset.parent / "eeg" / "r2.edf").write_bytes(b"broken")
    m, summary = _extract(eeg_dataset)
    assert summary.failed == 1
    with pytest.raises(CacheError, match=r"incomplete: 1 of 3 recording streams missing \(e.g. r2/eeg\)"):
        resolve_group(FeatureCache(m.cache), "eeg", manifest=m)
