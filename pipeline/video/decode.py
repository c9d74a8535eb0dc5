"""PyAV decoding: index a video's frame timestamps, then decode only the frames a plan needs.

Two passes, both streaming. ``probe_video`` reads packets without decoding them (cheap) to get
every frame's presentation time, so sampling is exact for variable frame rates and known before
any pixel is decoded. ``iter_clips`` then seeks to the first needed frame, decodes forward, and
converts (resize in the decoder, rotate, crop) only the sampled frames; it stops after the last
one. Memory holds one segment's frames at model resolution, whatever the video's length.

Video time 0 is the first frame's presentation time; ``offset_s`` puts it on the recording clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from pipeline.errors import ExtractionError
from pipeline.video.preprocess import PreprocessSpec

_log = logging.getLogger(__name__)
_FIX = "Re-encode it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4) or remove the stream from the manifest"


@dataclass(frozen=True)
class VideoIndex:
    """Frame timestamps of a video stream. pts: (N,) int, sorted; times_s: (N,) seconds from frame 0."""

    path: Path
    pts: np.ndarray
    times_s: np.ndarray
    duration_s: float
    width: int
    height: int
    codec: str


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except FileNotFoundError as e:
        raise ExtractionError(f"{path}: file not found. Fix the manifest path.") from e
    except (av.FFmpegError, OSError) as e:
        raise ExtractionError(f"{path}: unreadable video ({e.__class__.__name__}: not a valid or complete "
                              f"container). {_FIX}.") from e


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    if not container.streams:
        raise ExtractionError(f"{path}: empty container with no streams (a zero-length video). {_FIX}.")
    if not container.streams.video:
        raise ExtractionError(f"{path}: no video stream (only {len(container.streams)} other stream(s)). "
                              "Point the manifest's video stream at a file with video.")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise ExtractionError(f"{path}: unsupported video codec (this FFmpeg build has no decoder for it). {_FIX}.")
    return stream


def probe_video(path: Path) -> VideoIndex:
    """Index frame timestamps by demuxing (no decoding). Raises ExtractionError on bad input."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        pts, durations = [], []
        try:
            for packet in container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None or packet.size == 0:
                    continue
                pts.append(int(stamp))
                durations.append(int(packet.duration or 0))
        except av.FFmpegError as e:
            raise ExtractionError(f"{path}: corrupt or truncated video ({e}). {_FIX}.") from e
        if not pts:
            raise ExtractionError(f"{path}: zero-length video (no frames). {_FIX}.")
        expected = stream.frames
        if expected and len(pts) < expected:
            raise ExtractionError(f"{path}: truncated video: the header lists {expected} frames but only "
                                  f"{len(pts)} can be read. {_FIX}.")
        return _index(path, stream, np.asarray(pts, dtype=np.int64), np.asarray(durations, dtype=np.int64))
    finally:
        container.close()


def _index(path: Path, stream: av.VideoStream, pts: np.ndarray, durations: np.ndarray) -> VideoIndex:
    order = np.argsort(pts, kind="stable")
    pts, durations = pts[order], durations[order]
    keep = np.concatenate([[True], np.diff(pts) > 0])  # duplicate timestamps: first one wins
    pts, durations = pts[keep], durations[keep]
    tb = float(stream.time_base)
    times = (pts - pts[0]) * tb
    if durations[-1] > 0:
        last = durations[-1] * tb
    elif len(times) > 1:
        last = float(np.median(np.diff(times)))
    else:
        last = 1.0 / float(stream.average_rate or 25)
    codec = stream.codec_context.name
    return VideoIndex(path=path, pts=pts, times_s=times, duration_s=float(times[-1] + last),
                      width=stream.codec_context.width, height=stream.codec_context.height, codec=codec)


def convert_frame(frame: av.VideoFrame, spec: PreprocessSpec) -> np.ndarray:
    """Displayed, resized, centre-cropped RGB frame ``(H, W, 3)`` uint8 at the model's input size.

    The resize runs in FFmpeg at the frame's stored orientation; the display-matrix rotation
    (phones) is applied afterwards with ``np.rot90`` on the small frame.
    """
    quarter_turns = int(round(frame.rotation / 90)) % 4  # counterclockwise, as FFmpeg defines it
    shown_h, shown_w = (frame.height, frame.width) if quarter_turns % 2 == 0 else (frame.width, frame.height)
    out_h, out_w = spec.resize_to(shown_h, shown_w)
    dec_w, dec_h = (out_w, out_h) if quarter_turns % 2 == 0 else (out_h, out_w)
    rgb = frame.reformat(width=dec_w, height=dec_h, format="rgb24", interpolation="BILINEAR").to_ndarray()
    if quarter_turns:
        rgb = np.rot90(rgb, quarter_turns)
    rows, cols = spec.crop_box(out_h, out_w)
    return np.ascontiguousarray(rgb[rows, cols])


def decode_frames(index: VideoIndex, wanted: np.ndarray,
                  convert: Callable[[av.VideoFrame], np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, converted frame)`` for the sorted unique indices in ``wanted``."""
    path = index.path
    rank_of = {int(p): i for i, p in enumerate(index.pts)}
    todo = set(int(i) for i in wanted)
    last = int(wanted[-1])
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"  # FFmpeg's own frame threads
        if wanted[0] > 0:
            container.seek(int(index.pts[wanted[0]]), stream=stream, backward=True)
        for frame in container.decode(stream):
            rank = rank_of.get(frame.pts) if frame.pts is not None else None
            if rank is None:
                continue
            if rank in todo:
                todo.discard(rank)
                yield rank, convert(frame)
            if rank >= last:
                break
    except av.FFmpegError as e:
        raise ExtractionError(f"{path}: corrupt or truncated video, decoding failed ({e}). {_FIX}.") from e
    finally:
        container.close()
    if todo:
        missing = index.times_s[min(todo)]
        raise ExtractionError(f"{path}: corrupt or truncated video: the frame at {missing:.3f} s could not be "
                              f"decoded. {_FIX}.")


def iter_clips(index: VideoIndex, frame_idx: np.ndarray,
               convert: Callable[[av.VideoFrame], np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(segment, clip uint8 (n, H, W, 3))`` in segment order for a sampling plan ``(S, n)``.

    Sample indices never decrease across segments, so the clip fills as frames stream by and is
    handed over as soon as its last frame is decoded; a frame sampled twice is converted once.
    """
    n = frame_idx.shape[1]
    flat = frame_idx.reshape(-1)
    pos = 0
    clip: np.ndarray | None = None
    for rank, rgb in decode_frames(index, np.unique(flat), convert):
        while pos < len(flat) and flat[pos] == rank:
            seg, k = divmod(pos, n)
            if k == 0:
                clip = np.empty((n, *rgb.shape), dtype=np.uint8)
            clip[k] = rgb
            pos += 1
            if k == n - 1:
                yield seg, clip
