"""Scale-out and crash safety: a real distributed cluster, SIGKILL and resume, concurrent writers."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.cache import FeatureCache
from pipeline.manifest import load_manifest
from pipeline.run import RunOptions, extract
from tests.conftest import write_eeg_edf, write_manifest

REPO = Path(__file__).resolve().parents[2]


def _dataset(root: Path, n: int, seconds: float = 6.0) -> Path:
    recs = []
    for i in range(n):
        write_eeg_edf(root / "eeg" / f"r{i:02d}.edf", seconds=seconds, seed=i)
        recs.append({"id": f"r{i:02d}", "subject": f"s{i % 4}", "modalities": {"eeg": {"path": f"eeg/r{i:02d}.edf"}}})
    return write_manifest(root / "data_manifest.yaml", recs)


def _arrays(cache_dir: Path | str) -> dict:
    cache = FeatureCache(cache_dir)
    (group,) = cache.groups()
    return {k: cache.read_entry(group.path, *k).arrays["data"] for k in sorted(cache.complete_entries(group.path))}


def _assert_same_cache(location: Path | str, expected: dict) -> None:
    """Every entry of the clean run is complete here with identical arrays, and nothing else is."""
    got = _arrays(location)
    assert got.keys() == expected.keys()
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k])


def _extract_cmd(manifest: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "cli.py"), "extract", "eeg", "--manifest", str(manifest),
            "--cache", str(cache), "--scheduler", "sync", *extra]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("clean")
    manifest = _dataset(root, 12, seconds=60.0)
    m = load_manifest(manifest)
    extract(m, "eeg", None, RunOptions(cache=str(root / "clean.zarr"), scheduler="sync"))
    return manifest, _arrays(root / "clean.zarr")


def test_distributed_cluster_matches_local_run(clean_run, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    manifest, expected = clean_run
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        summary = extract(load_manifest(manifest), "eeg", None,
                          RunOptions(cache=str(tmp_path / "dist.zarr"), scheduler=cluster.scheduler_address))
    assert (summary.done, summary.failed) == (12, 0)
    _assert_same_cache(tmp_path / "dist.zarr", expected)


def test_sigkill_then_resume_recomputes_nothing_complete(clean_run, tmp_path: Path) -> None:
    manifest, expected = clean_run
    cache_dir = tmp_path / "killed.zarr"
    rng = random.Random(0)
    for _ in range(3):
        proc = subprocess.Popen(_extract_cmd(manifest, cache_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=REPO)
        time.sleep(rng.uniform(2.5, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cache = FeatureCache(cache_dir)
        groups = cache.groups() if cache.exists() else []
        complete = cache.complete_entries(groups[0].path) if groups else {}
        for key in complete:  # everything that looks complete is complete and correct
            np.testing.assert_array_equal(cache.read_entry(groups[0].path, *key).arrays["data"], expected[key])
        if groups:
            assert cache.verify(groups[0].path) == []
    before = len(complete)
    resumed = subprocess.run(_extract_cmd(manifest, cache_dir, "--json"), capture_output=True, text=True, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    import json

    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == before and summary["done"] == 12 - before
    _assert_same_cache(cache_dir, expected)


def test_two_concurrent_writers_share_the_work(clean_run, tmp_path: Path) -> None:
    import json

    manifest, expected = clean_run
    cache_dir = tmp_path / "shared.zarr"
    procs = [subprocess.Popen(_extract_cmd(manifest, cache_dir, "--json"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    summaries = [json.loads(o[0]) for o in outs]
    computed = sum(s["done"] for s in summaries)
    assert computed == 12, summaries  # each entry computed exactly once across the two processes
    _assert_same_cache(cache_dir, expected)
    assert FeatureCache(cache_dir).verify(FeatureCache(cache_dir).groups()[0].path) == []


def test_fsspec_url_store_matches_local_run(clean_run, tmp_path: Path) -> None:
    manifest, expected = clean_run
    url = f"file://{tmp_path}/remote.zarr"
    summary = extract(load_manifest(manifest), "eeg", None, RunOptions(cache=url, scheduler="sync"))
    assert (summary.done, summary.failed) == (12, 0)
    again = extract(load_manifest(manifest), "eeg", None, RunOptions(cache=url, scheduler="sync"))
    assert (again.done, again.skipped) == (0, 12)
    _assert_same_cache(url, expected)
    cache = FeatureCache(url)
    (group,) = cache.groups()
    assert cache.verify(group.path) == [] and cache.size_bytes(group.path) > 0
