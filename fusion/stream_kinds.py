"""One table of what stage two does per modality kind of a non-EEG stream.

Every such stream is a list of timed items (video segments, audio frames, ECG beats). Cutting them
into windows is the same for all kinds (``fusion.data``: by time, padded to a fixed count with an
availability mask). What differs per kind is in ``STREAM_KINDS`` and nowhere else:

- ``model_arrays``: the per-item arrays the model reads, from a cache entry's arrays (ECG adds its
  per-beat RR interval, heart rate and quality as one ``feats`` array);
- ``stat_axes``: how each array is z-scored on the training side (``fusion.normalise``): per
  feature over items (axis 0; video tokens per token position and dimension, because a frozen
  encoder spreads a simple factor over a few low-variance dimensions), or one scalar over every
  value (ECG beat samples share one unit);
- ``stored_dtype``: the dtype a normalised array is kept in between batches (video tokens in
  float16: they are the bulk of the memory).

EEG is not here: it is a continuous signal sliced by samples and z-scored per subject. The model's
encoder per kind is ``fusion.model.ENCODERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline.errors import CacheError

ECG_BEAT_FEATURES = ("rr_s", "hr_bpm", "quality")


@dataclass(frozen=True)
class StreamKind:
    """Per-kind behaviour of one non-EEG modality (see the module doc)."""

    model_arrays: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    stat_axes: dict[str, int | None]                       # key -> 0 (per feature) | None (one scalar)
    stored_dtype: dict[str, type] = field(default_factory=dict)  # key -> dtype; float32 when absent

    def dtype(self, key: str) -> type:
        """The dtype normalised ``key`` arrays are kept in."""
        return self.stored_dtype.get(key, np.float32)


def beat_features(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """(B, 3) per-beat RR interval, heart rate, quality (zeros where a column is absent)."""
    n = len(arrays["beats"])
    cols = [np.asarray(arrays.get(k, np.zeros(n)), np.float32).reshape(n) for k in ECG_BEAT_FEATURES]
    return np.stack(cols, axis=1) if n else np.zeros((0, len(ECG_BEAT_FEATURES)), np.float32)


STREAM_KINDS: dict[str, StreamKind] = {
    "video": StreamKind(lambda a: {"tokens": a["tokens"]}, {"tokens": 0}, {"tokens": np.float16}),
    "audio": StreamKind(lambda a: {"frames": a["frames"]}, {"frames": 0}),
    "ecg": StreamKind(lambda a: {"beats": a["beats"], "feats": beat_features(a)}, {"beats": None, "feats": 0}),
}


def stream_kind(kind: str, stream: str) -> StreamKind:
    """The table entry for ``kind``; an unknown kind is an error naming the stream and the known kinds."""
    try:
        return STREAM_KINDS[kind]
    except KeyError:
        raise CacheError(f"stream '{stream}': modality kind '{kind}' has no fusion input adapter "
                         f"(known: {sorted(STREAM_KINDS)}). Drop it from --modalities or add it to "
                         "fusion/stream_kinds.py.") from None
