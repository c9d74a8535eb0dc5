"""One recording's audio to per-segment speech embeddings on the recording clock.

Segments use the video stage's grid (``pipeline.video.segments.plan_segments``): the same
``[k * segment_s, (k + 1) * segment_s)`` cells, partial cells kept with their true interval when
covered enough, so a speech segment and a video segment of a recording carry the same times.
Each segment's 16 kHz audio is encoded on its own; segments of equal length share forward passes.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch

from pipeline.audio.loading import DecodedAudio, crop_audio, load_audio
from pipeline.errors import ExtractionError
from pipeline.features import FeatureArrays
from pipeline.manifest import Stream
from pipeline.speech.encoders import LoadedSpeechEncoder
from pipeline.speech.speech_config import SAMPLE_RATE, SpeechConfig
from pipeline.video.segments import plan_segments

_log = logging.getLogger(__name__)
MIN_SAMPLES = 400   # the CNN front end's receptive field (25 ms): a shorter input yields no frame
_FP16_MAX = 65504.0


def segment_samples(intervals: np.ndarray, offset_s: float, n_samples: int) -> np.ndarray:
    """Sample ranges ``(S, 2)`` [a, b) of each recording-clock interval in a signal starting at ``offset_s``."""
    bounds = np.rint((intervals - offset_s) * SAMPLE_RATE).astype(np.int64)
    return np.clip(bounds, 0, n_samples)


def pool_bins(frames: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, F, D)`` -> ``(B, k, D)``: the mean of each of k equal parts of the frames (a part shorter
    than one frame takes the frame it falls in, so a short last segment still gives k tokens)."""
    f = frames.shape[1]
    edges = np.floor(np.arange(k + 1) * f / k).astype(int)
    parts = [frames[:, lo:max(hi, lo + 1)].mean(dim=1) if lo < f else frames[:, -1]
             for lo, hi in zip(edges[:-1], edges[1:])]
    return torch.stack(parts, dim=1)


def _load(stream: Stream) -> DecodedAudio:
    audio = load_audio(stream.path, stream.format, SAMPLE_RATE, track=int(stream.options.get("audio_track", 0)))
    return crop_audio(audio, stream.options.get("crop_s"), stream.path)


def extract_speech(encoder: LoadedSpeechEncoder, cfg: SpeechConfig, stream: Stream) -> FeatureArrays:
    """``frames`` ``(S, D)`` float32 (mean of the chosen layer over each segment), optional ``tokens``
    ``(S, K, D)`` float16, and segment intervals ``(S, 2)`` for one audio stream."""
    audio = _load(stream)
    intervals = plan_segments(stream.offset_s, audio.duration_s, cfg.segment_s, cfg.min_coverage)
    bounds = segment_samples(intervals, stream.offset_s, len(audio.y))
    keep = (bounds[:, 1] - bounds[:, 0]) >= MIN_SAMPLES
    if not keep.any():
        raise ExtractionError(f"{stream.path}: no audio segment of at least {MIN_SAMPLES / SAMPLE_RATE * 1000:.0f} ms "
                              f"on the recording clock ({audio.duration_s:.3f} s at offset_s {stream.offset_s} s). "
                              "Check the file and offset_s in the manifest.")
    intervals, bounds = intervals[keep], bounds[keep]
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, (a, b) in enumerate(bounds):
        by_length[int(b - a)].append(i)
    means = np.zeros((len(bounds), encoder.dim), np.float32)
    tokens = np.zeros((len(bounds), cfg.tokens, encoder.dim), np.float16) if cfg.tokens else None
    frames_per_segment = 0
    for length, rows in by_length.items():
        for start in range(0, len(rows), cfg.batch_size):
            batch = rows[start:start + cfg.batch_size]
            waves = np.stack([audio.y[bounds[i, 0]:bounds[i, 1]] for i in batch])
            hidden = encoder.embed(waves)                                        # (B, F, D)
            frames_per_segment = max(frames_per_segment, hidden.shape[1])
            means[batch] = hidden.mean(dim=1).cpu().numpy()
            if tokens is not None:
                tokens[batch] = pool_bins(hidden, cfg.tokens).clamp(-_FP16_MAX, _FP16_MAX).to(torch.float16).cpu().numpy()
    arrays = {"frames": means} | ({"tokens": tokens} if tokens is not None else {})
    attrs = {**audio.facts, "sr": SAMPLE_RATE, "duration_s": round(audio.duration_s, 6), "offset_s": stream.offset_s,
             "layer": encoder.layer, "frames_per_segment": frames_per_segment}
    _log.debug("%s: %d segments of %s", stream.path, len(intervals), encoder.encoder)
    # frames (segment, dim): mean hidden state per segment; tokens (segment, token, dim): pooled frames
    dims = {"frames": ("time", "dim"), "tokens": ("time", "token", "dim")}
    return FeatureArrays(times_s=intervals, arrays=arrays, attrs=attrs,
                         dims={k: dims[k] for k in arrays}, units={k: "1" for k in arrays})
