"""Stage two reads only the cache: a whole `cli train fusion` + `cli eval`, run in a fresh
interpreter, leaves no extractor, video/audio stack or encoder library in ``sys.modules``.
(The import-linter contract checks import statements; this checks what a real run loads.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fusion import synthetic as syn
from tests.fusion.cli_runs import REPO, env


def test_training_and_eval_import_no_stage_one_module(tmp_path: Path) -> None:
    manifest = syn.write_dataset(tmp_path / "data", subjects=3, trials=2, duration_s=6.0)
    proc = subprocess.run([sys.executable, "-m", "tests.fusion.stage_two_driver", str(manifest), str(tmp_path / "run")],
                          cwd=REPO, env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "run" / "fold0" / "model.safetensors").exists()
    line = next(x for x in proc.stdout.splitlines() if x.startswith("OFFENDING="))
    assert json.loads(line.split("=", 1)[1]) == []
