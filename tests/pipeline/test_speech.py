"""Speech embeddings (hubert, wav2vec2): layers, segments on the recording clock, tokens, weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from pipeline.errors import ConfigError, WeightsError
from pipeline.extractors.base import get_extractor
from pipeline.fingerprint import fingerprint, group_identity
from pipeline.manifest import Recording, Stream
from pipeline.speech import encoders
from pipeline.speech.embed import pool_bins
from pipeline.speech.speech_config import SpeechConfig
from pipeline.video.segments import plan_segments

SR = 16000
TINY_ARCH = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


def write_wav(path: Path, seconds: float, sr: int = SR, seed: int = 0, noise: float = 0.02) -> Path:
    """A voiced-like signal: a modulated 140 Hz tone plus noise, so every segment differs."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    y = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + noise * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), sr)
    return path


def make_stream(path: Path, offset_s: float = 0.0) -> tuple[Recording, Stream]:
    stream = Stream(name="voice", kind="audio", path=path, format=path.suffix[1:], offset_s=offset_s)
    return Recording(id="r1", dataset="demo", subject="s1", streams={"voice": stream}), stream


def save_tiny(folder: Path, family: str = "hubert", **arch) -> Path:
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    config_cls, model_cls = {"hubert": (HubertConfig, HubertModel), "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model)}[family]
    torch.manual_seed(0)
    model_cls(config_cls(**{**TINY_ARCH, **arch})).save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def fresh_models(monkeypatch):
    monkeypatch.setattr(encoders, "_LOADED", {})


def test_default_layer_is_the_last_layer_output_as_torchaudio_extract_features_gives_it(tmp_path):
    """torchaudio's extract_features(x)[0][-1] is the last layer's raw output. In a base (post-norm)
    model that equals last_hidden_state; in a pre-norm (stable layer norm) model it does not,
    and our default must still be the raw output, i.e. hidden_states[-1]."""
    from transformers import Wav2Vec2Model

    x = torch.from_numpy(sf.read(write_wav(tmp_path / "a.wav", 1.0))[0].astype(np.float32))[None]
    for stable in (False, True):
        folder = save_tiny(tmp_path / f"w{stable}", "wav2vec2", do_stable_layer_norm=stable,
                           feat_extract_norm="layer" if stable else "group")
        model = Wav2Vec2Model.from_pretrained(folder).eval()
        with torch.inference_mode():
            out = model(x, output_hidden_states=True)
            raw_last = model.encoder.layers[-1](out.hidden_states[-2])
            raw_last = raw_last[0] if isinstance(raw_last, tuple) else raw_last
        ours = encoders.load_speech_encoder("wav2vec2", SpeechConfig(weights=str(folder), device="cpu")).embed(x.numpy())
        torch.testing.assert_close(ours, raw_last)
        assert torch.equal(out.last_hidden_state, out.hidden_states[-1]) is (not stable)


def test_segment_means_equal_a_direct_computation_on_the_recording_clock(tmp_path):
    from transformers import HubertModel

    folder = save_tiny(tmp_path / "w")
    rec, stream = make_stream(write_wav(tmp_path / "a.wav", 3.3), offset_s=0.5)
    cfg = SpeechConfig(weights=str(folder), device="cpu", segment_s=1.0, tokens=3, batch_size=2)
    out = get_extractor("hubert")(cfg).extract(rec, stream)
    expected = [[0.5, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 3.8]]
    np.testing.assert_allclose(out.times_s, expected)
    np.testing.assert_allclose(out.times_s, plan_segments(0.5, 3.3, 1.0, 0.5))       # the video grid
    frames, tokens = out.arrays["frames"], out.arrays["tokens"]
    assert frames.shape == (4, 32) and frames.dtype == np.float32
    assert tokens.shape == (4, 3, 32) and tokens.dtype == np.float16
    y = sf.read(tmp_path / "a.wav")[0]
    model = HubertModel.from_pretrained(folder).eval()
    for row, (start, end) in enumerate(expected):
        seg = torch.from_numpy(y[round((start - 0.5) * SR):round((end - 0.5) * SR)].astype(np.float32))[None]
        with torch.inference_mode():
            hidden = model(seg).last_hidden_state                                    # base: == hidden_states[-1]
        np.testing.assert_allclose(frames[row], hidden.mean(1)[0].numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(tokens[row].astype(np.float32), pool_bins(hidden, 3)[0].numpy(), rtol=2e-3, atol=2e-3)
    assert out.attrs["layer"] == 2 and out.attrs["frames_per_segment"] == 49                # 1 s at 20 ms hops


def test_input_at_another_rate_is_resampled_to_16k(tmp_path):
    folder = save_tiny(tmp_path / "w")
    cfg = SpeechConfig(weights=str(folder), device="cpu")
    at16 = get_extractor("hubert")(cfg).extract(*make_stream(write_wav(tmp_path / "a16.wav", 2.0, noise=0)))
    at48 = get_extractor("hubert")(cfg).extract(*make_stream(write_wav(tmp_path / "a48.wav", 2.0, sr=48000, noise=0)))
    assert at48.attrs["input_sr"] == 48000 and at48.attrs["sr"] == SR
    # the same tone (band-limited far below 8 kHz) gives nearly the same embedding at either input rate
    a, b = at16.arrays["frames"][0], at48.arrays["frames"][0]
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.99


def test_pool_bins_covers_all_frames_and_short_segments():
    frames = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    assert pool_bins(frames, 3)[0, :, 0].tolist() == [0.5, 2.5, 4.5]
    assert pool_bins(frames[:, :2], 4)[0, :, 0].tolist() == [0.0, 0.0, 1.0, 1.0]      # fewer frames than tokens


def test_layer_choice_is_checked_and_fingerprinted(tmp_path):
    folder = save_tiny(tmp_path / "w")
    rec, stream = make_stream(write_wav(tmp_path / "a.wav", 1.0))
    last = get_extractor("hubert")(SpeechConfig(weights=str(folder), device="cpu")).extract(rec, stream)
    first = get_extractor("hubert")(SpeechConfig(weights=str(folder), device="cpu", layer=1)).extract(rec, stream)
    assert not np.allclose(last.arrays["frames"], first.arrays["frames"])
    with pytest.raises(ConfigError, match=r"layer 3 does not exist.*hidden_states 0\.\.2.*--layer"):
        get_extractor("hubert")(SpeechConfig(weights=str(folder), layer=3)).check_ready()

    def fp(name, **kw):
        e = get_extractor(name)(SpeechConfig(random_init=True, **kw))
        return fingerprint(group_identity(e.name, e.version, e.config, e.weights_identity(), e.libraries))

    assert len({fp("hubert"), fp("hubert", layer=6), fp("hubert", tokens=4), fp("wav2vec2")}) == 4
    assert fp("hubert") == fp("hubert", batch_size=1, device="cpu")                       # speed-only fields


def test_random_init_is_deterministic_and_base_size_is_hubert_base():
    rng = np.random.default_rng(0)
    waves = rng.standard_normal((1, SR)).astype(np.float32) * 0.1
    a = encoders.load_speech_encoder("wav2vec2", SpeechConfig(random_init=True, device="cpu")).embed(waves)
    encoders._LOADED.clear()
    b = encoders.load_speech_encoder("wav2vec2", SpeechConfig(random_init=True, device="cpu")).embed(waves)
    assert torch.equal(a, b) and a.shape == (1, 49, 64)
    base = encoders.read_speech_config("hubert", SpeechConfig(random_init=True, size="base"))
    assert (base.hidden_size, base.num_hidden_layers) == (768, 12)                       # HUBERT_BASE's shape


def test_missing_weights_and_incomplete_folders_fail_with_the_fix(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsError, match=r"speech encoder 'hubert'.*facebook/hubert-base-ls960.*--weights"):
        get_extractor("hubert")(SpeechConfig()).check_ready()
    folder = save_tiny(tmp_path / "w", num_hidden_layers=1)
    cfg_path = folder / "config.json"
    cfg_path.write_text(json.dumps({**json.loads(cfg_path.read_text()), "num_hidden_layers": 2}))
    rec, stream = make_stream(write_wav(tmp_path / "a.wav", 1.0))
    with pytest.raises(WeightsError, match=r"parameters are missing \(encoder\.layers\.1\..*--weights"):
        get_extractor("hubert")(SpeechConfig(weights=str(folder), device="cpu")).extract(rec, stream)


def test_bad_config_values_are_reported_together():
    with pytest.raises(ConfigError, match="size only applies.*tokens must be a positive integer"):
        SpeechConfig(size="tiny", tokens=0)


def test_cli_extract_audio_encoder_writes_a_hubert_group(tmp_path):
    from pipeline.cache import FeatureCache
    from pipeline.synth.demo import generate_demo
    from tests.test_cli import run_cli

    manifest = generate_demo(tmp_path / "demo", subjects=1, trials=1, duration_s=4.0, seed=1)
    code, out = run_cli("extract", "audio", "--manifest", str(manifest), "--encoder", "hubert", "--random-init",
                        "--tokens", "2", "--scheduler", "sync", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["group"].startswith("audio/hubert-") and summary["done"] == 1
    (group,) = FeatureCache(str(_cache_of(manifest))).groups("audio")
    assert group.attrs["describe"]["tokens_per_segment"] == 2 and group.identity["config"]["tokens"] == 2
    code, _ = run_cli("extract", "audio", "--manifest", str(manifest), "--encoder", "hubert", "--extractor", "egemaps")
    assert code == 2


def _cache_of(manifest: Path) -> Path:
    from pipeline.manifest import load_manifest

    return Path(str(load_manifest(manifest, check_files=False).cache))


def test_real_recordings_wav_at_20k_and_a_video_audio_track(real_data, tmp_path):
    """A 20 kHz FDA utterance and the AAC track (48 kHz) of the real face video: resampled, segmented, finite."""
    import soundfile

    wav = sorted((real_data / "speech" / "fda").glob("*.wav"))[0]
    video = real_data / "video" / "face_1080p.mp4"
    extractor = get_extractor("hubert")(SpeechConfig(random_init=True, device="cpu", tokens=2))
    for path, fmt, input_sr in ((wav, "wav", 20000), (video, "mp4", 48000)):
        stream = Stream(name="voice", kind="audio", path=path, format=fmt, offset_s=0.0)
        out = extractor.extract(Recording(id="r", dataset="real", subject="s", streams={"voice": stream}), stream)
        duration = soundfile.info(str(path)).duration if fmt == "wav" else 4.2
        assert out.attrs["input_sr"] == input_sr and out.attrs["sr"] == SR
        np.testing.assert_allclose(out.times_s, plan_segments(0.0, out.attrs["duration_s"], 2.0, 0.5))
        assert abs(out.attrs["duration_s"] - duration) < 0.1
        assert np.isfinite(out.arrays["frames"]).all() and out.arrays["tokens"].shape == (len(out.times_s), 2, 64)
