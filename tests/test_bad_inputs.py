"""The bad-input matrix: every case names the file/key and the fix, spares the other recordings,
leaves nothing in the cache that looks complete but is not, and sets the exit code.

Each stage runs once over a manifest holding one good recording and one recording per bad case;
the cases are then checked one by one against that run (the README's bad-input table mirrors it).
"""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import yaml

from cli import main
from pipeline.cache import FeatureCache
from tests.conftest import EEG_NAMES, write_eeg_edf, write_manifest

SR = 16000


# ----------------------------------------------------------------------------- file writers
def _ecg_edf(path: Path, sfreq: float = 256.0, flat: bool = False, seconds: float = 12.0) -> Path:
    import mne
    import neurokit2 as nk

    n = int(seconds * sfreq)
    sig = np.zeros(n) if flat else nk.ecg_simulate(duration=seconds, sampling_rate=int(sfreq), heart_rate=70,
                                                   random_state=1)[:n]
    raw = mne.io.RawArray(sig[None] * 1e-3, mne.create_info(["ECG"], sfreq, "ecg"), verbose="ERROR")
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="ERROR")
    return path


def _voice_wav(path: Path, sr: int = SR, silent: bool = False, seconds: float = 3.0) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t) if silent else 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * (t % 1.0 < 0.6)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr)
    return path


def _video_mp4(path: Path, seconds: float = 3.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        for i in range(int(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 + i, np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _audio_only_mp4(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        for k in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, k * 1024, fractions.Fraction(1, 16000)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _truncate(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


# ----------------------------------------------------------------------------- stage runs
def _extract(stage: str, manifest: Path, *extra: str) -> tuple[int, dict, list[dict]]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        main(["extract", stage, "--manifest", str(manifest), "--scheduler", "sync", "--json", *extra])
    out = buf.getvalue()
    summary = json.loads(out[out.index("{"):]) if "{" in out else {}
    log = manifest.parent / "cache.failures.jsonl"
    rows = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return int(exc.value.code or 0), summary, rows


def _rec(rid: str, streams: dict) -> dict:
    return {"id": rid, "subject": f"s_{rid}", "labels": {"valence": 5}, "modalities": streams}


@pytest.fixture(scope="module")
def eeg_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("eeg_bad")
    good = write_eeg_edf(root / "good.edf")
    write_eeg_edf(root / "flat.edf", flat_channel=2)
    write_eeg_edf(root / "short.edf", seconds=2.0)
    (root / "garbage.edf").write_bytes(b"\x00not an edf" * 50)
    _truncate(good, root / "truncated.edf", 0.1)
    nan_path = write_eeg_edf(root / "nan.edf", nan_channel=0)
    data = np.load(nan_path)
    data[1, :] = np.nan                     # a whole channel of NaN: beyond repair
    np.save(nan_path, data)
    _voice_wav(root / "sound.wav")
    recs = [
        _rec("good", {"eeg": {"path": "good.edf"}}),
        _rec("eeg_missing_file", {"eeg": {"path": "absent.edf"}}),
        _rec("eeg_unreadable", {"eeg": {"path": "garbage.edf"}}),
        _rec("eeg_truncated", {"eeg": {"path": "truncated.edf"}}),
        _rec("eeg_nan", {"eeg": {"path": "nan.npy", "sfreq": 128.0, "channels": EEG_NAMES}}),
        _rec("eeg_flat_channel", {"eeg": {"path": "flat.edf"}}),
        _rec("eeg_too_short", {"eeg": {"path": "short.edf"}}),
        _rec("eeg_missing_channel", {"eeg": {"path": "good.edf", "channels": ["Fp1", "Cz9"]}}),
        _rec("eeg_wrong_format", {"eeg": {"path": "sound.wav", "format": "edf"}}),
    ]
    manifest = write_manifest(root / "data_manifest.yaml", recs)
    return (manifest, *_extract("eeg", manifest))


@pytest.fixture(scope="module")
def ecg_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ecg_bad")
    _ecg_edf(root / "good.edf")
    _ecg_edf(root / "flat.edf", flat=True)
    _ecg_edf(root / "slow.edf", sfreq=50.0)
    recs = [
        _rec("good", {"ecg": {"path": "good.edf", "channels": ["ECG"]}}),
        _rec("ecg_flat", {"ecg": {"path": "flat.edf", "channels": ["ECG"]}}),
        _rec("ecg_low_rate", {"ecg": {"path": "slow.edf", "channels": ["ECG"]}}),
        _rec("ecg_missing_channel", {"ecg": {"path": "good.edf", "channels": ["EKG2"]}}),
    ]
    manifest = write_manifest(root / "data_manifest.yaml", recs)
    return (manifest, *_extract("ecg", manifest))


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio_bad")
    _voice_wav(root / "good.wav")
    _voice_wav(root / "silent.wav", silent=True)
    _voice_wav(root / "low.wav", sr=4000)
    (root / "empty.wav").write_bytes(b"")
    (root / "garbage.wav").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    recs = [
        _rec("good", {"audio": {"path": "good.wav"}}),
        _rec("audio_silent", {"audio": {"path": "silent.wav"}}),
        _rec("audio_low_rate", {"audio": {"path": "low.wav"}}),
        _rec("audio_zero_bytes", {"audio": {"path": "empty.wav"}}),
        _rec("audio_unsupported", {"audio": {"path": "garbage.wav"}}),
    ]
    manifest = write_manifest(root / "data_manifest.yaml", recs)
    return (manifest, *_extract("audio", manifest))


@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("video_bad")
    good = _video_mp4(root / "good.mp4")
    _truncate(good, root / "truncated.mp4", 0.3)
    (root / "zero.mp4").write_bytes(b"")
    _audio_only_mp4(root / "audio_only.mp4")
    recs = [
        _rec("good", {"video": {"path": "good.mp4"}}),
        _rec("video_truncated", {"video": {"path": "truncated.mp4"}}),
        _rec("video_zero_length", {"video": {"path": "zero.mp4"}}),
        _rec("video_no_stream", {"video": {"path": "audio_only.mp4"}}),
    ]
    manifest = write_manifest(root / "data_manifest.yaml", recs)
    return (manifest, *_extract("video", manifest, "--encoder", "vivit", "--random-init", "--segment-s", "1"))


# (case, fixture, expectation, words the message must contain: the file and the fix)
STAGE_CASES = [
    ("eeg_missing_file", "eeg_run", "fail", ["absent.edf", "Fix the path in the manifest"]),
    ("eeg_unreadable", "eeg_run", "fail", ["garbage.edf", "cannot read as EDF", "Check the file"]),
    ("eeg_truncated", "eeg_run", "fail", ["truncated.edf", "Check the file"]),
    ("eeg_nan", "eeg_run", "fail", ["nan.npy", "NaN", "Drop it from 'channels'"]),
    ("eeg_flat_channel", "eeg_run", "fail", ["flat.edf", "flat channel", "--flat-policy keep"]),
    ("eeg_too_short", "eeg_run", "fail", ["short.edf", "shorter than min_duration_s", "lower --min-duration-s"]),
    ("eeg_missing_channel", "eeg_run", "fail", ["good.edf", "Cz9", "Fix 'channels'"]),
    ("eeg_wrong_format", "eeg_run", "fail", ["sound.wav", "cannot read as EDF"]),
    ("ecg_flat", "ecg_run", "empty", ["flat"]),
    ("ecg_low_rate", "ecg_run", "empty", ["100 Hz"]),
    ("ecg_missing_channel", "ecg_run", "fail", ["good.edf", "EKG2"]),
    ("audio_silent", "audio_run", "ok", []),
    ("audio_low_rate", "audio_run", "fail", ["low.wav", "below 8000 Hz"]),
    ("audio_zero_bytes", "audio_run", "fail", ["empty.wav"]),
    ("audio_unsupported", "audio_run", "fail", ["garbage.wav"]),
    ("video_truncated", "video_run", "fail", ["truncated.mp4"]),
    ("video_zero_length", "video_run", "fail", ["zero.mp4"]),
    ("video_no_stream", "video_run", "fail", ["audio_only.mp4", "video stream"]),
]


@pytest.mark.parametrize("case,fixture,expect,words", STAGE_CASES, ids=[c[0] for c in STAGE_CASES])
def test_stage_bad_input(case: str, fixture: str, expect: str, words: list[str], request) -> None:
    manifest, code, summary, failures = request.getfixturevalue(fixture)
    assert code == 1, "a failed recording must make the exit code non-zero"
    cache = FeatureCache(manifest.parent / "cache.zarr")
    (group,) = cache.groups()
    complete = cache.complete_entries(group.path)
    assert any(rec == "good" for rec, _ in complete), "the good recording must complete"
    assert cache.verify(group.path) == [], "every entry that looks complete must be complete"
    rows = [r for r in failures if r["recording"] == case]
    if expect == "fail":
        assert len(rows) == 1 and not any(rec == case for rec, _ in complete)
        for w in words:
            assert w in rows[0]["message"], (w, rows[0]["message"])
    else:
        assert rows == [] and any(rec == case for rec, _ in complete)
        stream = next(s for rec, s in complete if rec == case)
        entry = cache.read_entry(group.path, case, stream)
        if expect == "empty":
            assert len(entry.times_s) == 0
            for w in words:
                assert w in entry.attrs["reason"], entry.attrs
        else:
            assert np.isfinite(entry.arrays["frames"]).all()


# ----------------------------------------------------------------------------- up-front errors
MANIFEST_CASES = [
    ("duplicate_id", [{"id": "a"}, {"id": "a"}], ["recording 'a': duplicate id"]),
    ("unknown_format", [{"id": "a", "modalities": {"eeg": {"path": "x.edf", "format": "xyz"}}}],
     ["recording 'a': modalities.eeg: unknown eeg format 'xyz'", "Set 'format'"]),
    ("negative_offset", [{"id": "a", "modalities": {"eeg": {"path": "x.edf", "offset_s": -2}}}],
     ["recording 'a': modalities.eeg.offset_s", ">= 0"]),
    ("unknown_label_scale", [{"id": "a", "labels": {"joy": 2}}], ["recording 'a': labels.joy: unknown label scale", "Add 'joy'"]),
    ("label_out_of_range", [{"id": "a", "labels": {"valence": 11}}], ["recording 'a': labels.valence: 11.0 is outside"]),
    ("path_outside_root", [{"id": "a", "modalities": {"eeg": {"path": "../x.edf"}}}], ["points outside the dataset root"]),
    ("unknown_key", [{"id": "a", "modalities": {"eeg": {"path": "x.edf", "chanels": ["Fp1"]}}}],
     ["recording 'a': modalities.eeg.chanels", "Extra inputs are not permitted"]),
    ("missing_file", [{"id": "a", "modalities": {"eeg": {"path": "nope.edf"}}}], ["'nope.edf' not found", "Fix the path"]),
]


@pytest.mark.parametrize("case,recs,words", MANIFEST_CASES, ids=[c[0] for c in MANIFEST_CASES])
def test_manifest_bad_input(case: str, recs: list[dict], words: list[str], tmp_path: Path, capsys) -> None:
    write_eeg_edf(tmp_path / "x.edf")
    full = [{"subject": "s", "modalities": {"eeg": {"path": "x.edf"}}, **r} for r in recs]
    manifest = write_manifest(tmp_path / "m.yaml", full)
    with pytest.raises(SystemExit) as exc:
        main(["manifest", "check", "--manifest", str(manifest)])
    err = capsys.readouterr().err
    assert exc.value.code == 1
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "cache.zarr").exists()


def test_manifest_not_yaml(tmp_path: Path, capsys) -> None:
    p = tmp_path / "m.yaml"
    p.write_text("datasets: [unclosed")
    with pytest.raises(SystemExit) as exc:
        main(["manifest", "check", "--manifest", str(p)])
    assert exc.value.code == 1 and "not valid YAML" in capsys.readouterr().err


def _one_video_manifest(tmp_path: Path) -> Path:
    _video_mp4(tmp_path / "v.mp4", seconds=1.0)
    return write_manifest(tmp_path / "m.yaml", [_rec("a", {"video": {"path": "v.mp4"}})])


def test_missing_weights_stop_before_any_work(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf"))
    manifest = _one_video_manifest(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["extract", "video", "--manifest", str(manifest), "--encoder", "clip"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "--weights" in err and "openai/clip-vit-base-patch32" in err
    assert not FeatureCache(tmp_path / "cache.zarr").groups()


def test_unknown_encoder_lists_valid_ones(tmp_path: Path, capsys) -> None:
    manifest = _one_video_manifest(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["extract", "video", "--manifest", str(manifest), "--encoder", "vivid"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "vivid" in err and "vivit" in err and "timesformer" in err


def test_unknown_config_key_is_an_error(tmp_path: Path, capsys) -> None:
    manifest = _one_video_manifest(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["extract", "eeg", "--manifest", str(manifest), "--set", "hfreq=40"])
    assert exc.value.code == 2 and "unknown config key 'hfreq'" in capsys.readouterr().err


def test_corrupted_cache_chunk_is_found_by_verify(eeg_run, capsys) -> None:
    manifest = eeg_run[0]
    cache = FeatureCache(manifest.parent / "cache.zarr")
    (group,) = cache.groups()
    chunk_dir = Path(cache.location) / group.path / "good" / "eeg" / "data" / "c"
    chunk = next(p for p in chunk_dir.rglob("*") if p.is_file())
    original = chunk.read_bytes()
    try:
        chunk.write_bytes(original[: len(original) // 2])
        with pytest.raises(SystemExit) as exc:
            main(["cache", "verify", "--manifest", str(manifest)])
        out = capsys.readouterr()
        assert exc.value.code == 1 and "good/eeg/data" in out.err + out.out and "re-extract" in (out.err + out.out).lower()
    finally:
        chunk.write_bytes(original)


def test_optional_extractor_without_its_package_names_the_install(tmp_path: Path, capsys) -> None:
    import importlib.util

    if importlib.util.find_spec("opensmile") is not None:
        pytest.skip("opensmile is installed here, so egemaps is available")
    manifest = write_manifest(tmp_path / "m.yaml", [_rec("a", {"audio": {"path": "v.wav"}})])
    _voice_wav(tmp_path / "v.wav")
    with pytest.raises(SystemExit) as exc:
        main(["extract", "audio", "--manifest", str(manifest), "--extractor", "egemaps"])
    assert exc.value.code == 2 and "pip install opensmile" in capsys.readouterr().err
