"""``--face-crop``: find the face in the frames the encoder samples and feed it a square crop of it.

Two decoding passes over the sampled frames, both streaming. The first decodes the detection
frames (every ``face_every``-th unique sampled frame) as small grayscale images, runs the
detector and turns its boxes into a crop box per sampled frame (``face_track``: smoothing needs
the boxes after a frame as well as before, so the track must exist before any crop is made). The
second is the encoder's usual decode, except that each frame is cropped at full resolution to its
box and resized to the encoder's input, instead of resized first and centre-cropped.

The entry stores the track: per segment and sampled frame the frame's time, the crop box and how
it was found (``face_track.FOUND``, ``HELD`` or ``FULL``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import av
import numpy as np

from pipeline.video.decode import VideoIndex, decode_frames
from pipeline.video.face_track import FULL, face_track
from pipeline.video.faces import FaceDetector, detect_track
from pipeline.video.preprocess import PreprocessSpec
from pipeline.video.video_config import VideoConfig

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceTrack:
    """Crop boxes of the unique sampled frames. ranks: (m,) frame indices, sorted; boxes: (m, 4)
    int32 x0, y0, x1, y1 in displayed source pixels; flags: (m,) int8 FOUND / HELD / FULL."""

    ranks: np.ndarray
    boxes: np.ndarray
    flags: np.ndarray

    def per_sample(self, frame_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``(S, n, 4)`` and flags ``(S, n)`` of a sampling plan ``frame_idx (S, n)``."""
        pos = np.searchsorted(self.ranks, frame_idx)
        return self.boxes[pos], self.flags[pos]


def _shown_size(frame: av.VideoFrame) -> tuple[int, int, int]:
    """(quarter turns, displayed height, displayed width): phones store rotated frames."""
    turns = int(round(frame.rotation / 90)) % 4
    return (turns, frame.height, frame.width) if turns % 2 == 0 else (turns, frame.width, frame.height)


def _displayed(frame: av.VideoFrame, fmt: str, max_height: int | None = None) -> np.ndarray:
    """The frame as shown (display-matrix rotation applied), optionally downscaled to <= max_height rows."""
    turns, shown_h, shown_w = _shown_size(frame)
    scale = 1.0 if max_height is None else min(1.0, max_height / shown_h)
    out_h, out_w = max(1, round(shown_h * scale)), max(1, round(shown_w * scale))
    dec_w, dec_h = (out_w, out_h) if turns % 2 == 0 else (out_h, out_w)
    image = frame.reformat(width=dec_w, height=dec_h, format=fmt, interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def detection_frame(frame: av.VideoFrame, max_height: int) -> tuple[np.ndarray, int, int]:
    """(grayscale frame downscaled in the decoder, displayed height, displayed width) for the detector."""
    _, shown_h, shown_w = _shown_size(frame)
    return _displayed(frame, "gray", max_height), shown_h, shown_w


def plan_face_track(index: VideoIndex, frame_idx: np.ndarray, cfg: VideoConfig) -> FaceTrack:
    """Detect, smooth, interpolate and fall back: the crop box of every unique frame in ``frame_idx``."""
    ranks = np.unique(frame_idx)
    detect_ranks = ranks[::cfg.face_every]
    if detect_ranks[-1] != ranks[-1]:  # end on a detection, so the last frames interpolate, not hold
        detect_ranks = np.append(detect_ranks, ranks[-1])
    detector = FaceDetector(name=cfg.face_detector)
    small = partial(detection_frame, max_height=detector.detect_height)
    decoded = [d for _, d in decode_frames(index, detect_ranks, small)]
    grays = [g for g, _, _ in decoded]
    _, height, width = decoded[0]
    raw = detect_track(detector, grays)
    raw *= height / grays[0].shape[0]  # detection pixels -> source pixels
    boxes, flags = face_track(index.times_s[detect_ranks], raw, index.times_s[ranks], window=cfg.face_smooth,
                              hold_s=cfg.face_hold_s, margin=cfg.face_margin, width=width, height=height)
    _log.debug("%s: face in %.0f%% of %d sampled frames (%d detections)", index.path,
               100 * float(np.mean(flags != FULL)), len(ranks), len(detect_ranks))
    return FaceTrack(ranks=ranks, boxes=boxes, flags=flags)


def face_converter(index: VideoIndex, track: FaceTrack, spec: PreprocessSpec) -> Callable[[av.VideoFrame], np.ndarray]:
    """A ``decode_frames`` converter: full-resolution frame -> its crop box -> the encoder's input size."""
    import cv2

    box_of = {int(index.pts[r]): b for r, b in zip(track.ranks, track.boxes)}

    def convert(frame: av.VideoFrame) -> np.ndarray:
        x0, y0, x1, y1 = box_of[frame.pts]
        rgb = _displayed(frame, "rgb24")[y0:y1, x0:x1]
        return cv2.resize(rgb, (spec.crop[1], spec.crop[0]), interpolation=cv2.INTER_AREA)

    return convert


def track_arrays(index: VideoIndex, track: FaceTrack, frame_idx: np.ndarray, offset_s: float) -> dict[str, np.ndarray]:
    """The entry's face arrays: ``face_time (S, n)`` s, ``face_box (S, n, 4)`` px, ``face_fallback (S, n)``."""
    boxes, flags = track.per_sample(frame_idx)
    return {"face_time": index.times_s[frame_idx] + offset_s, "face_box": boxes, "face_fallback": flags}


FACE_DIMS = {"face_time": ("time", "frame"), "face_box": ("time", "frame", "corner"),
             "face_fallback": ("time", "frame")}
FACE_UNITS = {"face_time": "s", "face_box": "px", "face_fallback": "1"}
FACE_COORDS = {"corner": ["x0", "y0", "x1", "y1"]}
