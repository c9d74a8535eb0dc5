"""Video stage: segment planning, frame sampling, decoding, compaction, encoders, identity, bad input.

Videos are written here with PyAV, tiny (32x32, a few seconds), lossless (qp 0) and with a grey
level that encodes the frame index, so decoded pixels say which frame was sampled.
"""

from __future__ import annotations

import fractions
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from pipeline.errors import ConfigError, ExtractionError, WeightsError
from pipeline.extractors.base import get_extractor
from pipeline.extractors.video_extractor import video_extractor
from pipeline.fingerprint import fingerprint, group_identity
from pipeline.manifest import Recording, Stream
from pipeline.video import encoders
from pipeline.video.batcher import BatcherStats, ForwardBatcher
from pipeline.video.compact import TokenLayout, compact_tokens, keep_indices, pool_tokens, projection_matrix
from pipeline.video.video_config import VideoConfig
from pipeline.video.decode import convert_frame, iter_clips, probe_video
from pipeline.video.extract import pixel_batches, plan_stream
from pipeline.video.preprocess import PreprocessSpec
from pipeline.video.segments import plan_segments, sample_frames

GREY0, GREY_STEP = 10, 3


def write_video(path: Path, n: int, fps: int = 25, w: int = 32, h: int = 32, pts_ms: list[int] | None = None,
                rotation: int | None = None, images: list[np.ndarray] | None = None,
                pix_fmt: str = "yuv420p") -> Path:
    """Lossless H.264 MP4; frame i is flat grey GREY0 + GREY_STEP * i unless ``images`` is given."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
    stream.options = {"qp": "0"}
    if pts_ms is not None:
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
    if rotation is not None:
        stream.set_display_rotation(rotation)
    for i in range(n):
        img = images[i] if images is not None else np.full((h, w, 3), GREY0 + GREY_STEP * i, np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[i], fractions.Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def grey_index(clip: np.ndarray) -> list[int]:
    """Frame index encoded in each flat grey frame of a clip (n, H, W, 3)."""
    return [int(round((float(f.mean()) - GREY0) / GREY_STEP)) for f in clip]


def spec32() -> PreprocessSpec:
    """No-op geometry for 32x32 sources and an identity-ish normalisation."""
    return PreprocessSpec.from_dict({"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32},
                                     "rescale_factor": 1.0, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]}, 32)


def make_stream(path: Path, offset_s: float = 0.0) -> tuple[Recording, Stream]:
    stream = Stream(name="face", kind="video", path=path, format="mp4", offset_s=offset_s)
    return Recording(id="r1", dataset="demo", subject="s1", streams={"face": stream}), stream


TINY = dict(random_init=True, frames=8, device="cpu", batch_size=2)


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


def save_tiny_vivit(folder: Path) -> Path:
    """A tiny ViViT written with save_pretrained, as a user's local weights folder would be."""
    from transformers import VivitConfig, VivitModel

    torch.manual_seed(0)
    config = VivitConfig(num_frames=8, image_size=32, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)
    VivitModel(config, add_pooling_layer=False).save_pretrained(folder)
    return write_tiny_processor(folder)


def write_tiny_processor(folder: Path) -> Path:
    """The 32-pixel ViViT processor config of the tiny test models."""
    proc = {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, "rescale_factor": 1 / 127.5,
            "offset": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    (folder / "preprocessor_config.json").write_text(json.dumps(proc))
    return folder


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


# ------------------------------------------------------------------ output head: Kinetics logits


def save_tiny_vivit_classifier(folder: Path, num_labels: int = 5) -> Path:
    """A tiny VivitForVideoClassification with named classes, as a local Kinetics checkpoint would be."""
    from transformers import VivitConfig, VivitForVideoClassification

    torch.manual_seed(0)
    config = VivitConfig(num_frames=8, image_size=32, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, num_labels=num_labels,
                         id2label={i: f"action {i}" for i in range(num_labels)})
    VivitForVideoClassification(config).save_pretrained(folder)
    return write_tiny_processor(folder)


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
