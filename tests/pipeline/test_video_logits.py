"""Video stage: the Kinetics-logits output head (vivit_logits, timesformer_logits)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipeline.errors import ConfigError, WeightsError
from pipeline.extractors.video_extractor import video_extractor
from pipeline.fingerprint import fingerprint, group_identity
from pipeline.video import encoders
from pipeline.video.video_config import VideoConfig
from pipeline.video.extract import pixel_batches, plan_stream

from tests.pipeline.video_helpers import TINY, make_stream, save_tiny_vivit, save_tiny_vivit_classifier, write_video


# ------------------------------------------------------------------ output head: Kinetics logits


def test_logits_head_equals_the_classifier_on_the_same_pixels(tmp_path):
    from transformers import VivitForVideoClassification

    folder = save_tiny_vivit_classifier(tmp_path / "w")
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=80, fps=20), offset_s=0.5)
    cfg = VideoConfig(weights=str(folder), device="cpu")
    extractor = video_extractor("vivit", head="logits")(cfg)
    assert extractor.name == "vivit_logits"
    out = extractor.extract(rec, stream)
    logits = out.arrays["logits"]
    assert set(out.arrays) == {"logits"} and logits.dtype == np.float32 and logits.shape == (2, 5)
    np.testing.assert_allclose(out.times_s, [[0.5, 2.0], [2.0, 4.0]])
    facts = extractor.describe()
    assert (facts["head"], facts["num_labels"], facts["labels"][4]) == ("logits", 5, "action 4")
    encoder = encoders.load_encoder("vivit", cfg, head="logits")
    index, _, frame_idx = plan_stream(stream, cfg, 8)
    pixels = next(pixel_batches(index, frame_idx, encoder.preprocess, 4))
    model = VivitForVideoClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        manual = model(pixel_values=torch.from_numpy(pixels)).logits
    np.testing.assert_allclose(logits, manual.numpy(), rtol=1e-4, atol=1e-5)
    tokens = video_extractor("vivit")(cfg).extract(rec, stream).arrays["tokens"]  # same folder, bare model
    assert tokens.shape == (2, 1 + 4, 32)


def test_logits_head_refuses_a_folder_without_a_trained_classifier(tmp_path):
    folder = save_tiny_vivit(tmp_path / "w")                               # a bare VivitModel
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    with pytest.raises(WeightsError, match=r"no trained classification head \(classifier\..*--head tokens"):
        video_extractor("vivit", head="logits")(VideoConfig(weights=str(folder), device="cpu")).extract(rec, stream)


@pytest.mark.parametrize("name", ["vivit", "timesformer"])
def test_random_init_logits_have_the_kinetics_width(tmp_path, name):
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    cls = video_extractor(name, head="logits")
    a, b = (cls(VideoConfig(**TINY)).extract(rec, stream).arrays["logits"] for _ in range(2))
    assert a.shape == (1, 400) and np.isfinite(a).all() and a.tobytes() == b.tobytes()
    assert cls(VideoConfig(**TINY)).describe()["num_labels"] == 400


def test_head_choice_is_checked_and_fingerprinted():
    with pytest.raises(ConfigError, match="'clip' has no video classification head.*vivit, timesformer"):
        video_extractor("clip", head="logits")
    with pytest.raises(ConfigError, match="unknown video head 'pooled'.*tokens, logits"):
        video_extractor("vivit", head="pooled")
    with pytest.raises(ConfigError, match="--keep-tokens and --project-dim.*--head logits"):
        video_extractor("vivit", head="logits")(VideoConfig(**TINY, keep_tokens=2)).check_ready()

    def fp(cls):
        e = cls(VideoConfig(**TINY))
        return fingerprint(group_identity(e.name, e.version, e.config, e.weights_identity(), e.libraries))

    assert fp(video_extractor("vivit", "logits")) != fp(video_extractor("vivit"))
    assert video_extractor("vivit").name == "vivit"                         # the token group keeps its name


def test_cli_extract_video_head_logits(tmp_path):
    from pipeline.synth.demo import generate_demo
    from tests.test_cli import run_cli

    manifest = generate_demo(tmp_path / "demo", subjects=1, trials=1, duration_s=4.0, seed=1)
    code, out = run_cli("extract", "video", "--manifest", str(manifest), "--encoder", "vivit", "--head", "logits",
                        "--random-init", "--frames", "8", "--device", "cpu", "--scheduler", "sync", "--json")
    assert code == 0, out
    assert json.loads(out)["group"].startswith("video/vivit_logits-")
    code, _ = run_cli("extract", "video", "--manifest", str(manifest), "--encoder", "clip", "--head", "logits",
                      "--random-init")
    assert code == 2


def test_logits_on_the_real_face_video(real_data):
    """The 1080p, 4.2 s face video: two 2 s segments of 400 finite random-head logits (VATE's input width)."""
    rec, stream = make_stream(real_data / "video" / "face_1080p.mp4")
    out = video_extractor("vivit", head="logits")(VideoConfig(random_init=True, device="cpu")).extract(rec, stream)
    np.testing.assert_allclose(out.times_s, [[0.0, 2.0], [2.0, 4.0]])
    assert out.arrays["logits"].shape == (2, 400) and np.isfinite(out.arrays["logits"]).all()
    assert out.attrs["source_width"] == 1920
