"""From raw per-frame face boxes to the crop boxes the encoder sees: smooth, interpolate, fall back, square.

Pure numpy, no decoding. Boxes are ``x0, y0, x1, y1`` in pixels of the displayed source frame.
Why each step:
- a Haar cascade's boxes jitter by a few pixels from frame to frame and now and then miss; a
  centred moving median of the box centre and side over ``window`` detections removes both the
  jitter and single wrong boxes, without the lag of a one-sided filter;
- detection may run on every k-th sampled frame only (it is the costly part); the frames between
  get the box linearly interpolated between their detected neighbours;
- a frame without a face keeps the last good box for ``hold_s`` seconds (a turned head, a blink of
  the detector), then falls back to the full frame, i.e. the encoder's usual centre square, and the
  entry flags which of the three each frame got (``FOUND``, ``HELD``, ``FULL``);
- the crop is a square (the encoders' inputs are square) of the box's side plus ``margin`` of it on
  every side, shifted to lie inside the frame, so it never needs padding.
"""

from __future__ import annotations

import numpy as np

FOUND, HELD, FULL = 0, 1, 2  # per-frame face_fallback flag values


def smooth_boxes(raw: np.ndarray, window: int) -> np.ndarray:
    """Centred moving median of centre and side over ``window`` rows of ``raw (n, 4)``; NaN rows stay NaN."""
    if window <= 1 or len(raw) == 0:
        return raw.copy()
    cx, cy = (raw[:, 0] + raw[:, 2]) / 2, (raw[:, 1] + raw[:, 3]) / 2
    side = np.maximum(raw[:, 2] - raw[:, 0], raw[:, 3] - raw[:, 1])
    feats = np.stack([cx, cy, side], axis=1)  # (n, 3)
    half = window // 2
    padded = np.pad(feats, ((half, window - 1 - half), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # (n, 3, window)
    found = ~np.isnan(raw[:, 0])
    med = np.full_like(feats, np.nan)
    if found.any():
        med[found] = np.nanmedian(windows[found], axis=2)
    return _from_centre(med[:, 0], med[:, 1], med[:, 2])


def _from_centre(cx: np.ndarray, cy: np.ndarray, side: np.ndarray) -> np.ndarray:
    half = side / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


def interpolate_boxes(det_times: np.ndarray, det_boxes: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Boxes ``(m, 4)`` at ``times (m,)`` from boxes at sorted detection times ``(n,)``.

    A time between two detections that both found a face gets the linear interpolation of the two
    boxes; otherwise it takes the previous detection's row (NaN when that one found none), or the
    first detection's before it.
    """
    prev = np.clip(np.searchsorted(det_times, times, side="right") - 1, 0, len(det_times) - 1)
    nxt = np.minimum(prev + 1, len(det_times) - 1)
    out = det_boxes[prev].copy()
    span = det_times[nxt] - det_times[prev]
    between = (span > 0) & (times > det_times[prev])
    both = between & ~np.isnan(det_boxes[prev, 0]) & ~np.isnan(det_boxes[nxt, 0])
    w = ((times - det_times[prev]) / np.where(span > 0, span, 1.0))[both, None]
    out[both] = (1 - w) * det_boxes[prev][both] + w * det_boxes[nxt][both]
    return out


def fill_gaps(times: np.ndarray, boxes: np.ndarray, hold_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Replace NaN rows by the last good box up to ``hold_s`` after it; the rest stay NaN (full frame).

    Returns the boxes ``(n, 4)`` and the flags ``(n,)`` int8 (FOUND, HELD or FULL).
    """
    out = boxes.copy()
    flags = np.full(len(boxes), FOUND, dtype=np.int8)
    last: int | None = None
    for i in range(len(boxes)):
        if not np.isnan(boxes[i, 0]):
            last = i
        elif last is not None and times[i] - times[last] <= hold_s + 1e-9:
            out[i], flags[i] = boxes[last], HELD
        else:
            flags[i] = FULL
    return out, flags


def square_crops(boxes: np.ndarray, flags: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """Integer square crop boxes ``(n, 4)`` inside a ``width`` x ``height`` frame.

    A face box grows by ``margin`` of its side on every side; a FULL row gets the frame's centre
    square (what the encoder sees without face cropping). A square larger than the frame's short
    side shrinks to it; one that sticks out is shifted back inside.
    """
    short = min(width, height)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * (1 + 2 * margin)
    full = flags == FULL
    cx, cy, side = np.where(full, width / 2, cx), np.where(full, height / 2, cy), np.where(full, short, side)
    side = np.clip(np.round(side), 2, short)
    x0 = np.clip(np.round(cx - side / 2), 0, width - side)
    y0 = np.clip(np.round(cy - side / 2), 0, height - side)
    return np.stack([x0, y0, x0 + side, y0 + side], axis=1).astype(np.int32)


def face_track(det_times: np.ndarray, raw: np.ndarray, times: np.ndarray, *, window: int, hold_s: float,
               margin: float, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole recipe: crop boxes ``(m, 4)`` int32 and flags ``(m,)`` int8 at sorted ``times``
    from raw detections ``(n, 4)`` (NaN: no face) at sorted ``det_times`` (a subset of ``times``)."""
    smooth = smooth_boxes(raw, window)
    boxes, flags = fill_gaps(times, interpolate_boxes(det_times, smooth, times), hold_s)
    return square_crops(boxes, flags, margin, width, height), flags
