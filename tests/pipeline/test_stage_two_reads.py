"""Stage two reads the cache alone: current groups without weights or extractors, input checks
where the raw files are reachable, and the reasons today's extract would rebuild a group."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.cache import FeatureCache
from pipeline.errors import CacheError
from pipeline.inputs import check_inputs
from pipeline.manifest import load_manifest
from pipeline.resolve import read_current_group
from pipeline.run import RunOptions, extract
from tests.conftest import write_eeg_edf


def _extract_eeg(manifest_path: Path):
    m = load_manifest(manifest_path)
    summary = extract(m, "eeg", None, RunOptions(cache=str(m.cache), scheduler="sync", command="cli extract eeg"))
    return m, FeatureCache(m.cache).group(summary.group)


def test_unchanged_inputs_pass_and_a_changed_recording_names_its_rebuild(eeg_dataset: Path) -> None:
    m, group = _extract_eeg(eeg_dataset)
    ok = check_inputs(FeatureCache(m.cache), m, group)
    assert sorted(ok.checked) == [("r0", "eeg"), ("r1", "eeg"), ("r2", "eeg")] and not ok.changed
    write_eeg_edf(eeg_dataset.parent / "eeg" / "r1.edf", seed=42)       # edited after extraction
    with pytest.raises(CacheError, match=r"1 recording\(s\) changed since extraction \(r1/eeg\)\. "
                                         r"Rebuild them with `cli extract eeg`"):
        check_inputs(FeatureCache(m.cache), m, group)
    assert check_inputs(FeatureCache(m.cache), m, group, strict=False).changed == [("r1", "eeg")]


def test_cache_copied_without_raw_data_reads_and_says_once_inputs_were_not_checked(
        eeg_dataset: Path, tmp_path: Path, caplog) -> None:
    m, group = _extract_eeg(eeg_dataset)
    laptop = tmp_path / "laptop"
    shutil.copytree(m.cache, laptop / "cache.zarr")                    # the cache, not the recordings
    spec = yaml.safe_load(eeg_dataset.read_text())
    (laptop / "data_manifest.yaml").write_text(yaml.safe_dump(spec))   # same relative paths, files absent
    copied = load_manifest(laptop / "data_manifest.yaml", check_files=False)   # as stage two loads it
    cache = FeatureCache(copied.cache)
    found = read_current_group(cache, "eeg", manifest=copied)
    assert (found.path, found.fingerprint) == (group.path, group.fingerprint)
    with caplog.at_level(logging.WARNING, logger="pipeline.inputs"):
        result = check_inputs(cache, copied, found)
    assert len(result.unreachable) == 3 and not result.checked and not result.changed
    notes = [r for r in caplog.records if "not reachable" in r.getMessage()]
    assert len(notes) == 1 and "3 of 3" in notes[0].getMessage()
    assert cache.read_entry(found.path, "r0", "eeg").arrays["data"].shape[1] == 14


def test_reading_the_current_group_imports_no_extractor_or_media_stack(eeg_dataset: Path) -> None:
    """Run stage two's reads in a fresh interpreter and list what ended up in sys.modules."""
    _extract_eeg(eeg_dataset)
    code = f"""
import json, sys
from pipeline import check_inputs, open_cache, read_current_group
from pipeline.manifest import load_manifest
m = load_manifest({str(eeg_dataset)!r})
view = open_cache(m.path)
group = read_current_group(view.cache, "eeg", manifest=m)
check_inputs(view.cache, m, group)
view.read(group, "r0", "eeg")
heavy = ("pipeline.extractors", "pipeline.video", "pipeline.audio", "pipeline.ecg", "pipeline.staleness",
         "transformers", "parselmouth", "av", "neurokit2", "xarray", "mne", "torch")
print(json.dumps(sorted(n for n in sys.modules if n.split(".")[0] in heavy or n.startswith(heavy))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_missing_group_names_the_build_command(eeg_dataset: Path) -> None:
    _extract_eeg(eeg_dataset)
    with pytest.raises(CacheError, match=r"no video features cached for extractor 'vivit'. "
                                         r"Build them with `cli extract video --encoder vivit`"):
        read_current_group(FeatureCache(eeg_dataset.parent / "cache.zarr"), "video", "vivit")


def test_current_pointer_of_an_older_cache_is_still_read(eeg_dataset: Path) -> None:
    """Caches written before per-modality pointers kept them in the store's attributes."""
    import zarr

    from pipeline.current import CURRENT_KEY, current_groups

    m, group = _extract_eeg(eeg_dataset)
    root = zarr.open_group(str(m.cache), mode="a")
    pointers = dict(root["eeg"].attrs[CURRENT_KEY])
    del root["eeg"].attrs[CURRENT_KEY]
    root.attrs[CURRENT_KEY] = {"eeg": {e: {"group": v["group"], "when": v["when"]} for e, v in pointers.items()}}
    cache = FeatureCache(m.cache)
    assert current_groups(cache) == {"eeg": {"eeg": group.path}}
    assert read_current_group(cache, "eeg", manifest=m).path == group.path
