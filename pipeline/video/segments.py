"""Segments on the recording clock and the frames sampled in each: pure numpy, no decoding.

Segments sit on a fixed grid of the recording clock, ``[k * segment_s, (k + 1) * segment_s)``, so
video segments of every recording line up with each other and with EEG windows cut by time. A
segment is the part of a grid cell that the video covers (it starts at ``offset_s``, lasts
``duration_s``, and nothing before recording time 0 counts). A partly covered cell (the first one
when ``offset_s`` is not on the grid, the last one of most videos) is kept with its TRUE, shorter
interval when the video covers at least ``min_coverage`` of a full segment, and dropped otherwise.
A video shorter than that still gives one segment: its longest covered cell.

Frames are sampled uniformly in time inside each segment: sample ``k`` of ``n`` is the frame on
screen at ``start + (k + 0.5) * length / n``, i.e. the last frame whose timestamp is not after
it. Working with timestamps, not frame counts, makes variable-frame-rate video come out right.
"""

from __future__ import annotations

import math

import numpy as np

_EPS_S = 1e-9  # absorbs float rounding of timestamps that sit exactly on a sample time


def plan_segments(offset_s: float, duration_s: float, segment_s: float, min_coverage: float) -> np.ndarray:
    """Segment intervals ``(S, 2)`` [start, end) in recording seconds; empty when nothing is visible.

    ``offset_s`` places video time 0 on the recording clock (it may be negative: the part before
    recording time 0 is ignored); ``duration_s`` is the video's length on its own clock.
    """
    start = max(0.0, offset_s)
    end = offset_s + duration_s
    if not end > start:
        return np.zeros((0, 2), dtype=np.float64)
    first = math.floor(start / segment_s + _EPS_S)
    last = math.ceil(end / segment_s - _EPS_S)
    cells = np.arange(first, max(last, first + 1), dtype=np.float64)
    lo = np.maximum(cells * segment_s, start)
    hi = np.minimum((cells + 1) * segment_s, end)
    intervals = np.stack([lo, hi], axis=1)
    intervals = intervals[hi - lo > 0]
    keep = (intervals[:, 1] - intervals[:, 0]) >= min_coverage * segment_s - _EPS_S
    if keep.any():
        return intervals[keep]
    longest = int(np.argmax(intervals[:, 1] - intervals[:, 0]))
    return intervals[longest:longest + 1]


def sample_times(intervals: np.ndarray, n: int) -> np.ndarray:
    """Sample times ``(S, n)`` in the same clock as ``intervals``: n uniform midpoints per segment."""
    k = (np.arange(n, dtype=np.float64) + 0.5) / n
    length = intervals[:, 1:2] - intervals[:, 0:1]
    return intervals[:, 0:1] + k[None, :] * length


def frames_at(frame_times_s: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each time: the last frame with timestamp <= t (clipped to 0).

    ``frame_times_s`` must be sorted (presentation order); the result has the shape of ``times_s``.
    """
    idx = np.searchsorted(frame_times_s, times_s + _EPS_S, side="right") - 1
    return np.clip(idx, 0, len(frame_times_s) - 1)


def sample_frames(frame_times_s: np.ndarray, intervals: np.ndarray, offset_s: float, n: int) -> np.ndarray:
    """Frame indices ``(S, n)`` sampled per segment; ``intervals`` on the recording clock."""
    return frames_at(frame_times_s, sample_times(intervals, n) - offset_s)
