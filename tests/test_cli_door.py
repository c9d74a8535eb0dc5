"""Errors at the door and the cache listing: missing manifests and caches, `cache ls` at 80
columns with the rebuild reasons, `extract all --set/--recording`."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from cli import main
from commandline.cache_views import print_groups
from pipeline.cache import FeatureCache
from pipeline.cache_inventory import list_groups


def run_cli(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), buf.getvalue()


COMMANDS = [("manifest", "check"), ("extract", "eeg"), ("extract", "ecg"), ("extract", "audio"),
            ("extract", "video"), ("extract", "all"), ("cache", "ls"), ("cache", "verify"), ("cache", "gc"),
            ("train", "fusion"), ("eval", "somerun")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_a_missing_manifest_does_not_exist_and_exits_2(command, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.yaml"
    code, _ = run_cli(*command, "--manifest", str(missing), *(["--cache", str(tmp_path)] if command[0] == "cache" else []))
    err = capsys.readouterr().err
    assert code == 2 and "nope.yaml" in err and "file not found" in err


def test_cache_ls_on_a_cache_that_does_not_exist_says_so(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run_cli("cache", "ls", "--cache", str(tmp_path / "nope.zarr"))
    assert code == 2 and "nope.zarr: no cache here" in capsys.readouterr().err and "empty" not in out


def _extract_all(manifest: Path, *extra: str) -> dict:
    code, out = run_cli("extract", "all", "--manifest", str(manifest), "--scheduler", "sync", "--json", *extra)
    assert code == 0, out
    return json.loads(out)


def test_extract_all_takes_set_with_a_modality_prefix_and_recording(eeg_dataset: Path) -> None:
    first = _extract_all(eeg_dataset, "--set", "eeg.h_freq=40", "--recording", "r1")
    assert (first["done"], first["skipped"]) == (1, 0)
    group = FeatureCache(eeg_dataset.parent / "cache.zarr").group(first["group"])
    assert group.identity["config"]["h_freq"] == 40
    plain = _extract_all(eeg_dataset, "--set", "h_freq=40")      # unprefixed: every extractor with the field
    assert plain["group"] == first["group"] and (plain["done"], plain["skipped"]) == (2, 1)


def test_extract_all_refuses_a_set_key_no_extractor_has(eeg_dataset: Path, capsys) -> None:
    code, _ = run_cli("extract", "all", "--manifest", str(eeg_dataset), "--set", "notch=60")
    assert code == 2 and "--set notch: no extractor of this run (eeg) has that field" in capsys.readouterr().err


def test_cache_ls_fits_80_columns_and_says_why_a_group_would_be_rebuilt(eeg_dataset: Path, capsys) -> None:
    first = _extract_all(eeg_dataset)
    second = _extract_all(eeg_dataset, "--set", "h_freq=30")    # supersedes the first group
    rows = list_groups(FeatureCache(eeg_dataset.parent / "cache.zarr"))
    assert {r.group: r.rebuild for r in rows} == {second["group"]: [],
                                                  first["group"]: [f"superseded by {second['group']}"]}
    buf = io.StringIO()
    print_groups("cache.zarr", rows, as_json=False, to=Console(file=buf, width=80, force_terminal=False))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    flat = "".join(text.split())        # values may fold across lines, never lose letters
    for r in rows:
        assert "".join(r.group.split()) in flat.replace("│", "")
    assert "rebuild?:no" in flat.replace("│", "") and "supersededby" in flat.replace("│", "")
    code, out = run_cli("cache", "ls", "--manifest", str(eeg_dataset), "--json")
    assert code == 0 and [json.loads(line)["rebuild"] for line in out.splitlines()] == [r.rebuild for r in rows]
