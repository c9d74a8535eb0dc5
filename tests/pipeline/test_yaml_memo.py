"""The parsed-YAML memo beside large manifests: same value as parsing, never stale, never required."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pipeline.yaml_memo import MEMO_MIN_BYTES, load_yaml, memo_path


def _big(path: Path, value: float) -> dict:
    doc = {"version": 1, "rows": [{"id": f"r{i:05d}", "v": value, "flag": i % 2 == 0, "none": None}
                                  for i in range(MEMO_MIN_BYTES // 30)]}
    path.write_text(yaml.safe_dump(doc))
    assert path.stat().st_size >= MEMO_MIN_BYTES
    return doc


def test_memo_is_written_read_back_and_follows_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    doc = _big(path, 1.5)
    assert load_yaml(path) == doc and memo_path(path).is_file()
    memo_path(path).write_bytes(memo_path(path).read_bytes().replace(b"r00001", b"XXXXXX"))  # prove it is read
    assert load_yaml(path)["rows"][1]["id"] == "XXXXXX"
    changed = _big(path, 2.5)                                   # the YAML changes: the memo is not used
    assert load_yaml(path) == changed


def test_a_damaged_memo_or_a_read_only_folder_only_means_parsing(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    doc = _big(path, 1.0)
    load_yaml(path)
    blob = memo_path(path).read_bytes()
    memo_path(path).write_bytes(blob[: len(blob) // 2])         # torn
    assert load_yaml(path) == doc
    memo_path(path).unlink()
    os.chmod(tmp_path, 0o555)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as a user who can write to read-only folders")
        assert load_yaml(path) == doc and not memo_path(path).exists()
    finally:
        os.chmod(tmp_path, 0o755)


def test_small_files_and_dates_are_parsed_without_a_memo(tmp_path: Path) -> None:
    small = tmp_path / "s.yaml"
    small.write_text("a: 1\n")
    assert load_yaml(small) == {"a": 1} and not memo_path(small).exists()
    dated = tmp_path / "d.yaml"
    dated.write_text("when: 2026-12-02\n" + "# padding\n" * (MEMO_MIN_BYTES // 10))
    assert str(load_yaml(dated)["when"]) == "2026-12-02" and not memo_path(dated).exists()
