"""Time on the recording clock: which point-timed events fall in which windows.

Every cached array carries times in seconds on its recording's clock; stage two cuts windows by
time. This is the one helper both stages use to map point events (R-peaks, segment starts) to
``[start, end)`` windows.
"""

from __future__ import annotations

import numpy as np


def events_in_windows(event_times_s: np.ndarray, windows_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which events fall in each window: ``event_times_s[start[w]:stop[w]]`` lies in [t0, t1).

    ``event_times_s``: (B,) sorted event times (R-peaks, frame starts, ...); ``windows_s``: (W, 2) ``[start, end)`` intervals on
    the same clock. Returns (start, stop), each (W,) int64; ``stop - start`` is the event count.
    Vectorised with ``searchsorted``: O(W log B), no Python loop.
    """
    t = np.asarray(event_times_s, dtype=np.float64)
    w = np.asarray(windows_s, dtype=np.float64).reshape(-1, 2)
    start = np.searchsorted(t, w[:, 0], side="left")
    stop = np.maximum(np.searchsorted(t, w[:, 1], side="left"), start)
    return start.astype(np.int64), stop.astype(np.int64)
