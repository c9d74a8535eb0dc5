"""MAHNOB-HCI adapter on synthetic sessions laid out as bioidiap/bob.db.hci_tagging reads them:
Status span = the period the face video covers, EXG3 as the ECG lead, neutral-clip sessions,
'C1 trigger' videos found on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.adapters import build_manifest
from pipeline.extractors.ecg_extractor import choose_lead
from pipeline.manifest import load_manifest
from pipeline.signal_readers import read_raw
from tests.adapters import fixtures as F
from tests.adapters.cli_helpers import check_and_extract, from_dataset

SPAN = [2.0, 2.0 + F.MAHNOB_SECONDS]   # the fixture's Status span in BDF seconds


def test_mahnob_end_to_end(tmp_path: Path, capsys) -> None:
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1)
    F.write_mahnob_session(root, session=4, subject=2, trial=2)
    F.write_mahnob_session(root, session=6, subject=2, trial=3, felt=False)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("mahnob", root, out, capsys)
    assert code == 0 and "2 recordings" in text, text
    rec = load_manifest(out).by_id()["mahnob-s02-4"]
    assert rec.labels == {"valence": 3.0, "arousal": 7.0, "dominance": 5.0} and rec.trial == "m52"
    assert rec.stimulus == "m52"  # the film (session.xml mediaFile): stimulus-held-out splits group by it
    assert rec.streams["eeg"].options["crop_s"] == pytest.approx(SPAN)
    assert rec.streams["audio"].format == "wav"
    assert read_raw(rec.streams["eeg"]).n_times == F.MAHNOB_SECONDS * 256
    report = build_manifest("mahnob", root, out)
    assert len(report.excluded) == 1 and report.excluded[0].startswith("Sessions/6: no felt ratings")
    check_and_extract(out, "eeg", "ecg")


def test_video_starts_at_first_nonzero_status_sample(tmp_path: Path, capsys) -> None:
    """Regression (issue 14.4): the video was cut at [span0, span1] of its own time and compared with
    the whole BDF, so a video covering exactly the Status span (as in the reference) was rejected."""
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1)   # video lasts the span, BDF span + 4 s
    out = tmp_path / "m.yaml"
    code, text = from_dataset("mahnob", root, out, capsys)
    assert code == 0, text
    rec = load_manifest(out).by_id()["mahnob-s01-2"]
    video, audio = rec.streams["video"], rec.streams["audio"]
    assert video.offset_s == 0.0 and video.options["crop_s"] == pytest.approx([0.0, F.MAHNOB_SECONDS])
    assert audio.offset_s == 0.0 and audio.options["crop_s"] == pytest.approx([0.0, F.MAHNOB_SECONDS])
    # the video extractor samples the first trial second from the first video second (4 fps fixture)
    from pipeline.video.extract import plan_stream
    from pipeline.video.video_config import VideoConfig

    _, intervals, frames = plan_stream(video, VideoConfig(random_init=True, segment_s=1.0), 2)
    assert intervals[0].tolist() == [0.0, 1.0] and len(intervals) == F.MAHNOB_SECONDS
    assert frames[0].max() < 4 and frames[-1].min() >= 4 * (F.MAHNOB_SECONDS - 1)


def test_video_and_span_lengths_disagreeing_are_reported(tmp_path: Path, capsys) -> None:
    """Regression (issue 14.4): the length check must compare with the Status span, 1 s tolerance."""
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1, video_seconds=F.MAHNOB_SECONDS + 1.5)
    F.write_mahnob_session(root, session=4, subject=1, trial=2, video_seconds=2.0)
    out = tmp_path / "m.yaml"
    code, text = from_dataset("mahnob", root, out, capsys)
    assert code == 1
    assert "_C_Section_2.avi: video lasts 7.5 s but the Status span of its BDF lasts 6.0 s" in text
    assert "attached to 'mahnob-s01-2' from the span start, check its sync" in text
    assert "_C_Section_4.avi: video lasts 2.0 s" in text and "not attached to 'mahnob-s01-4'" in text
    m = load_manifest(out).by_id()
    assert "video" in m["mahnob-s01-2"].streams and "video" not in m["mahnob-s01-4"].streams


def test_cut_length_in_session_xml_checks_the_span(tmp_path: Path, capsys) -> None:
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1, cut_len_s=F.MAHNOB_SECONDS + 3)
    F.write_mahnob_session(root, session=4, subject=1, trial=2, cut_len_s=F.MAHNOB_SECONDS + 0.5)
    code, text = from_dataset("mahnob", root, tmp_path / "m.yaml", capsys)
    assert code == 1
    assert "Part_1_S_Trial1_emotion.bdf: Status span lasts 6.0 s but session.xml gives cutLenSec=9 s" in text
    assert "Trial2" not in text   # 0.5 s apart: within tolerance


def test_ecg_lead_is_exg3(tmp_path: Path, capsys) -> None:
    """Regression (issue 14.5): single-lead extraction used EXG1; the reference uses EXG3."""
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1)
    out = tmp_path / "m.yaml"
    build_manifest("mahnob", root, out)
    ecg = load_manifest(out).by_id()["mahnob-s01-2"].streams["ecg"]
    assert choose_lead(read_raw(ecg), ecg, None) == "EXG3"


def test_neutral_sessions_are_named(tmp_path: Path, capsys) -> None:
    """Regression (issue 14.6): Part_<s>_N_Trial<k> sessions are neutral clips, not 'not emotion'."""
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=3, subject=1, trial=2, neutral=True)
    F.write_mahnob_session(root, session=4, subject=1, trial=2)
    report = build_manifest("mahnob", root, tmp_path / "m.yaml")
    assert report.recordings == 1 and not report.skipped
    assert report.excluded == ["Sessions/3: neutral-clip session (Part_1_N_Trial2_emotion.bdf: the neutral video "
                               "shown before stimulus trial 2 of subject 1; no felt ratings)."]


def test_face_video_found_on_disk_when_xml_name_differs(tmp_path: Path, capsys) -> None:
    """Regression (issue 14.6): search '*C1 trigger*.avi' when session.xml's track name is not on disk."""
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1,
                           listed_video="P1-Rec1-2009.07.09.17.53.40_C1 trigger _C_Section_2.avi")
    out = tmp_path / "m.yaml"
    code, text = from_dataset("mahnob", root, out, capsys)
    assert code == 0, text
    video = load_manifest(out).by_id()["mahnob-s01-2"].streams["video"]
    assert video.path.name == "P1-Rec1-2009.07.09.17.53.46_C1 trigger _C_Section_2.avi"


def test_no_face_video_is_reported(tmp_path: Path, capsys) -> None:
    root = tmp_path / "mahnob"
    folder = F.write_mahnob_session(root, session=2, subject=1, trial=1)
    next(folder.glob("*C1 trigger*.avi")).unlink()
    code, text = from_dataset("mahnob", root, tmp_path / "m.yaml", capsys)
    assert code == 1 and "Sessions/2: no '*C1 trigger*.avi' face video" in text
    assert "'mahnob-s01-2' kept without video" in text


def test_mahnob_problems(tmp_path: Path, capsys) -> None:
    root = tmp_path / "mahnob"
    F.write_mahnob_session(root, session=2, subject=1, trial=1)
    bad = F.write_mahnob_session(root, session=6, subject=1, trial=3)
    (bad / "Part_1_S_Trial3_emotion.bdf").write_bytes(b"\xffBIOSEMI broken")
    (root / "Sessions" / "8").mkdir()
    out = tmp_path / "m.yaml"
    code, text = from_dataset("mahnob", root, out, capsys)
    assert code == 1
    assert "Sessions/8: no session.xml" in text
    assert "Part_1_S_Trial3_emotion.bdf: not a readable BDF" in text
    assert [r.id for r in load_manifest(out).recordings] == ["mahnob-s01-2"]
