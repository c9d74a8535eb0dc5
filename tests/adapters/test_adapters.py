"""Dataset adapters end to end on synthetic copies of each layout: `cli manifest from`, `cli manifest
check`, `cli extract eeg|ecg|video`, the readers' numbers, and every reported problem."""

from __future__ import annotations

import csv
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.adapters import build_manifest
from pipeline.adapters.containers import UnsafePickleError, load_numpy_pickle
from pipeline.errors import ConfigError, ExtractionError, ManifestError
from pipeline.manifest import load_manifest
from pipeline.signal_readers import read_raw
from tests.adapters import fixtures as F
from tests.adapters.cli_helpers import check_and_extract, cli, from_dataset, stream


# ---------------------------------------------------------------------------------------- DEAP
def test_deap_preprocessed_pickle_end_to_end(tmp_path: Path, capsys) -> None:
    root = tmp_path / "deap"
    data = F.write_deap_preprocessed(root, subjects=(1, 2), trials=2)
    F.write_deap_videos(root, pid=1, trials=2)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("deap", root, out, capsys)
    assert code == 0 and "4 recordings; 0 skipped" in text
    m = load_manifest(out)
    assert {r.id for r in m.recordings} == {"deap-s01-v01", "deap-s01-v02", "deap-s02-v01", "deap-s02-v02"}
    assert {r.stimulus for r in m.recordings} == {"v01", "v02"}  # every participant watched the same videos
    assert not any(r.streams_of("ecg") for r in m.recordings)
    assert "no ECG" in out.read_text().splitlines()[1]
    # presentation trial 1 showed Experiment_id 2 (participant_ratings.csv): its video goes to v02
    assert m.by_id()["deap-s01-v02"].streams["video"].path.name == "s01_trial01.avi"
    assert "video" not in m.by_id()["deap-s02-v01"].streams
    raw = read_raw(stream(out, "deap-s02-v02"))
    n_base = int(3 * 128)
    np.testing.assert_allclose(raw.get_data(picks="eeg"), data[2][1, :32, n_base:] * 1e-6)
    assert raw.ch_names[:3] == ["Fp1", "AF3", "F3"] and raw.get_channel_types()[32] == "eog"
    check_and_extract(out, "eeg")


def test_deap_mat_variant_and_baseline_part(tmp_path: Path, capsys) -> None:
    root = tmp_path / "deap"
    data = F.write_deap_preprocessed(root, subjects=(1,), trials=2, variant="mat")
    out = tmp_path / "m.yaml"
    assert from_dataset("deap", root, out, capsys)[0] == 0
    s = stream(out, "deap-s01-v02")
    assert s.format == "deap_mat" and s.options["trial_index"] == 1
    base = read_raw(type(s)(**{**s.__dict__, "options": {**s.options, "part": "baseline"}}))
    np.testing.assert_allclose(base.get_data(picks="eeg"), data[1][1, :32, :384] * 1e-6)
    check_and_extract(out, "eeg")


def test_deap_raw_bdf_trials_from_status(tmp_path: Path, capsys) -> None:
    root = tmp_path / "deap"
    F.write_deap_raw(root, subjects=(1,), trials=2)
    out = tmp_path / "m.yaml"
    assert from_dataset("deap", root, out, capsys)[0] == 0
    m = load_manifest(out)
    with open(root / "metadata_csv" / "participant_ratings.csv") as f:
        ratings = {int(r["Trial"]): r for r in csv.DictReader(f)}
    first = m.by_id()[f"deap-s01-v{int(ratings[1]['Experiment_id']):02d}"]
    assert first.streams["eeg"].options["crop_s"] == pytest.approx([7.0, 13.0])  # 2 s lead-in + 5 s fixation
    assert first.labels["valence"] == pytest.approx(float(ratings[1]["Valence"]))
    assert len(first.streams["eeg"].channels) == 32
    check_and_extract(out, "eeg")


def test_deap_problems_are_reported_and_valid_rest_written(tmp_path: Path, capsys) -> None:
    root = tmp_path / "deap"
    F.write_deap_preprocessed(root, subjects=(1, 2, 3, 4), trials=2)
    folder = root / "data_preprocessed_python"
    (folder / "s02.dat").unlink()                                             # missing subject
    (folder / "s03.dat").write_bytes((folder / "s03.dat").read_bytes()[:500])  # truncated download
    F.write_video(root / "face_video/s01/s01_trial01.avi", seconds=1.0)       # too short for its trial
    F.write_video(root / "face_video/s01/s01_trial02.avi", seconds=F.DEAP_SECONDS)
    F.write_video(root / "face_video/s01/s01_trial09.avi", seconds=F.DEAP_SECONDS)  # no such trial
    out = tmp_path / "m.yaml"
    code, text = from_dataset("deap", root, out, capsys)
    assert code == 1
    assert "s02.dat: missing" in text
    assert "s03.dat: not a readable pickle" in text
    assert "s01_trial01.avi: video lasts 1.0 s" in text and "does not match its trial" in text
    assert "s01_trial09.avi: no EEG trial 9" in text
    m = load_manifest(out)
    assert sorted({r.subject for r in m.recordings}) == ["deap-s01", "deap-s04"]
    assert "video" in m.by_id()["deap-s01-v01"].streams  # trial02 (Experiment_id 1) matched
    assert "video" not in m.by_id()["deap-s01-v02"].streams
    assert cli("manifest", "check", "-m", out) == 0


def test_malicious_deap_pickle_is_refused(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "deap" / "data_preprocessed_python"
    F.write_deap_preprocessed(tmp_path / "deap", subjects=(1,), trials=2)
    evil = folder / "s02.dat"
    evil.write_bytes(pickle.dumps({"data": Evil(), "labels": np.ones((2, 4))}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"s02.dat: refused to unpickle '(posix|nt)\.system'"):
        load_numpy_pickle(evil)
    code, text = from_dataset("deap", tmp_path / "deap", tmp_path / "m.yaml", capsys)
    assert code == 1 and "s02.dat: refused to unpickle" in text
    assert not marker.exists()
    assert [r.subject for r in load_manifest(tmp_path / "m.yaml").recordings] == ["deap-s01", "deap-s01"]


def test_python2_style_pickle_loads(tmp_path: Path) -> None:
    """DEAP's files come from Python 2: numpy.core names and the raw buffer as a latin-1 str."""
    from numpy._core.multiarray import _reconstruct

    arr = np.arange(12, dtype=np.float64).reshape(3, 4)

    class Py2Array:
        def __reduce__(self):
            state = (1, arr.shape, arr.dtype, False, arr.tobytes().decode("latin1"))
            return (_reconstruct, (np.ndarray, (0,), b"b"), state)

    blob = pickle.dumps({"data": Py2Array(), "labels": [1.0]}, protocol=2)
    path = tmp_path / "s01.dat"
    path.write_bytes(blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    out = load_numpy_pickle(path)
    np.testing.assert_array_equal(out["data"], arr)
    assert out["labels"] == [1.0]


# ------------------------------------------------------------------------------------- DREAMER
def test_dreamer_end_to_end_with_ecg(tmp_path: Path, capsys) -> None:
    root = tmp_path / "dreamer"
    F.write_dreamer(root, subjects=2, films=2)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("dreamer", root, out, capsys)
    assert code == 0 and "4 recordings" in text
    rec = load_manifest(out).by_id()["dreamer-s02-f02"]
    assert rec.covariates == {"age": 23.0, "sex": 1.0} and 1 <= rec.labels["arousal"] <= 5
    assert rec.stimulus == "f02" and load_manifest(out).by_id()["dreamer-s01-f02"].stimulus == "f02"
    eeg, ecg = read_raw(rec.streams["eeg"]), read_raw(rec.streams["ecg"])
    assert eeg.info["sfreq"] == 128 and len(eeg.ch_names) == 14 and eeg.n_times == 7 * 128
    assert ecg.info["sfreq"] == 256 and ecg.get_channel_types() == ["ecg", "ecg"] and ecg.n_times == 7 * 256
    check_and_extract(out, "eeg", "ecg")


def test_dreamer_corrupt_file_is_one_clear_error(tmp_path: Path, capsys) -> None:
    root = tmp_path / "dreamer"
    root.mkdir()
    (root / "DREAMER.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    code, text = from_dataset("dreamer", root, tmp_path / "m.yaml", capsys)
    assert code == 2 and "DREAMER.mat" in text


# -------------------------------------------------------------------------------------- AMIGOS
def test_amigos_end_to_end_with_ecg_and_video(tmp_path: Path, capsys) -> None:
    root = tmp_path / "amigos"
    F.write_amigos(root, participants=(1, 2))
    F.write_video(root / "face" / "P01_13_face.mov", seconds=7.0)  # fixture trial 2 (video 13) lasts 7 s
    out = tmp_path / "m.yaml"
    code, text = from_dataset("amigos", root, out, capsys)
    assert code == 0 and "6 recordings" in text
    m = load_manifest(out)
    rec = m.by_id()["amigos-p01-13"]
    assert rec.trial == "13" and rec.stimulus == "13" and rec.streams["video"].format == "mov" and set(rec.labels) >= {"valence", "arousal"}
    raw = read_raw(rec.streams["ecg"])
    assert raw.get_channel_types().count("eeg") == 14 and raw.get_channel_types().count("ecg") == 2
    check_and_extract(out, "eeg", "ecg")


def test_amigos_missing_empty_and_known_incomplete(tmp_path: Path, capsys) -> None:
    root = tmp_path / "amigos"
    F.write_amigos(root, participants=(1, 2, 4, 8), empty_trial=(2, 1))
    F.write_amigos(root, participants=(8,), empty_trial=(8, 0))
    F.write_video(root / "face" / "P01_99_face.mov", seconds=6.0)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("amigos", root, out, capsys)
    assert code == 1
    assert "Data_Preprocessed_P03.mat: missing" in text
    assert "P02.mat: trial 2 (video 13) has joined_data shape (0,)" in text
    assert "P01_99_face.mov: no trial with video 99" in text
    report = build_manifest("amigos", root, out)
    assert any("participant 8 is listed as incomplete" in e for e in report.excluded)
    assert not any("P08" in s and "trial 1" in s for s in report.skipped)
    assert report.recordings == 4 * 3 - 2 and cli("manifest", "check", "-m", out) == 0


# ---------------------------------------------------------------------------------------- misc
def test_probes_on_real_files(real_data: Path) -> None:
    from pipeline.adapters.probe import read_status, video_duration_s

    assert video_duration_s(real_data / "video" / "face_1080p.mp4") == pytest.approx(4.2, abs=0.05)
    with pytest.raises(ExtractionError, match=r"multiple_annotation_chans.bdf: no 'Status' channel"):
        read_status(real_data / "eeg" / "multiple_annotation_chans.bdf")



def test_unknown_dataset_and_missing_root(tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'deapx'. Valid names: deap, dreamer, amigos, mahnob, bids"):
        build_manifest("deapx", tmp_path, tmp_path / "m.yaml")
    with pytest.raises(ManifestError, match="dataset root not found"):
        build_manifest("deap", tmp_path / "nope", tmp_path / "m.yaml")
    with pytest.raises(ManifestError, match="no DEAP subject files found"):
        build_manifest("deap", tmp_path, tmp_path / "m.yaml")
    assert from_dataset("dreamerx", tmp_path, tmp_path / "m.yaml", capsys)[0] == 2


def test_reader_rejects_bad_options(tmp_path: Path, capsys) -> None:
    F.write_deap_preprocessed(tmp_path / "deap", subjects=(1,), trials=2)
    out = tmp_path / "m.yaml"
    from_dataset("deap", tmp_path / "deap", out, capsys)
    s = stream(out, "deap-s01-v01")
    wrong = type(s)(**{**s.__dict__, "options": {"trial_index": 7}})
    with pytest.raises(ExtractionError, match=r"s01.dat: options.trial_index must be an integer in 0..1, got 7"):
        read_raw(wrong)


@pytest.mark.slow
def test_deap_face_video_extracts(tmp_path: Path, capsys) -> None:
    root = tmp_path / "deap"
    F.write_deap_preprocessed(root, subjects=(1,), trials=2)
    F.write_deap_videos(root, pid=1, trials=1)
    out = tmp_path / "m.yaml"
    assert from_dataset("deap", root, out, capsys)[0] == 0
    assert cli("extract", "video", "-m", out, "--scheduler", "sync", "--random-init", "--device", "cpu",
               "--frames", "8", "--segment-s", "6", "--recording", "deap-s01-v02") == 0
    assert yaml.safe_load(out.read_text().split("\n", 2)[2])["version"] == 1
