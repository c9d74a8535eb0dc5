"""An entry's key is its input files' hash plus its stream's extraction settings from the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.cache import FeatureCache
from pipeline.errors import CacheError
from pipeline.inputs import check_inputs, stream_key
from pipeline.manifest import load_manifest
from pipeline.run import RunOptions, extract


def _extract(manifest: Path):
    m = load_manifest(manifest)
    return extract(m, "eeg", None, RunOptions(cache=str(m.cache), scheduler="sync", command="cli extract eeg"))


def _set_stream(manifest: Path, rec_id: str, **fields) -> None:
    doc = yaml.safe_load(manifest.read_text())
    recs = [r for d in doc.get("datasets", [doc]) for r in d["recordings"]]
    next(r for r in recs if r["id"] == rec_id)["modalities"]["eeg"].update(fields)
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize("fields", [{"options": {"line_freq_hz": 60}}, {"offset_s": 0.5},
                                    {"options": {"crop_s": [1.0, 6.0]}}])
def test_a_changed_stream_definition_re_extracts_that_recording_only(eeg_dataset: Path, fields) -> None:
    first = _extract(eeg_dataset)
    assert (first.done, first.skipped) == (3, 0)
    _set_stream(eeg_dataset, "r1", **fields)            # same files, other extraction settings
    again = _extract(eeg_dataset)
    assert (again.done, again.skipped, again.failed) == (1, 2, 0) and again.group == first.group
    assert (_extract(eeg_dataset).done, _extract(eeg_dataset).skipped) == (0, 3)


def test_entries_written_before_the_stream_key_still_match_default_streams(eeg_dataset: Path) -> None:
    group = _extract(eeg_dataset).group
    cache = FeatureCache(eeg_dataset.parent / "cache.zarr")
    for rid in ("r0", "r1", "r2"):  # rewrite each mark as the old runner did: input hash only
        mark = cache.entry_mark(group, rid, "eeg")
        cache.write_entry(group, rid, "eeg", cache.read_entry(group, rid, "eeg"), mark["input_hash"])
        assert "stream_key" not in cache.entry_mark(group, rid, "eeg")
    assert (_extract(eeg_dataset).done, _extract(eeg_dataset).skipped) == (0, 3)
    _set_stream(eeg_dataset, "r2", options={"line_freq_hz": 60})
    assert _extract(eeg_dataset).done == 1                   # unknown old settings: re-extracted once


def test_stage_two_reports_a_stream_whose_settings_changed_since_extraction(eeg_dataset: Path) -> None:
    group = _extract(eeg_dataset).group
    _set_stream(eeg_dataset, "r0", options={"line_freq_hz": 60})
    m = load_manifest(eeg_dataset)
    with pytest.raises(CacheError, match=r"changed since extraction \(r0/eeg\)\. Rebuild them with `cli extract eeg`"):
        check_inputs(FeatureCache(m.cache), m, FeatureCache(m.cache).group(group))


def test_the_key_is_canonical_and_empty_for_default_settings(eeg_dataset: Path) -> None:
    m = load_manifest(eeg_dataset)
    stream = m.recordings[0].streams["eeg"]
    assert stream_key(stream) == ""
    _set_stream(eeg_dataset, "r0", options={"b": 1, "a": 2})
    k1 = stream_key(load_manifest(eeg_dataset).recordings[0].streams["eeg"])
    _set_stream(eeg_dataset, "r0", options={"a": 2, "b": 1})
    assert k1 and k1 == stream_key(load_manifest(eeg_dataset).recordings[0].streams["eeg"])
