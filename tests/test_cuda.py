"""The CUDA-only lines: video encoders under CUDA autocast, and training with the CUDA allocator probe.

Skipped without a GPU (CI has none). On a GPU machine run ``bash bench/gpu_checks.sh``, which runs
this module and the GPU benchmarks in one go.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs a CUDA GPU (none here): run bench/gpu_checks.sh on a GPU machine")]


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> tuple:
    from tests.pipeline.video_helpers import make_stream, write_video

    folder = tmp_path_factory.mktemp("cuda_video")
    looks = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8) for i in range(100)]
    return make_stream(write_video(folder / "v.mp4", n=100, w=64, h=48, images=looks))


@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp32"])
@pytest.mark.parametrize("name", ["vivit", "timesformer", "clip"])
def test_video_encoders_on_cuda_match_cpu_fp32(video, name: str, precision: str) -> None:
    from pipeline.extractors.video_extractor import video_extractor
    from pipeline.video.video_config import VideoConfig

    def tokens(device: str, precision: str) -> np.ndarray:
        cfg = VideoConfig(random_init=True, frames=8, batch_size=2, device=device, precision=precision)
        return video_extractor(name)(cfg).extract(*video).arrays["tokens"].astype(np.float32)

    reference, on_gpu = tokens("cpu", "fp32"), tokens("cuda", precision)
    assert on_gpu.shape == reference.shape and np.isfinite(on_gpu).all()
    np.testing.assert_allclose(on_gpu, reference, atol=0.02 * np.abs(reference).max())


def test_auto_precision_is_fp16_on_cuda() -> None:
    from pipeline.video.video_config import VideoConfig
    from pipeline.video.encoders import resolve_device

    cfg = VideoConfig(random_init=True)
    assert cfg.precision == "fp16"
    device, autocast = resolve_device(cfg)
    assert device.type == "cuda" and autocast == torch.float16


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from tests.fusion import synthetic as syn

    syn.register_test_extractors()
    yield syn.write_dataset(tmp_path_factory.mktemp("cuda_syn"), subjects=3, trials=2, duration_s=6.0, teacher=True)
    syn.unregister_test_extractors()


@pytest.mark.parametrize("amp", ["bf16", "fp16", "off"])
def test_fusion_trains_on_cuda_and_probes_the_allocator(dataset: Path, tmp_path: Path, amp: str) -> None:
    from fusion.train import train
    from tests.fusion.test_train import config, losses

    out = train(config(dataset, tmp_path / "gpu", device="cuda", amp=amp, max_steps=4, vram_budget_gb=8.0,
                       ema_weight=0.1))
    fold = out["folds"][0]
    assert fold["probe_peak_kind"] == "cuda_max_allocated" and 0 < fold["probe_peak_gb"] < 8.0
    on_gpu = [total for _, total in losses(tmp_path / "gpu")]
    assert len(on_gpu) == 4 and np.isfinite(on_gpu).all()
    if amp == "off":  # same data order and initial weights: the first loss matches the CPU run's
        train(config(dataset, tmp_path / "cpu", device="cpu", amp="off", max_steps=4, ema_weight=0.1))
        np.testing.assert_allclose(on_gpu[0], losses(tmp_path / "cpu")[0][1], rtol=1e-3)
