"""The benchmark scripts run as modules of the `bench` package, from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (REPO / "bench").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_no_script_edits_sys_path(script: Path) -> None:
    assert "sys.path" not in script.read_text(), f"{script.name}: run it as `python -m bench.{script.stem}` instead"


def test_a_benchmark_runs_as_a_module_from_the_repository_root() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.cache_rerun", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "--recordings" in done.stdout, done.stderr


def test_no_document_cites_the_old_script_commands() -> None:
    for doc in ("BENCHMARKS.md", "Makefile", "bench/gpu_checks.sh", *(f"bench/{p.name}" for p in SCRIPTS)):
        text = (REPO / doc).read_text()
        assert "python bench/" not in text and '"$py" bench/' not in text, doc


def test_the_torcheeg_comparison_also_runs_by_file_path_as_its_issue_spells_it(tmp_path: Path) -> None:
    script = str(REPO / "bench" / "peer_torcheeg.py")
    done = subprocess.run([sys.executable, script, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--subjects" in done.stdout, done.stderr
    elsewhere = subprocess.run([sys.executable, script, "--help"], cwd=tmp_path, capture_output=True, text=True,
                               timeout=120)
    assert elsewhere.returncode == 1 and "python -m bench.peer_torcheeg" in elsewhere.stderr
