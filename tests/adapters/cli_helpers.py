"""Shared helpers of the adapter tests: run the CLI in-process and read what it wrote."""

from __future__ import annotations

from pathlib import Path

from pipeline.manifest import load_manifest


def cli(*args: str) -> int:
    from cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def from_dataset(dataset: str, root: Path, out: Path, capsys, *options: str) -> tuple[int, str]:
    code = cli("manifest", "from", dataset, root, "-o", out, *options)
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())  # undo rich's line wrapping


def check_and_extract(manifest: Path, *kinds: str) -> None:
    assert cli("manifest", "check", "-m", manifest) == 0
    for kind in kinds:
        assert cli("extract", kind, "-m", manifest, "--scheduler", "sync") == 0, kind


def stream(manifest: Path, rid: str, name: str = "eeg"):
    return load_manifest(manifest).by_id()[rid].streams[name]
