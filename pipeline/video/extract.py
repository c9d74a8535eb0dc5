"""One recording's video to compact tokens: plan, decode in the background, encode in batches.

The decode thread turns the sampling plan into normalised pixel batches ``(B, frames, 3, H, W)``
while the main thread runs the encoder on the previous batch; compaction happens on the device
right after the forward pass, so only ``(B, 1 + T, D)`` tokens ever come back to host memory.
Forward passes go through the encoder's ``ForwardBatcher``: when several threads extract at once
(``--workers N``), their batches share passes of up to ``batch_size`` clips; alone, a batch runs as is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import av
import numpy as np
import torch

from pipeline.errors import ExtractionError
from pipeline.features import FeatureArrays
from pipeline.manifest import Stream
from pipeline.video.compact import TokenLayout, compact_tokens, keep_indices, projection_matrix
from pipeline.video.video_config import VideoConfig
from pipeline.video.decode import VideoIndex, convert_frame, iter_clips, probe_video
from pipeline.video.encoders import LoadedEncoder
from pipeline.video.face_crop import face_converter, plan_face_track, track_arrays
from pipeline.video.prefetch import prefetch
from pipeline.video.preprocess import PreprocessSpec
from pipeline.video.segments import plan_segments, sample_frames

_log = logging.getLogger(__name__)
_FP16_MAX = 65504.0


def plan_stream(stream: Stream, cfg: VideoConfig, frames: int) -> tuple[VideoIndex, np.ndarray, np.ndarray]:
    """Index the file and plan it: (index, segment intervals (S, 2) on the recording clock, frames (S, n))."""
    index = probe_video(stream.path)
    offset, duration = stream_clock(stream, index)
    crop = stream.options.get("crop_s")
    intervals = plan_segments(offset, duration, cfg.segment_s, cfg.min_coverage)
    if crop is not None and len(intervals):
        intervals = intervals[intervals[:, 1] > stream.offset_s]
        intervals[:, 0] = np.maximum(intervals[:, 0], stream.offset_s)
    if len(intervals) == 0:
        raise ExtractionError(f"{stream.path}: the whole video ({index.duration_s:.2f} s at offset_s "
                              f"{stream.offset_s} s) lies before the recording starts. Fix offset_s in the manifest.")
    return index, intervals, sample_frames(index.times_s, intervals, offset, frames)


def stream_clock(stream: Stream, index: VideoIndex) -> tuple[float, float]:
    """(offset_s placing file time 0 on the recording clock, seconds of the file that count)."""
    crop = stream.options.get("crop_s")
    if crop is None:
        return stream.offset_s, index.duration_s
    # file time crop[0] is the stream's time 0 (a camera started before the trial)
    t0, t1 = _crop_span(crop, index.duration_s, stream)
    return stream.offset_s - t0, t1


def _crop_span(crop, duration_s: float, stream: Stream) -> tuple[float, float]:
    try:
        t0, t1 = float(crop[0]), float(crop[1])
    except (TypeError, ValueError, IndexError):
        raise ExtractionError(f"{stream.path}: options.crop_s must be [start_s, end_s], got {crop!r}.") from None
    if not 0 <= t0 < t1 or t0 >= duration_s:
        raise ExtractionError(f"{stream.path}: options.crop_s [{t0}, {t1}] is outside the video's 0-{duration_s:.2f} s. "
                              "Fix the trial span in the manifest.")
    return t0, min(t1, duration_s)


def pixel_batches(index: VideoIndex, frame_idx: np.ndarray, spec: PreprocessSpec, batch_size: int,
                  convert: Callable[[av.VideoFrame], np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Normalised batches ``(B, frames, 3, H, W)`` float32 in segment order (last one may be short).

    ``convert`` turns a decoded frame into the model's input (default: resize + centre crop).
    """
    pending: list[np.ndarray] = []
    for _, clip in iter_clips(index, frame_idx, convert or partial(convert_frame, spec=spec)):
        pending.append(clip)
        if len(pending) == batch_size:
            yield spec.normalise(np.stack(pending))
            pending = []
    if pending:
        yield spec.normalise(np.stack(pending))


def extract_video(encoder: LoadedEncoder, cfg: VideoConfig, stream: Stream) -> FeatureArrays:
    """One video stream's segments ``(S, 2)`` and, by the encoder's head, compact tokens
    ``(S, 1 + T, D)`` float16 (head "tokens") or class logits ``(S, C)`` float32 (head "logits")."""
    layout = encoder.layout
    index, intervals, frame_idx = plan_stream(stream, cfg, layout.frames)
    if encoder.head == "logits":
        key, post = "logits", _logits_to_host
    else:
        keep = keep_indices(layout.units, cfg.keep_tokens)
        projection = projection_matrix(layout.dim, cfg.project_dim, cfg.seed) if cfg.project_dim else None
        key, post = "tokens", partial(_tokens_to_host, layout=layout, keep=keep, projection=projection)
    convert, faces = None, {}
    if cfg.face_crop:  # detection pass first: the smoothed track needs frames after each one too
        track = plan_face_track(index, frame_idx, cfg)
        convert = face_converter(index, track, encoder.preprocess)
        faces = track_arrays(index, track, frame_idx, stream_clock(stream, index)[0])
    out: list[np.ndarray] = []
    batches = pixel_batches(index, frame_idx, encoder.preprocess, cfg.batch_size, convert)
    batcher = encoder.batcher(cfg.batch_size)  # merges with other threads' batches (--workers N)
    with batcher.session():
        for pixels in prefetch(batches, cfg.prefetch):
            out.append(post(batcher.run(pixels)))
    values = np.concatenate(out, axis=0)
    if len(values) != len(intervals):  # iter_clips raises first; this guards the contract
        raise ExtractionError(f"{stream.path}: decoded {len(values)} of {len(intervals)} segments. "
                              "Re-encode the file.")
    _log.debug("%s: %d segments, %s %s", stream.path, len(values), key, values.shape)
    return FeatureArrays(times_s=intervals, arrays={key: values, **faces}, attrs=_entry_attrs(index, stream))


def _tokens_to_host(hidden: torch.Tensor, layout: TokenLayout, keep: np.ndarray, projection: np.ndarray | None) -> np.ndarray:
    """Compact on the device, then float16 on the host: ``(B, 1 + K * tokens_per_unit, D or d)``."""
    tokens = compact_tokens(hidden, layout, keep, projection)
    # clamp: a rare outlier activation beyond fp16's range would otherwise be stored as inf
    return tokens.clamp(-_FP16_MAX, _FP16_MAX).to(torch.float16).cpu().numpy()


def _logits_to_host(logits: torch.Tensor) -> np.ndarray:
    """Logits ``(B, C)`` stay float32: they are few, and a softmax over them is sensitive to rounding."""
    return logits.float().cpu().numpy()


def _entry_attrs(index: VideoIndex, stream: Stream) -> dict[str, Any]:
    """Per-recording facts: what the source looked like and where it sits on the clock."""
    fps = (len(index.times_s) - 1) / index.times_s[-1] if len(index.times_s) > 1 and index.times_s[-1] > 0 else None
    return {"source_width": index.width, "source_height": index.height, "source_codec": index.codec,
            "source_frames": int(len(index.times_s)), "source_duration_s": round(index.duration_s, 6),
            "source_fps": None if fps is None else round(float(fps), 4), "offset_s": stream.offset_s}
