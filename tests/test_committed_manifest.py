"""The committed data_manifest.yaml describes exactly what `cli synth demo --out data/demo` writes."""

from pathlib import Path

import yaml

from pipeline.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]


def test_committed_manifest_matches_the_demo_generator(tmp_path: Path) -> None:
    from pipeline.synth.demo import generate_demo

    generated = yaml.safe_load(generate_demo(tmp_path / "demo").read_text())
    committed = yaml.safe_load((REPO / "data_manifest.yaml").read_text())
    assert committed["cache"] == "data/demo/cache.zarr"
    assert committed["label_scales"] == generated["label_scales"]
    (ds,) = committed["datasets"]
    assert ds["root"] == "data/demo"
    assert ds["recordings"] == generated["datasets"][0]["recordings"]
    # and it validates structurally from the repository root (files exist only after `make demo`)
    manifest = load_manifest(REPO / "data_manifest.yaml", check_files=False)
    assert len(manifest.recordings) == 24 and manifest.cache == REPO / "data" / "demo" / "cache.zarr"
