from pathlib import Path

import pytest
import yaml

from cli import main
from pipeline.errors import ManifestError
from pipeline.manifest import load_manifest
from tests.conftest import write_eeg_edf, write_manifest


def test_valid_manifest_resolves_paths_and_kinds(tmp_path: Path) -> None:
    write_eeg_edf(tmp_path / "a.edf")
    m = write_manifest(tmp_path / "m.yaml", [
        {"id": "r1", "subject": 7, "labels": {"valence": 4},
         "modalities": {"eeg": {"path": "a.edf"}, "face": {"kind": "video", "path": "a.edf", "format": "mp4"}}}])
    man = load_manifest(m)
    rec = man.recordings[0]
    assert rec.subject == "7"
    assert rec.streams["eeg"].path == (tmp_path / "a.edf").resolve()
    assert rec.streams["eeg"].format == "edf"
    assert [s.name for s in rec.streams_of("video")] == ["face"]
    assert man.cache == tmp_path / "cache.zarr"


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    write_eeg_edf(tmp_path / "a.edf")
    m = write_manifest(tmp_path / "m.yaml", [
        {"id": "r1", "subject": "s1", "modalities": {"eeg": {"path": "missing.edf"}}},
        {"id": "r1", "subject": "s2", "modalities": {"eeg": {"path": "a.edf"}}},
        {"id": "r3", "subject": "s3", "modalities": {"eeg": {"path": "a.xyz"}}},
        {"id": "r4", "subject": "s4", "labels": {"joy": 3}, "modalities": {"eeg": {"path": "a.edf"}}},
        {"id": "r5", "subject": "s5", "labels": {"valence": 12}, "modalities": {"eeg": {"path": "a.edf"}}},
        {"id": "r6", "subject": "s6", "modalities": {"eeg": {"path": "../outside.edf"}}},
    ])
    with pytest.raises(ManifestError) as exc:
        load_manifest(m)
    problems = exc.value.problems
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert "recording 'r1': modalities.eeg: eeg path 'missing.edf' not found" in text
    assert "recording 'r1': duplicate id" in text
    assert "recording 'r3': modalities.eeg: unknown eeg format" in text
    assert "recording 'r4': labels.joy: unknown label scale" in text
    assert "recording 'r5': labels.valence: 12.0 is outside its scale" in text
    assert "recording 'r6': modalities.eeg: path '../outside.edf' points outside the dataset root" in text


def test_schema_errors_name_recording_and_key(tmp_path: Path) -> None:
    m = write_manifest(tmp_path / "m.yaml", [
        {"id": "bad", "subject": "s1", "modalities": {"eeg": {"path": "a.edf", "offset_s": -1}}},
        {"id": "typo", "subject": "s1", "modalities": {"eeg": {"path": "a.edf", "ofset_s": 1}}},
    ])
    with pytest.raises(ManifestError) as exc:
        load_manifest(m)
    text = "\n".join(exc.value.problems)
    assert "recording 'bad': modalities.eeg.offset_s" in text and ">= 0" in text
    assert "recording 'typo': modalities.eeg.ofset_s" in text


def test_cli_manifest_check_exit_codes(tmp_path: Path, capsys) -> None:
    write_eeg_edf(tmp_path / "a.edf")
    good = write_manifest(tmp_path / "good.yaml", [{"id": "r", "subject": "s", "modalities": {"eeg": {"path": "a.edf"}}}])
    bad = write_manifest(tmp_path / "bad.yaml", [{"id": "r", "subject": "s", "modalities": {"eeg": {"path": "nope.edf"}}}])
    with pytest.raises(SystemExit) as ok:
        main(["manifest", "check", "--manifest", str(good)])
    assert ok.value.code == 0
    with pytest.raises(SystemExit) as fail:
        main(["manifest", "check", "--manifest", str(bad)])
    assert fail.value.code == 1
    assert "nope.edf' not found" in capsys.readouterr().err


def test_not_a_mapping_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ManifestError, match="expected a mapping"):
        load_manifest(p)


def test_label_scale_threshold_rule(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from fusion.batches import encode_labels
    from pipeline.manifest import LabelScale

    exclusive, inclusive = LabelScale(min=1, max=5, threshold=3), LabelScale(min=1, max=5, threshold=3, threshold_inclusive=True)
    assert [exclusive.binarize(v) for v in (2, 3, 4)] == [0.0, 0.0, 1.0]
    assert [inclusive.binarize(v) for v in (2, 3, 4)] == [0.0, 1.0, 1.0]
    assert inclusive.binarize(4, threshold=4) == 1.0 and exclusive.binarize(4, threshold=4) == 0.0
    assert LabelScale(min=1, max=9).binarize(5) == 0.0   # no threshold: the midpoint, exclusive
    # stage two binarises through the scale, so the manifest's rule reaches the training targets
    ws = SimpleNamespace(features=[SimpleNamespace(rec=SimpleNamespace(labels={"valence": 3.0}))])
    y_ex, _ = encode_labels(ws, ("valence",), "binary", {"valence": exclusive}, {})
    y_in, _ = encode_labels(ws, ("valence",), "binary", {"valence": inclusive}, {})
    assert (y_ex[0, 0], y_in[0, 0]) == (0.0, 1.0)


def test_threshold_inclusive_in_yaml_and_typos_rejected(tmp_path: Path) -> None:
    write_eeg_edf(tmp_path / "a.edf")
    rec = [{"id": "r", "subject": "s", "labels": {"valence": 5}, "modalities": {"eeg": {"path": "a.edf"}}}]
    m = write_manifest(tmp_path / "m.yaml", rec, {"valence": {"min": 1, "max": 9, "threshold": 5,
                                                              "threshold_inclusive": True}})
    assert load_manifest(m).label_scales["valence"].binarize(5) == 1.0
    bad = write_manifest(tmp_path / "bad.yaml", rec, {"valence": {"min": 1, "max": 9, "threshold_inclusve": True}})
    with pytest.raises(ManifestError, match="threshold_inclusve"):
        load_manifest(bad)
