"""Video stage: concurrent recordings share forward passes (ForwardBatcher)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.extractors.video_extractor import video_extractor
from pipeline.manifest import Recording, Stream
from pipeline.video import encoders
from pipeline.video.batcher import BatcherStats, ForwardBatcher
from pipeline.video.video_config import VideoConfig

from tests.pipeline.video_helpers import TINY, write_video


# ------------------------------------------------------------------ cross-recording batching


def wait_until(condition, what: str, limit_s: float = 20.0) -> None:
    """Block until ``condition()`` holds (a hang guard, not a timing assumption)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_batcher_alone_passes_the_batch_unchanged():
    seen = []
    batcher = ForwardBatcher(lambda p: seen.append(p) or torch.from_numpy(p), max_clips=4)
    x = np.ones((3, 2), np.float32)
    with batcher.session():
        out = batcher.run(x)
    assert seen[0] is x and out.shape == (3, 2)
    assert batcher.stats() == BatcherStats(forwards=1, clips=3, merged=0, max_requests=1, fallbacks=0)


def test_batcher_merges_splits_and_isolates_a_failing_request():
    """Requests queue in a fixed order behind a gated first pass; first-fit then gives [a, b] (3 clips,
    merged) and [bad, c] (merged, raises, rerun alone): only bad's caller sees the error."""
    calls: list[int] = []
    entered = threading.Event()

    def forward(p: np.ndarray) -> torch.Tensor:
        if not calls:
            entered.set()
            wait_until(lambda: batcher.pending() == 4, "four queued requests")
        calls.append(len(p))
        if (p < 0).any():
            raise ValueError("poisoned clip")
        return torch.from_numpy(p).repeat_interleave(2, 0) * 2             # two rows per clip, as CLIP

    batcher = ForwardBatcher(forward, max_clips=3)
    inputs = {"first": 1, "a": 1, "b": 2, "bad": 1, "c": 1}
    arrays = {k: np.full((n, 2), -1.0 if k == "bad" else i, np.float32) for i, (k, n) in enumerate(inputs.items())}
    with ThreadPoolExecutor(len(inputs)) as pool:
        futures = {}
        for k in inputs:                                                   # submit in a known order
            futures[k] = pool.submit(batcher.run, arrays[k])
            if k == "first":
                assert entered.wait(60), "the first pass never started"
            else:
                wait_until(lambda n=len(futures) - 1: batcher.pending() == n, f"request {k} queued")
    with pytest.raises(ValueError, match="poisoned"):
        futures["bad"].result()
    for k in ("first", "a", "b", "c"):
        np.testing.assert_array_equal(futures[k].result().numpy(), np.repeat(arrays[k], 2, 0) * 2)
    assert calls == [1, 3, 2, 1, 1]                                        # first, [a b], [bad c] fails, bad, c
    assert batcher.stats() == BatcherStats(forwards=3, clips=5, merged=1, max_requests=2, fallbacks=1)


def _recording(path: Path, rid: str) -> tuple[Recording, Stream]:
    stream = Stream(name="face", kind="video", path=path, format="mp4")
    return Recording(id=rid, dataset="demo", subject=rid, streams={"face": stream}), stream


def test_concurrent_recordings_share_forward_passes(tmp_path, monkeypatch):
    """Three threads, one extractor (as `--workers 3`): passes merge recordings, outputs match the
    single-threaded run, and a failing recording fails alone."""
    flat = [np.full((32, 32, 3), 100, np.uint8)] * 50                    # every clip constant: the poison
    videos = {"a": write_video(tmp_path / "a.mp4", n=50), "b": write_video(tmp_path / "b.mp4", n=80),
              "c": write_video(tmp_path / "c.mp4", n=40, fps=20),
              "bad": write_video(tmp_path / "bad.mp4", n=50, images=flat)}
    clips = {"a": 1, "b": 2, "c": 1, "bad": 1}                             # segments: one batch each
    recs = {k: _recording(p, k) for k, p in videos.items()}
    cfg = VideoConfig(**{**TINY, "batch_size": 4})
    encoders._LOADED.clear()
    extractor = video_extractor("vivit")(cfg)
    alone = {k: extractor.extract(*recs[k]).arrays["tokens"] for k in ("a", "b", "c")}
    encoder = encoders.load_encoder("vivit", cfg)
    batcher, original = encoder.batcher(cfg.batch_size), encoder.forward
    before = batcher.stats()

    def run_concurrently(names: list[str]) -> dict:
        gate = {"open": False}

        def forward(pixels: np.ndarray) -> torch.Tensor:
            if not gate["open"]:   # hold the first pass until every other clip is in it or queued
                gate["open"] = True
                total = sum(clips[k] for k in names)
                wait_until(lambda: len(pixels) + batcher.pending_clips() == total, "the other recordings' batches")
            flat_clip = pixels.reshape(len(pixels), -1)
            if (flat_clip.max(1) == flat_clip.min(1)).any():
                raise RuntimeError("poisoned clip")
            return original(pixels)

        monkeypatch.setattr(encoder, "forward", forward)
        with ThreadPoolExecutor(len(names)) as pool:
            return {k: pool.submit(extractor.extract, *recs[k]) for k in names}

    # rtol 1e-3 = one float16 step: merging may change fp32 rounding on other hardware (on this CPU the
    # bytes are identical), which can move a stored float16 value by one step
    together = run_concurrently(["a", "b", "c"])
    stats = batcher.stats()
    assert stats.merged - before.merged >= 1 and stats.max_requests >= 2 and stats.fallbacks == before.fallbacks
    for k, fut in together.items():
        tokens = fut.result().arrays["tokens"]
        assert tokens.shape == alone[k].shape
        np.testing.assert_allclose(tokens.astype(np.float32), alone[k].astype(np.float32), rtol=1e-3, atol=1e-5)
    mixed = run_concurrently(["a", "bad", "c"])
    with pytest.raises(RuntimeError, match="poisoned"):
        mixed["bad"].result()
    for k in ("a", "c"):
        np.testing.assert_allclose(mixed[k].result().arrays["tokens"].astype(np.float32),
                                   alone[k].astype(np.float32), rtol=1e-3, atol=1e-5)
    after = batcher.stats()    # bad merged then rerun alone, or bad led alone and a + c merged
    assert (after.fallbacks - stats.fallbacks) + (after.merged - stats.merged) >= 1
