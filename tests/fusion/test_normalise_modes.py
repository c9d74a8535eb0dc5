"""``--normalise subject|baseline`` remove per-subject / per-recording offsets and gains that the
training-side statistics cannot remove for an unseen test subject."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.data import RecordingFeatures
from fusion.normalise import Normaliser, fit_normaliser
from pipeline.errors import ConfigError
from pipeline.manifest import Recording

N = 512


def _recording(subject: str, trial: int, label: int, offset: float, gain: float,
               rng: np.random.Generator) -> tuple[RecordingFeatures, np.ndarray]:
    """Channel 0 carries the planted signal (+1 high, -1 low) on top of unit noise; the person (or
    the session) adds ``offset`` and multiplies by ``gain``. Returns the recording and its baseline
    segment (the same person and session, no stimulus)."""
    rec = Recording(id=f"{subject}_t{trial}", dataset="synthetic", subject=subject, trial=f"t{trial}", streams={},
                    labels={"valence": 7.0 if label else 3.0})
    signal = np.zeros((2, N), np.float32)
    signal[0] = 1.0 if label else -1.0
    eeg = gain * (signal + rng.normal(0, 1, (2, N))) + offset
    base = gain * rng.normal(0, 1, (2, N)) + offset
    return RecordingFeatures(rec=rec, eeg=eeg.astype(np.float32), eeg_t0=0.0, sfreq=128.0,
                             ch_names=("C0", "C1")), base.astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[list[RecordingFeatures], list[RecordingFeatures], dict[str, np.ndarray]]:
    """Three training subjects near offset 0 and a test subject far away (offset 40, gain 5); in the
    test subject, each trial also has its own drift (baseline mode's case)."""
    rng = np.random.default_rng(0)
    train, test, baselines = [], [], {}
    for s, (offset, gain) in enumerate([(0.0, 1.0), (1.0, 1.2), (-1.0, 0.8)]):
        for t in range(6):
            rf, base = _recording(f"S{s}", t, t % 2, offset, gain, rng)
            train.append(rf)
            baselines[rf.rec.id] = base
    for t in range(6):
        rf, base = _recording("T", t, t % 2, 40.0 + 3.0 * t, 5.0, rng)
        test.append(rf)
        baselines[rf.rec.id] = base
    return train, test, baselines


def _decoded(norm: Normaliser, recordings: list[RecordingFeatures]) -> list[int]:
    """The label read back from normalised channel 0 with the rule the planted signal obeys (> 0)."""
    return [int(norm.apply_eeg(rf.rec, rf.eeg)[0].mean() > 0) for rf in recordings]


def _labels(recordings: list[RecordingFeatures]) -> list[int]:
    return [int(rf.rec.labels["valence"] > 5) for rf in recordings]


def test_training_statistics_cannot_remove_an_unseen_subjects_offset(data) -> None:
    train, test, _ = data
    norm = fit_normaliser(train, [None], (), "train", train + test)
    assert _decoded(norm, test) == [1] * 6                               # the offset swamps the signal


def test_subject_statistics_recover_the_planted_signal(data) -> None:
    train, test, _ = data
    norm = fit_normaliser(train, [None], (), "subject", train + test)
    assert "T" in norm.eeg                                                # transductive: the test subject
    assert _decoded(norm, test) == _labels(test)
    assert _decoded(norm, train) == _labels(train)


def test_baseline_statistics_recover_the_signal_under_per_trial_drift(data) -> None:
    train, test, baselines = data
    norm = fit_normaliser(train, [None], (), "baseline", train + test, lambda rec: baselines.get(rec.id))
    assert _decoded(norm, test) == _labels(test)
    z = norm.apply_eeg(test[0].rec, test[0].eeg)
    assert abs(float(z[1].mean())) < 0.2 and float(z[1].std()) == pytest.approx(1.0, abs=0.15)
    restored = Normaliser.from_state(norm.to_state())                     # travels with the checkpoint
    assert _decoded(restored, test) == _labels(test)


def test_baseline_mode_names_recordings_without_a_baseline(data) -> None:
    train, test, baselines = data
    partial = {k: v for k, v in baselines.items() if k != "T_t3"}
    with pytest.raises(ConfigError, match=r"T_t3.*part: baseline"):
        fit_normaliser(train, [None], (), "baseline", train + test, lambda rec: partial.get(rec.id))
