"""Library code sets MNE's verbosity per call: a notebook user's own MNE log level survives reading."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.extractors.eeg_extractor import EEGConfig
from pipeline.manifest import load_manifest
from pipeline.run import build_extractor
from pipeline.signal_readers import read_raw


def test_reading_and_extracting_leave_the_users_mne_log_level(eeg_dataset: Path) -> None:
    import mne

    before = mne.get_config("MNE_LOGGING_LEVEL")
    mne.set_log_level("DEBUG")                          # the user's choice, in their notebook
    try:
        rec = load_manifest(eeg_dataset).recordings[0]
        (stream,) = rec.streams_of("eeg")
        read_raw(stream)
        build_extractor("eeg", EEGConfig()).extract(rec, stream)
        assert logging.getLogger("mne").level == logging.DEBUG
        assert mne.get_config("MNE_LOGGING_LEVEL") == before
    finally:
        mne.set_log_level("WARNING")
