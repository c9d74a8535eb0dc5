"""A tiny demo cache for the VATE teacher tests: EEG, random-init ViViT logits, the real VATE heads.

Shared by ``tests/pipeline/test_vate.py`` and ``tests/fusion/test_vate_teacher.py``; runs the real
runner in-process (``scheduler="sync"``) so it is quick on the 2-core CI machine.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.manifest import load_manifest
from pipeline.run import ExtractSummary, RunOptions, extract


def checkpoint(real_data: Path) -> Path:
    """The published VATE checkpoint under ``EEGAVI_DATA`` (never copied into the repo)."""
    return real_data / "vate" / "best_model_contrastive.pt"


def run(manifest: Path, name: str, **config) -> ExtractSummary:
    """One extraction into the manifest's cache, inline; fails the test on any failed recording."""
    from pipeline.extractors.base import get_extractor

    m = load_manifest(manifest)
    summary = extract(m, name, get_extractor(name).config_type(**config),
                      RunOptions(cache=str(m.cache), scheduler="sync", command=f"cli extract {name}"))
    assert summary.failed == 0, summary.failures
    return summary


def vivit_logits(manifest: Path, seed: int = 0) -> ExtractSummary:
    """Random-init tiny ViViT with the classification head: 400 logits per 2 s segment."""
    return run(manifest, "vivit_logits", random_init=True, seed=seed, device="cpu")


def demo_cache(root: Path, ckpt: Path, subjects: int = 1, trials: int = 2, duration_s: float = 4.0) -> Path:
    """The demo dataset with EEG, random-init ViViT logits and the VATE teacher extracted."""
    from pipeline.synth.demo import generate_demo

    manifest = generate_demo(root, subjects=subjects, trials=trials, duration_s=duration_s, seed=3)
    run(manifest, "eeg")
    vivit_logits(manifest)
    run(manifest, "vate", checkpoint=str(ckpt))
    return manifest
