"""Run a command and measure it: wall time, peak RSS of its whole process tree, or kill it mid-way.

Peak RSS sums the resident memory of the process and all its descendants (worker processes
included), sampled every 50 ms; shared pages count once per process, for both tools alike.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Measured:
    wall_s: float
    peak_rss: int
    rc: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        """The JSON object the command printed (the whole stdout, or its last line)."""
        text = self.stdout
        lines = [ln for ln in text.splitlines() if ln.startswith("{")]
        candidates = [text.strip(), lines[-1] if lines else "", text[text.find("{"):text.rfind("}") + 1]]
        for candidate in candidates:
            try:
                return json.loads(candidate)
            except json.JSONDecodeError:
                continue
        raise RuntimeError(f"no JSON object in the command's output; stdout: {text[-2000:]!r}; "
                           f"stderr: {self.stderr[-2000:]!r}")


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
    except psutil.NoSuchProcess:
        pass
    return total


def _kill_tree(proc: subprocess.Popen, ps: psutil.Process) -> None:
    """SIGKILL the command, its process group and any descendant that left the group (pool workers)."""
    try:
        descendants = ps.children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    os.killpg(proc.pid, signal.SIGKILL)
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait()


def run(cmd: list[str], cwd: Path | None = None, kill_after_s: float | None = None,
        env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` to completion (or SIGKILL its process group after ``kill_after_s``)."""
    t0 = time.perf_counter()
    out_path, err_path = Path(f"/tmp/.peer_bench_{os.getpid()}.out"), Path(f"/tmp/.peer_bench_{os.getpid()}.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, start_new_session=True,
                                env={**os.environ, **(env or {})})
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(ps))
            if kill_after_s is not None and time.perf_counter() - t0 >= kill_after_s:
                _kill_tree(proc, ps)
                break
            time.sleep(0.05)
    wall = time.perf_counter() - t0
    stdout, stderr = out_path.read_text(), err_path.read_text()
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    return Measured(wall, peak, proc.returncode, stdout, stderr)


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (as ``du``: blocks, not apparent sizes)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())
