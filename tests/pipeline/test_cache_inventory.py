"""`cli cache ls/verify/gc` as library calls: rows, checks, garbage collection, and where the cache is."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from pipeline.cache import FeatureCache
from pipeline.cache_inventory import collect_garbage, list_groups, locate_cache, streams_per_modality, verify_groups
from pipeline.errors import ConfigError, ManifestError
from pipeline.extractors.base import get_extractor
from pipeline.extractors.eeg_extractor import EEGConfig
from pipeline.manifest import load_manifest
from pipeline.modalities import DEFAULT_EXTRACTORS, default_extractor
from pipeline.run import RunOptions, extract


def _run(manifest_path: Path, config=None) -> str:
    m = load_manifest(manifest_path)
    return extract(m, "eeg", config, RunOptions(cache=str(m.cache), scheduler="sync")).group


def test_rows_mark_the_current_group_and_count_against_the_manifest(eeg_dataset: Path) -> None:
    old, new = _run(eeg_dataset), _run(eeg_dataset, EEGConfig(h_freq=40.0))
    cache, manifest = locate_cache(eeg_dataset, None)
    rows = {r.group: r for r in list_groups(cache, manifest)}
    assert set(rows) == {old, new}
    assert rows[new].current and not rows[old].current
    assert (rows[new].complete, rows[new].expected) == (3, 3) and rows[new].bytes > 0
    assert rows[new].config["h_freq"] == 40.0 and rows[new].tokens is None


def test_gc_dry_run_removes_nothing_then_gc_removes_only_superseded(eeg_dataset: Path) -> None:
    old, new = _run(eeg_dataset), _run(eeg_dataset, EEGConfig(h_freq=40.0))
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    dry = collect_garbage(cache, dry_run=True)
    assert dry.removed == [old] and dry.kept == [new] and dry.bytes > 0
    assert {g.path for g in cache.groups()} == {old, new}
    done = collect_garbage(cache)
    assert done.removed == [old] and done.bytes == dry.bytes
    assert [g.path for g in FeatureCache(cache.location).groups()] == [new]
    assert collect_garbage(cache).removed == []


def test_verify_groups_reports_entries_per_group(eeg_dataset: Path) -> None:
    group = _run(eeg_dataset)
    (check,) = verify_groups(FeatureCache(eeg_dataset.parent / "cache.zarr"))
    assert (check.group, check.entries, check.problems) == (group, 3, [])


def test_without_a_manifest_coverage_comes_from_the_last_extraction(eeg_dataset: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    _run(eeg_dataset)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no data_manifest.yaml here, and none given
    cache, manifest = locate_cache(None, str(eeg_dataset.parent / "cache.zarr"))
    assert manifest is None
    (row,) = list_groups(cache)
    assert (row.complete, row.expected) == (3, 3)


def test_no_manifest_and_no_cache_names_both_fixes(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"(?s)absent.yaml: 1 problem.*file not found. Pass --manifest PATH, or --cache STORE"):
        locate_cache(tmp_path / "absent.yaml", None)


def test_cache_ls_reports_a_broken_manifest_instead_of_guessing(tmp_path: Path, capsys) -> None:
    # Regression: `cache ls` used to swallow any manifest error and list ./cache.zarr beside it.
    manifest = tmp_path / "data_manifest.yaml"
    manifest.write_text("version: 1\ndatasets: [{name: t, recordings: [{id: r0}]}]\n")
    with pytest.raises(SystemExit) as exc:
        main(["cache", "ls", "--manifest", str(manifest)])
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code == 2 and "data_manifest.yaml" in err and "problem" in err


def test_streams_per_modality_counts_every_stream(eeg_dataset: Path) -> None:
    assert streams_per_modality(load_manifest(eeg_dataset)) == {"eeg": 3}


@pytest.mark.parametrize("modality", sorted(DEFAULT_EXTRACTORS))
def test_default_extractor_is_registered_for_its_modality(modality: str) -> None:
    assert get_extractor(default_extractor(modality)).modality == modality


def test_unknown_modality_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown modality 'emg'. Known modalities: eeg, ecg, audio, video"):
        default_extractor("emg")
