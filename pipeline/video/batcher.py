"""Merge concurrent callers' clip batches into shared forward passes of one encoder.

With ``--workers N`` the runner extracts N recordings at once from threads that share one loaded
encoder. Each recording's last batch (and every batch of a short recording) is usually partly
full, so on a GPU most passes would run well below ``batch_size``. ``ForwardBatcher`` lets the
threads combine: a caller queues its pixels, and whichever caller holds the model next (the
"leader") takes the queued requests first-fit in arrival order, up to ``max_clips`` clips of one
shape, runs ONE forward pass and hands each caller its own rows. There is no extra thread to
start or stop: the model runs on a caller's thread, one pass at a time.

Why this way:
- a lone request is passed to ``forward`` unchanged (no copy, no concatenation), so a single
  caller gets exactly today's batches and bytes;
- the leader waits up to ``linger_s`` for more requests only while some registered caller
  (``session()``) has nothing queued, so ``--workers 1`` never waits;
- every caller blocks on its own request, so at most one batch per caller (and never more than
  ``max_pending``) waits here: memory stays bounded whatever the number of recordings;
- when a merged pass raises, each request is rerun alone, so a bad input fails its own caller
  only and the others complete.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import torch

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatcherStats:
    """Counters since the batcher was made (for tests and logs)."""

    forwards: int = 0          # forward passes that returned
    clips: int = 0             # clips through those passes
    merged: int = 0            # of them, passes holding clips of more than one request
    max_requests: int = 0      # most requests in one of them
    fallbacks: int = 0         # merged passes that raised and were rerun request by request


@dataclass
class _Request:
    pixels: np.ndarray
    future: Future


class ForwardBatcher:
    """Run ``forward`` on merged batches of up to ``max_clips`` clips from concurrent callers."""

    def __init__(self, forward: Callable[[np.ndarray], torch.Tensor], max_clips: int,
                 linger_s: float = 0.005, max_pending: int = 64) -> None:
        if max_clips < 1 or max_pending < 1 or linger_s < 0:
            raise ValueError(f"ForwardBatcher needs max_clips >= 1, max_pending >= 1 and linger_s >= 0; "
                             f"got {max_clips}, {max_pending}, {linger_s}.")
        self._forward = forward
        self.max_clips = max_clips
        self._linger_s = linger_s
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: deque[_Request] = deque()
        self._busy = False                      # a leader is taking or running a batch
        self._active = 0                        # callers inside session()
        self._stats = BatcherStats()

    # ------------------------------------------------------------------ callers

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Mark a caller that will submit batches soon (lets the leader wait a moment for it)."""
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def run(self, pixels: np.ndarray) -> torch.Tensor:
        """``forward(pixels)`` for this caller's clips, possibly computed in a pass shared with others."""
        request = _Request(pixels, Future())
        with self._cond:
            while len(self._pending) >= self._max_pending:
                self._cond.wait()
            self._pending.append(request)
            self._cond.notify_all()
        while True:
            with self._cond:
                while self._busy and not request.future.done():
                    self._cond.wait()
                if request.future.done():
                    break
                self._busy = True
                try:
                    batch = self._take()
                except BaseException:
                    self._busy = False
                    self._cond.notify_all()
                    raise
            try:
                self._execute(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        return request.future.result()

    def stats(self) -> BatcherStats:
        """A snapshot of the counters."""
        with self._cond:
            return self._stats

    def pending(self) -> int:
        """Requests queued and not yet taken by a leader."""
        with self._cond:
            return len(self._pending)

    def pending_clips(self) -> int:
        """Clips in the queued requests."""
        with self._cond:
            return self._clips_ready()

    # ------------------------------------------------------------------ the leader (holds _busy)

    def _take(self) -> list[_Request]:
        """Queued requests first-fit in arrival order, one shape, <= max_clips clips (called under _cond)."""
        deadline = time.monotonic() + self._linger_s
        while self._active > len(self._pending) and self._clips_ready() < self.max_clips:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(left)
        head = self._pending[0]
        batch, clips = [head], len(head.pixels)
        for req in list(self._pending)[1:]:
            if (clips + len(req.pixels) <= self.max_clips and req.pixels.shape[1:] == head.pixels.shape[1:]
                    and req.pixels.dtype == head.pixels.dtype):
                batch.append(req)
                clips += len(req.pixels)
        for req in batch:
            self._pending.remove(req)
        self._cond.notify_all()                 # room in the queue for blocked submitters
        return batch

    def _clips_ready(self) -> int:
        return sum(len(r.pixels) for r in self._pending)

    def _execute(self, batch: list[_Request]) -> None:
        """One pass for the batch; on failure of a merged pass, one pass per request."""
        if len(batch) == 1:
            self._run_alone(batch[0])
            return
        try:
            out = self._forward(np.concatenate([r.pixels for r in batch]))
            parts = self._split(out, [len(r.pixels) for r in batch])
        except Exception as e:  # noqa: BLE001  (rerun alone so only the bad request's caller sees it)
            _log.debug("merged forward of %d requests failed (%s); rerunning each alone", len(batch), e)
            self._count_fallback()
            for req in batch:
                self._run_alone(req)
            return
        except BaseException as e:  # KeyboardInterrupt and the like: nobody may wait forever
            for req in batch:
                req.future.set_exception(e)
            raise
        self._count(batch)
        for req, part in zip(batch, parts):
            req.future.set_result(part)

    def _run_alone(self, req: _Request) -> None:
        try:
            out = self._forward(req.pixels)
        except BaseException as e:  # the caller re-raises it from future.result()
            req.future.set_exception(e)
            return
        self._count([req])
        req.future.set_result(out)

    @staticmethod
    def _split(out: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
        """Rows of each request: a clip may own several rows (CLIP runs per frame)."""
        total = sum(sizes)
        if out.shape[0] % total:
            raise RuntimeError(f"forward returned {out.shape[0]} rows for {total} clips; cannot split them back.")
        per_clip = out.shape[0] // total
        return list(torch.split(out, [n * per_clip for n in sizes]))

    def _count(self, batch: list[_Request]) -> None:
        with self._cond:
            s = self._stats
            self._stats = BatcherStats(
                forwards=s.forwards + 1, clips=s.clips + sum(len(r.pixels) for r in batch),
                merged=s.merged + (len(batch) > 1), max_requests=max(s.max_requests, len(batch)),
                fallbacks=s.fallbacks)

    def _count_fallback(self) -> None:
        with self._cond:
            s = self._stats
            self._stats = BatcherStats(s.forwards, s.clips, s.merged, s.max_requests, s.fallbacks + 1)
