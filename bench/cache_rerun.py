"""No-op rerun versus first run over the demo manifest scaled to N recordings.

Copies the demo manifest's recordings N/len times (the files are hard links, so each scaled
recording hashes like the original), runs the chosen extractors once (first run), then again with
nothing changed (no-op rerun), and prints both times and their ratio. Both are measured in this run.

    python -m bench.cache_rerun --recordings 1000 --extractors eeg,ecg,audio
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline.manifest import load_manifest
from pipeline.run import RunOptions, extract


def scale_manifest(src: Path, n: int, out_dir: Path) -> Path:
    """A manifest with ``n`` recordings, cycling the source ones over hard-linked files."""
    raw = yaml.safe_load(src.read_text())
    base = src.parent
    ds = raw["datasets"][0]
    recs = ds["recordings"]
    scaled = []
    for i in range(n):
        rec = copy.deepcopy(recs[i % len(recs)])
        rec["id"] = f"{rec['id']}_x{i:04d}"
        for name, stream in rec["modalities"].items():
            src_file = (base / ds.get("root", ".") / stream["path"]).resolve()
            dst = out_dir / "files" / name / f"{i:04d}_{src_file.name}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():  # never write through an existing hard link into the source data
                raise SystemExit(f"{dst}: already exists; scaled files must be new")
            try:
                os.link(src_file, dst)
            except OSError:
                shutil.copy2(src_file, dst)
            stream["path"] = str(dst.relative_to(out_dir))
        scaled.append(rec)
    ds["recordings"] = scaled
    ds["root"] = "."
    raw["cache"] = "cache.zarr"
    out = out_dir / "data_manifest.yaml"
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, default=Path("data/demo/data_manifest.yaml"))
    ap.add_argument("--recordings", type=int, default=1000)
    ap.add_argument("--extractors", default="eeg,ecg,audio")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not args.manifest.exists():
        sys.exit(f"{args.manifest}: not found. Run `make demo` (or `cli synth demo --out data/demo`) first.")
    with tempfile.TemporaryDirectory() as tmp:
        manifest_path = scale_manifest(args.manifest, args.recordings, Path(tmp))
        m = load_manifest(manifest_path)
        opts = RunOptions(cache=str(m.cache), workers=args.workers)
        first = rerun = 0.0
        for name in args.extractors.split(","):
            t0 = time.perf_counter()
            s1 = extract(m, name, None, opts)
            t1 = time.perf_counter()
            s2 = extract(m, name, None, opts)
            t2 = time.perf_counter()
            assert s1.failed == 0 and s2.done == 0 and s2.skipped == s1.done, (s1.failures[:1], s2)
            print(f"{name:6s} first run {t1 - t0:8.2f} s ({s1.done} done, {s1.failed} failed)   "
                  f"no-op rerun {t2 - t1:6.2f} s ({s2.skipped} skipped)   ratio {(t1 - t0) / (t2 - t1):7.1f}x")
            first += t1 - t0
            rerun += t2 - t1
        print(f"total  first run {first:8.2f} s   no-op rerun {rerun:6.2f} s   "
              f"({rerun / len(args.extractors.split(',')) / args.recordings * 1000:.2f} s per 1,000 entries)   "
              f"ratio {first / rerun:7.1f}x")


if __name__ == "__main__":
    main()
