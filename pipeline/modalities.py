"""The modalities a manifest may hold and the extractor each one gets by default.

One table for everyone who needs it: ``cli extract all`` runs these, and stage two names them in
the ``cli extract ...`` command that rebuilds a missing group. It lives apart from the extractor
registry because stage two must be able to read it without importing any extractor.
"""

from __future__ import annotations

from pipeline.errors import ConfigError

# Order matters: `cli extract all` runs the modalities in this order (cheap ones first).
DEFAULT_EXTRACTORS: dict[str, str] = {"eeg": "eeg", "ecg": "ecg", "audio": "audio", "video": "vivit"}


def default_extractor(modality: str) -> str:
    """The registry name of the extractor a modality gets when none is chosen."""
    try:
        return DEFAULT_EXTRACTORS[modality]
    except KeyError:
        raise ConfigError(f"unknown modality '{modality}'. Known modalities: "
                          f"{', '.join(DEFAULT_EXTRACTORS)}.") from None

# Groups stage two reads only when pinned by name (``--extractors eeg:eeg-bands``), never as a
# modality's default input: windowed features (band DE per window, not a continuous signal) and
# classifier logits (the VATE teacher's input, not the encoder tokens the fusion model reads).
NOT_DEFAULT_INPUTS = frozenset({"eeg-bands", "vivit_logits", "timesformer_logits"})

# Derived teacher groups (``pipeline.derived``) live under their own cache modality, so they never
# stand in for a modality's input. Stage two's ``--teacher NAME:PART`` reads, per teacher NAME and
# PART, the array of targets (S, D) and its per-row validity (None: every row is valid).
TEACHER_MODALITY = "teacher"
DERIVED_TEACHERS: dict[str, dict[str, tuple[str, str | None]]] = {
    "vate": {"video": ("vate_video", None), "audio": ("vate_audio", "audio_valid")},
}
