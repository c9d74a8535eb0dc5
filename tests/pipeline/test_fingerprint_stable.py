"""Fingerprints do not move when code moves.

The values below were recorded at commit 9759e75, before issue 12 moved modules into packages. A
group's fingerprint is what keys a cache: if one of these changes, every user's cache of that
extractor is rebuilt. Change a value only together with a deliberate output-version bump, and say
so in docs/cache.md. Library versions are pinned here so the test speaks of eegavi's own inputs
(name, version, config defaults, weights identity), not of what pip installed today.
"""

from __future__ import annotations

import pytest

import pipeline.fingerprint as fingerprint_module
from pipeline.fingerprint import fingerprint
from pipeline.run import build_extractor, plan_identity
from pipeline.video.video_config import VideoConfig

RECORDED = {
    # deliberate bumps, issue 14: eeg 1 -> 2 (source_sfreq is now the file's rate; was 9ece4e2b827e),
    # ecg 1 -> 2 (RMSSD only over truly successive NN intervals; was 752255b9e8b7), audio 1 -> 2
    # (Praat padding fix: frames at 44.1 kHz move slightly; was 638154768c87).
    # Deliberate change, video: group_identity recorded "extractor": "device" for every config with
    # runtime_fields (a loop variable shadowed the name), so the name was missing from the hash;
    # fixed, so each video group's identity names its extractor (was vivit ac34b07870e9,
    # clip 7d82d7028d43, timesformer f4535eba7bfa).
    "eeg": "31bd7635443b", "ecg": "2032f993cb5a", "audio": "ca5a0aa9c64c",
    "vivit": "4822213c850d", "clip": "9078961dd5cb", "timesformer": "c8ff97881a06"}


def test_the_identity_names_its_extractor(pinned_libraries: None) -> None:
    """Configs with runtime fields (video, speech) once recorded the last runtime field's name here."""
    config = VideoConfig(random_init=True, size="tiny", precision="fp32")
    assert plan_identity(build_extractor("vivit", config))["extractor"] == "vivit"


@pytest.fixture
def pinned_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint_module, "library_versions",
                        lambda names: {name: "pinned" for name in sorted(set(names))})


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_fingerprint_equals_value_recorded_before_the_move(name: str, pinned_libraries: None) -> None:
    config = VideoConfig(random_init=True, size="tiny", precision="fp32") if name in ("vivit", "clip", "timesformer") else None
    assert fingerprint(plan_identity(build_extractor(name, config))) == RECORDED[name]
