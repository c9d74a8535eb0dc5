"""The cache contract: resume, per-recording invalidation, new groups, gc, completion marks, verify."""

from pathlib import Path

import numpy as np
import pytest
import zarr

from cli import main
from pipeline.cache import ENTRY_KEY, FeatureCache
from pipeline.errors import CacheError
from pipeline.extractors.base import FeatureArrays
from pipeline.extractors.eeg_extractor import EEGConfig
from pipeline.manifest import load_manifest
from pipeline.run import RunOptions, current_groups, extract
from tests.conftest import write_eeg_edf


def _run(manifest_path: Path, config=None, scheduler="sync"):
    m = load_manifest(manifest_path)
    return extract(m, "eeg", config, RunOptions(cache=str(m.cache), scheduler=scheduler))


def test_rerun_does_no_work_and_local_dask_cluster_runs(eeg_dataset: Path) -> None:
    first = _run(eeg_dataset, scheduler=None)  # the default: an in-process Dask cluster
    assert (first.done, first.skipped, first.failed) == (3, 0, 0)
    second = _run(eeg_dataset)
    assert (second.done, second.skipped, second.failed) == (0, 3, 0)
    assert second.group == first.group


def test_edited_input_reextracts_only_that_recording(eeg_dataset: Path) -> None:
    _run(eeg_dataset)
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    group = _run(eeg_dataset).group
    before = {k: v["written"] for k, v in cache.complete_entries(group).items()}
    write_eeg_edf(eeg_dataset.parent / "eeg" / "r1.edf", seed=99)   # new content
    again = _run(eeg_dataset)
    assert (again.done, again.skipped) == (1, 2)
    after = cache.complete_entries(group)
    assert after[("r0", "eeg")]["written"] == before[("r0", "eeg")]
    assert after[("r1", "eeg")]["input_hash"] != cache.complete_entries(group)[("r0", "eeg")]["input_hash"]


def test_touching_a_file_without_changing_it_keeps_the_cache(eeg_dataset: Path) -> None:
    _run(eeg_dataset)
    f = eeg_dataset.parent / "eeg" / "r2.edf"
    f.write_bytes(f.read_bytes())  # new mtime, same bytes
    assert _run(eeg_dataset).skipped == 3


def test_changed_config_makes_new_group_and_gc_removes_old(eeg_dataset: Path, capsys) -> None:
    old = _run(eeg_dataset).group
    new = _run(eeg_dataset, EEGConfig(h_freq=40.0)).group
    assert new != old and new.startswith("eeg/eeg-")
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    assert {g.path for g in cache.groups()} == {old, new}
    assert current_groups(cache)["eeg"]["eeg"] == new
    with pytest.raises(SystemExit) as dry:
        main(["cache", "gc", "--manifest", str(eeg_dataset), "--dry-run"])
    assert dry.value.code == 0 and "would remove " + old in capsys.readouterr().out
    assert {g.path for g in FeatureCache(cache.location).groups()} == {old, new}
    with pytest.raises(SystemExit):
        main(["cache", "gc", "--manifest", str(eeg_dataset)])
    assert [g.path for g in FeatureCache(cache.location).groups()] == [new]


def test_entry_without_completion_mark_is_invisible_and_rebuilt(eeg_dataset: Path) -> None:
    group = _run(eeg_dataset).group
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    entry = zarr.open_group(cache.location, path=f"{group}/r0/eeg", mode="a")
    entry.attrs[ENTRY_KEY] = {"complete": False}         # as if killed before the mark
    assert ("r0", "eeg") not in cache.complete_entries(group)
    assert cache.entry_mark(group, "r0", "eeg") is None
    with pytest.raises(CacheError, match="missing or incomplete"):
        cache.read_entry(group, "r0", "eeg")
    again = _run(eeg_dataset)
    assert (again.done, again.skipped) == (1, 2)
    assert cache.read_entry(group, "r0", "eeg").arrays["data"].shape[1] == 14


def test_torn_metadata_counts_as_absent(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "c.zarr")
    g = cache.create_group("eeg", "x", {"extractor": "x", "version": "1", "config": {}, "weights": {}, "libraries": {}}, {})
    cache.write_entry(g.path, "r", "eeg", FeatureArrays(np.arange(3.0), {"v": np.ones((3, 2))}), "h")
    meta = tmp_path / "c.zarr" / g.path / "r" / "eeg" / "zarr.json"
    meta.write_text(meta.read_text()[:20])                # a crash mid-write of metadata
    assert cache.entry_mark(g.path, "r", "eeg") is None


def test_write_read_round_trip_across_chunks(tmp_path: Path, monkeypatch) -> None:
    import pipeline.cache as cache_mod

    monkeypatch.setattr(cache_mod, "TARGET_CHUNK_BYTES", 64)   # force many chunks
    cache = FeatureCache(tmp_path / "c.zarr")
    g = cache.create_group("video", "x", {"extractor": "x", "version": "1", "config": {}, "weights": {}, "libraries": {}}, {})
    tokens = np.random.default_rng(0).normal(size=(37, 3, 5)).astype(np.float16)
    times = np.stack([np.arange(37) * 2.0, np.arange(37) * 2.0 + 2], axis=1)
    cache.write_entry(g.path, "r", "face", FeatureArrays(times, {"tokens": tokens}, {"k": 1}), "h")
    back = cache.read_entry(g.path, "r", "face")
    assert np.array_equal(back.arrays["tokens"], tokens) and back.arrays["tokens"].dtype == np.float16
    assert np.array_equal(back.times_s, times) and back.attrs == {"k": 1}
    assert zarr.open_array(cache.location, path=f"{g.path}/r/face/tokens", mode="r").chunks[0] < 37


def test_verify_detects_a_corrupted_chunk(eeg_dataset: Path, capsys) -> None:
    group = _run(eeg_dataset).group
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    assert cache.verify(group) == []
    chunk = next((Path(cache.location) / group / "r1" / "eeg" / "data" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    problems = cache.verify(group)
    assert len(problems) == 1 and "r1/eeg/data" in problems[0]
    with pytest.raises(SystemExit) as exc:
        main(["cache", "verify", "--manifest", str(eeg_dataset)])
    assert exc.value.code == 1


def test_failure_log_and_exit_code_for_one_bad_file(eeg_dataset: Path, capsys) -> None:
    (eeg_dataset.parent / "eeg" / "r1.edf").write_bytes(b"this is not an EDF file at all")
    with pytest.raises(SystemExit) as exc:
        main(["extract", "eeg", "--manifest", str(eeg_dataset), "--scheduler", "sync"])
    assert exc.value.code == 1
    log = eeg_dataset.parent / "cache.failures.jsonl"
    import json

    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["recording"] for r in rows] == ["r1"]
    assert rows[0]["stage"] == "eeg" and rows[0]["error_type"] == "ExtractionError"
    assert "r1.edf: cannot read as EDF" in rows[0]["message"]
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    (group,) = cache.groups()
    assert set(cache.complete_entries(group.path)) == {("r0", "eeg"), ("r2", "eeg")}


def test_cache_ls_json_reports_coverage(eeg_dataset: Path, capsys) -> None:
    import json

    _run(eeg_dataset)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["cache", "ls", "--manifest", str(eeg_dataset), "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["modality"], row["extractor"], row["complete"], row["expected"]) == ("eeg", "eeg", 3, 3)
    assert row["random_init"] is False and row["bytes"] > 0 and row["config"]["sfreq"] == 128.0


def test_torn_entry_does_not_hide_the_others_and_is_rebuilt(eeg_dataset: Path) -> None:
    # Regression: one entry's metadata torn by a crash made complete_entries (so every rerun and
    # `cache ls`) fail with a JSONDecodeError instead of treating that entry as absent.
    group = _run(eeg_dataset).group
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    meta = Path(cache.location) / group / "r1" / "eeg" / "zarr.json"
    meta.write_text(meta.read_text()[:20])
    assert set(cache.complete_entries(group)) == {("r0", "eeg"), ("r2", "eeg")}
    again = _run(eeg_dataset)
    assert (again.done, again.skipped, again.failed) == (1, 2, 0)
    assert set(cache.complete_entries(group)) == {("r0", "eeg"), ("r1", "eeg"), ("r2", "eeg")}


def test_local_scan_of_completion_marks_answers_as_zarr_does(tmp_path: Path) -> None:
    """complete_entries reads a local store's zarr.json files directly (fast no-op reruns); it must
    give the zarr layer's answer: complete entries with their marks, torn and unfinished ones absent."""
    cache = FeatureCache(tmp_path / "c.zarr")
    g = cache.create_group("eeg", "x", {"extractor": "x", "version": "1", "config": {}, "weights": {}, "libraries": {}}, {})
    for rec in ("a", "b", "c"):
        for stream in ("eeg", "eeg2"):
            cache.write_entry(g.path, rec, stream, FeatureArrays(np.arange(3.0), {"v": np.ones((3, 2))}, {"k": rec}), "h")
    meta = tmp_path / "c.zarr" / g.path / "b" / "eeg" / "zarr.json"
    meta.write_text(meta.read_text()[:20])                                  # torn by a crash
    zarr.open_group(str(tmp_path / "c.zarr"), mode="r+").require_group(f"{g.path}/c/unfinished")   # no mark yet
    fast = cache.complete_entries(g.path)
    cache.is_local = False                                                   # the zarr path (remote stores)
    assert fast == cache.complete_entries(g.path)
    assert set(fast) == {("a", "eeg"), ("a", "eeg2"), ("b", "eeg2"), ("c", "eeg"), ("c", "eeg2")}
    assert fast[("a", "eeg")]["attrs"] == {"k": "a"} and fast[("a", "eeg")]["input_hash"] == "h"
