"""Video stage: segment planning, frame sampling, decoding, compaction, encoders, identity, bad input.

Videos are written here with PyAV, tiny (32x32, a few seconds), lossless (qp 0) and with a grey
level that encodes the frame index, so decoded pixels say which frame was sampled.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from pipeline.errors import ConfigError, ExtractionError, WeightsError
from pipeline.extractors.base import get_extractor
from pipeline.extractors.video_extractor import video_extractor
from pipeline.fingerprint import fingerprint, group_identity
from pipeline.manifest import Stream
from pipeline.video import encoders
from pipeline.video.compact import TokenLayout, compact_tokens, keep_indices, pool_tokens, projection_matrix
from pipeline.video.video_config import VideoConfig
from pipeline.video.decode import convert_frame, iter_clips, probe_video
from pipeline.video.extract import pixel_batches, plan_stream
from pipeline.video.preprocess import PreprocessSpec
from pipeline.video.segments import plan_segments, sample_frames

from tests.pipeline.video_helpers import TINY, grey_index, make_stream, save_tiny_vivit, spec32, write_video



# ------------------------------------------------------------------ segments and sampling


@pytest.mark.parametrize("offset, duration, expected", [
    (0.0, 5.0, [[0, 2], [2, 4], [4, 5]]),          # last partial segment (1 s >= 50 %) kept, true interval
    (0.0, 4.8, [[0, 2], [2, 4]]),                  # 0.8 s < 50 % dropped
    (0.3, 4.0, [[0.3, 2], [2, 4]]),                # grid on the recording clock; [4, 4.3) dropped
    (-1.0, 3.0, [[0, 2]]),                         # part before recording time 0 ignored
    (1.5, 0.6, [[1.5, 2.0]]),                      # shorter than a segment: its longest covered cell
])
def test_plan_segments(offset, duration, expected):
    np.testing.assert_allclose(plan_segments(offset, duration, 2.0, 0.5), expected)


def test_plan_segments_video_before_recording_is_empty():
    assert plan_segments(-5.0, 3.0, 2.0, 0.5).shape == (0, 2)


def test_sampling_and_decoding_constant_rate(tmp_path):
    index = probe_video(write_video(tmp_path / "cfr.mp4", n=75))
    np.testing.assert_allclose(index.times_s, np.arange(75) / 25)
    assert index.duration_s == pytest.approx(3.0)
    intervals = plan_segments(0.0, index.duration_s, 1.0, 0.5)
    frame_idx = sample_frames(index.times_s, intervals, 0.0, 8)
    # hand computation: sample k of segment s at s + (k + 0.5) / 8 s -> frame floor(25 t)
    first = [1, 4, 7, 10, 14, 17, 20, 23]
    np.testing.assert_array_equal(frame_idx, [first, [i + 25 for i in first], [i + 50 for i in first]])
    clips = list(iter_clips(index, frame_idx, lambda f: convert_frame(f, spec32())))
    assert [s for s, _ in clips] == [0, 1, 2]
    assert [grey_index(c) for _, c in clips] == frame_idx.tolist()


def test_sampling_variable_frame_rate_and_offset(tmp_path):
    pts = [0, 40, 80, 200, 210, 500, 520, 900, 1000, 1500]
    index = probe_video(write_video(tmp_path / "vfr.mp4", n=10, pts_ms=pts))
    np.testing.assert_allclose(index.times_s, np.array(pts) / 1000)
    offset = 0.25
    intervals = plan_segments(offset, index.duration_s, 2.0, 0.5)
    np.testing.assert_allclose(intervals, [[0.25, 0.25 + index.duration_s]])
    frame_idx = sample_frames(index.times_s, intervals, offset, 4)
    t = (np.arange(4) + 0.5) * index.duration_s / 4                   # video-clock sample times
    expected = [max(i for i, p in enumerate(pts) if p / 1000 <= x) for x in t]
    np.testing.assert_array_equal(frame_idx[0], expected)
    (_, clip), = iter_clips(index, frame_idx, lambda f: convert_frame(f, spec32()))
    assert grey_index(clip) == expected


def test_rotation_and_odd_sizes(tmp_path):
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, :32] = 255                                                # left half white
    plain = write_video(tmp_path / "plain.mp4", n=2, w=64, h=32, images=[img, img])
    rotated = write_video(tmp_path / "rot.mp4", n=2, w=64, h=32, images=[img, img], rotation=90)
    spec = spec32()
    with av.open(str(plain)) as c:
        a = convert_frame(next(c.decode(video=0)), spec)            # resize 64x32 -> crop centre 32x32
    with av.open(str(rotated)) as c:
        frame = next(c.decode(video=0))
        assert frame.rotation == 90
        b = convert_frame(frame, spec)                               # displayed 32 wide x 64 tall
    assert a.shape == b.shape == (32, 32, 3)
    assert a[:, :16].mean() > 200 and a[:, 16:].mean() < 50
    # counterclockwise quarter turn: the white left half ends at the bottom
    assert b[:16].mean() < 50 and b[16:].mean() > 200
    odd = write_video(tmp_path / "odd.mp4", n=3, w=33, h=17, pix_fmt="yuv444p")  # 4:2:0 needs even sizes
    with av.open(str(odd)) as c:
        assert convert_frame(next(c.decode(video=0)), spec).shape == (32, 32, 3)


# ------------------------------------------------------------------ preprocessing and compaction


def test_normalisation_matches_hub_vivit_processor():
    from transformers import VivitImageProcessor

    from pipeline.video.video_config import ENCODERS

    spec = PreprocessSpec.from_dict(ENCODERS["vivit"].processor_defaults, 224)
    flat = [np.full((240, 320, 3), v, np.uint8) for v in (0, 77, 255)]  # flat: resampling-independent
    ref = VivitImageProcessor(**ENCODERS["vivit"].processor_defaults)(flat, return_tensors="np")["pixel_values"]
    ours = spec.normalise(np.stack([f[:224, :224] for f in flat]))
    np.testing.assert_allclose(ours, ref[0], atol=1e-5)


def test_compaction_hand_computed():
    b, d = 2, 4
    vivit = TokenLayout("vivit", frames=4, units=2, patches=3, dim=d, tokens_per_unit=1)
    hidden = torch.randn(b, 1 + 2 * 3, d)
    cls, units = pool_tokens(hidden, vivit)
    torch.testing.assert_close(cls, hidden[:, 0])
    torch.testing.assert_close(units[:, 1, 0], hidden[:, 4:7].mean(1))          # tubelet 1: tokens 4..6
    tsf = TokenLayout("timesformer", frames=2, units=2, patches=3, dim=d, tokens_per_unit=1)
    _, units = pool_tokens(hidden, tsf)
    torch.testing.assert_close(units[:, 1, 0], hidden[:, [2, 4, 6]].mean(1))    # patch-major: p * T + t
    clip = TokenLayout("clip", frames=3, units=3, patches=2, dim=d, tokens_per_unit=2)
    per_frame = torch.randn(b * 3, 1 + 2, d)
    out = compact_tokens(per_frame, clip, keep_indices(3, None), None)
    f = per_frame.reshape(b, 3, 3, d)
    assert out.shape == (b, 1 + 6, d) and clip.tokens_after(None) == 7 and clip.tokens_before == 9
    torch.testing.assert_close(out[:, 0], f[:, :, 0].mean(1))
    torch.testing.assert_close(out[:, 3], f[:, 1, 0])                             # CLS of frame 1
    torch.testing.assert_close(out[:, 4], f[:, 1, 1:].mean(1))                    # patch mean of frame 1


def test_keep_indices_and_projection():
    np.testing.assert_array_equal(keep_indices(16, 4), [2, 6, 10, 14])
    np.testing.assert_array_equal(keep_indices(8, 3), [1, 4, 6])
    np.testing.assert_array_equal(keep_indices(5, None), np.arange(5))
    with pytest.raises(ConfigError, match="keep_tokens"):
        keep_indices(4, 5)
    q = projection_matrix(64, 16, seed=3)
    np.testing.assert_allclose(q.T @ q, np.eye(16), atol=1e-5)
    np.testing.assert_array_equal(q, projection_matrix(64, 16, seed=3))
    assert not np.allclose(q, projection_matrix(64, 16, seed=4))
    layout = TokenLayout("vivit", frames=8, units=4, patches=2, dim=64, tokens_per_unit=1)
    hidden = torch.randn(1, 1 + 8, 64)
    out = compact_tokens(hidden, layout, keep_indices(4, 2), q)
    manual = torch.cat([hidden[:, :1], hidden[:, 1:].reshape(1, 4, 2, 64).mean(2)[:, [1, 3]]], 1) @ torch.from_numpy(q)
    torch.testing.assert_close(out, manual)


# ------------------------------------------------------------------ encoders end to end


def test_local_weights_from_pretrained_match_hand_computation(tmp_path):
    from transformers import VivitModel

    folder = save_tiny_vivit(tmp_path / "w")
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=60), offset_s=0.5)
    cfg = VideoConfig(weights=str(folder), device="cpu", keep_tokens=2, project_dim=16, seed=1)
    extractor = get_extractor("vivit")(cfg)
    out = extractor.extract(rec, stream)
    tokens = out.arrays["tokens"]
    assert tokens.dtype == np.float16 and tokens.shape == (1, 3, 16)
    np.testing.assert_allclose(out.times_s, [[0.5, 2.0]])                  # 2.4 s video at 0.5 s; [2, 2.9) dropped
    facts = extractor.describe()
    assert (facts["tokens_before"], facts["tokens_after"], facts["dim_after"]) == (1 + 4 * 4, 3, 16)
    # hand computation on the same pixels with the model loaded independently
    encoder = encoders.load_encoder("vivit", cfg)
    index, _, frame_idx = plan_stream(stream, cfg, 8)
    pixels = next(pixel_batches(index, frame_idx, encoder.preprocess, 4))
    model = VivitModel.from_pretrained(folder, add_pooling_layer=False).eval()
    with torch.inference_mode():
        hidden = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state[0]   # (1 + 4 * 4, D)
    tubelets = hidden[1:].reshape(4, 4, -1).mean(1)
    manual = torch.cat([hidden[:1], tubelets[[1, 3]]]) @ torch.from_numpy(projection_matrix(32, 16, 1))
    np.testing.assert_allclose(tokens[0].astype(np.float32), manual.numpy(), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("name, n_tokens", [("vivit", 1 + 4), ("timesformer", 1 + 8), ("clip", 1 + 2 * 8)])
def test_random_init_deterministic_and_shaped(tmp_path, name, n_tokens):
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    runs = []
    for _ in range(2):
        encoders._LOADED.clear()                                           # a fresh process's load
        runs.append(video_extractor(name)(VideoConfig(**TINY)).extract(rec, stream))
    a, b = (r.arrays["tokens"] for r in runs)
    assert a.shape == (1, n_tokens, 64) and a.dtype == np.float16
    assert a.tobytes() == b.tobytes()
    assert np.isfinite(a).all()


@pytest.mark.parametrize("name", ["vivit", "timesformer", "clip"])
def test_bf16_on_cpu_runs_autocast_and_stays_close_to_fp32(tmp_path, name):
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    fp32, bf16 = (video_extractor(name)(VideoConfig(**TINY, precision=p)).extract(rec, stream).arrays["tokens"]
                  for p in ("fp32", "bf16"))
    assert bf16.shape == fp32.shape and np.isfinite(bf16).all()
    assert bf16.tobytes() != fp32.tobytes()                                # autocast really ran in bf16
    scale = np.abs(fp32.astype(np.float32)).max()
    np.testing.assert_allclose(bf16.astype(np.float32), fp32.astype(np.float32), atol=0.02 * scale)


def test_bf16_on_a_cpu_without_bf16_units_warns_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(encoders, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(encoders, "_LOADED", {})
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    extractor = video_extractor("vivit")(VideoConfig(**TINY, precision="bf16"))
    with caplog.at_level("WARNING", logger="pipeline.video.encoders"):
        extractor.check_ready()
        extractor.extract(rec, stream)
    assert [r.message for r in caplog.records].count(
        "precision bf16 on a CPU without AMX or AVX512-BF16 is emulated and slower than fp32; "
        "use --precision fp32 (the default on CPU).") == 1


def test_fp16_on_cpu_is_refused_up_front_naming_the_alternatives():
    with pytest.raises(ConfigError, match="fp16' needs CUDA.*--precision bf16.*fp32"):
        video_extractor("vivit")(VideoConfig(**TINY, precision="fp16")).check_ready()


def test_identity_and_fingerprint_change_with_config(tmp_path):
    vivit = get_extractor("vivit")
    ident = vivit(VideoConfig(random_init=True)).weights_identity()
    assert ident["random_init"] is True and ident["size"] == "tiny"
    assert ident != vivit(VideoConfig(random_init=True, seed=1)).weights_identity()
    assert ident != vivit(VideoConfig(random_init=True, size="base")).weights_identity()

    def fp(cls, cfg):
        e = cls(cfg)
        return fingerprint(group_identity(e.name, e.version, cfg, e.weights_identity(), e.libraries))

    base = fp(vivit, VideoConfig(random_init=True))
    assert base == fp(vivit, VideoConfig(random_init=True))
    others = {fp(vivit, VideoConfig(random_init=True, keep_tokens=4)), fp(vivit, VideoConfig(random_init=True, frames=16)),
              fp(vivit, VideoConfig(random_init=True, segment_s=4.0)), fp(get_extractor("clip"), VideoConfig(random_init=True))}
    assert base not in others and len(others) == 4
    folder = save_tiny_vivit(tmp_path / "w")
    local = vivit(VideoConfig(weights=str(folder))).weights_identity()
    assert local["source"] == "local" and "model.safetensors" in local["files"]
    (folder / "model.safetensors").write_bytes(b"changed")
    assert vivit(VideoConfig(weights=str(folder))).weights_identity() != local
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    with pytest.raises(WeightsError, match="cannot load VivitModel weights"):
        vivit(VideoConfig(weights=str(folder), device="cpu")).extract(rec, stream)


# ------------------------------------------------------------------ bad input and config


def test_missing_weights_fail_up_front(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    extractor = get_extractor("timesformer")(VideoConfig())
    with pytest.raises(WeightsError, match=r"--weights.*facebook/timesformer-base-finetuned-k400|"
                                           r"facebook/timesformer-base-finetuned-k400.*--weights") as err:
        extractor.weights_identity()
    # the CLI that huggingface_hub installs today (issue 14: the message named huggingface-cli)
    assert "(hf download facebook/timesformer-base-finetuned-k400)" in str(err.value)
    with pytest.raises(WeightsError, match="--weights"):
        extractor.check_ready()
    with pytest.raises(WeightsError, match="--weights"):
        get_extractor("vivit")(VideoConfig(weights=str(tmp_path))).weights_identity()  # folder without weights


def test_unknown_encoder_and_bad_config():
    with pytest.raises(ConfigError, match="vivit, timesformer, clip"):
        video_extractor("resnet")
    with pytest.raises(ConfigError, match="size only applies"):
        VideoConfig(size="tiny")
    with pytest.raises(ConfigError, match="segment_s"):
        VideoConfig(segment_s=0)
    with pytest.raises(ConfigError, match="keep_tokens"):
        VideoConfig(keep_tokens=0)
    assert VideoConfig(random_init=True).size == "tiny"


def test_frames_and_keep_tokens_checked_against_model(tmp_path):
    rec, stream = make_stream(write_video(tmp_path / "v.mp4", n=50))
    with pytest.raises(ConfigError, match="keep_tokens"):
        video_extractor("timesformer")(VideoConfig(**{**TINY, "keep_tokens": 9})).extract(rec, stream)
    with pytest.raises(ConfigError, match="keep_tokens"):                  # up front, nothing loaded
        video_extractor("vivit")(VideoConfig(**{**TINY, "keep_tokens": 5})).check_ready()
    with pytest.raises(ConfigError, match="multiple of the tubelet"):
        video_extractor("vivit")(VideoConfig(**{**TINY, "frames": 7})).describe()


def test_bad_files(tmp_path):
    good = write_video(tmp_path / "good.mp4", n=50)
    data = good.read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video " * 20)
    (tmp_path / "trunc.mp4").write_bytes(data[: len(data) // 2])
    audio = av.open(str(tmp_path / "audio.mp4"), "w")
    astream = audio.add_stream("aac", rate=16000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate = 16000
    for packet in [*astream.encode(frame), *astream.encode()]:
        audio.mux(packet)
    audio.close()
    zero = av.open(str(tmp_path / "zero.mp4"), "w")                      # video stream, no frames
    zstream = zero.add_stream("libx264", rate=25)
    zstream.width = zstream.height = 32
    zero.start_encoding()
    zero.close()
    cases = {"empty.mp4": "unreadable", "text.mp4": "unreadable", "trunc.mp4": "unreadable|truncated",
             "audio.mp4": "no video stream", "missing.mp4": "not found",
             "zero.mp4": "zero-length"}
    for name, what in cases.items():
        with pytest.raises(ExtractionError, match=what) as err:
            probe_video(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path / name))
    rec, stream = make_stream(tmp_path / "text.mp4")
    with pytest.raises(ExtractionError, match="unreadable"):
        video_extractor("clip")(VideoConfig(**TINY)).extract(rec, stream)


def test_import_does_not_pull_transformers():
    code = ("import sys, pipeline.extractors.video_extractor, pipeline.video; "
            "sys.exit(1 if 'transformers' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2]).returncode == 0


def test_peak_memory_does_not_grow_with_video_length(tmp_path):
    """Traced (numpy) peak for a 120 s video stays near a 20 s one's, far below holding every clip."""
    import tracemalloc

    looks = [np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(16)]
    short, long_ = (make_stream(write_video(tmp_path / f"{n}.mp4", n=n, w=64, h=64,
                                            images=[looks[i % 16] for i in range(n)]))
                    for n in (500, 3000))
    extractor = video_extractor("vivit")(VideoConfig(**TINY))
    extractor.extract(*short)                                              # model loaded outside the trace
    peaks = []
    for rec, stream in (short, long_):
        tracemalloc.start()
        out = extractor.extract(rec, stream)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert len(out.times_s) == 60
    spec = encoders.load_encoder("vivit", VideoConfig(**TINY)).preprocess
    all_clips = 60 * 8 * 3 * spec.crop[0] * spec.crop[1] * 4                # every normalised clip at once
    assert peaks[1] < peaks[0] + 0.1 * all_clips
    assert peaks[1] < 0.25 * all_clips


def test_crop_s_maps_the_trial_span_to_the_recording_clock(tmp_path):
    """MAHNOB-style: the camera starts before the trial; crop_s=[1, 3] makes file second 1 the stream's 0."""
    path = write_video(tmp_path / "cam.mp4", n=40, fps=10)               # 4 s at 10 fps
    stream = Stream(name="face", kind="video", path=path, format="mp4", offset_s=0.0, options={"crop_s": [1.0, 3.0]})
    index, intervals, frame_idx = plan_stream(stream, VideoConfig(random_init=True, segment_s=1.0), 4)
    np.testing.assert_allclose(intervals, [[0.0, 1.0], [1.0, 2.0]])
    # segment 0 samples file times 1.125, 1.375, 1.625, 1.875 -> frames 11, 13, 16, 18
    np.testing.assert_array_equal(frame_idx[0], [11, 13, 16, 18])
    bad = Stream(name="face", kind="video", path=path, format="mp4", options={"crop_s": [9.0, 10.0]})
    with pytest.raises(ExtractionError, match=r"cam.mp4: options.crop_s \[9.0, 10.0\] is outside"):
        plan_stream(bad, VideoConfig(random_init=True), 4)
