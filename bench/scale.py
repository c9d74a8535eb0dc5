"""Extraction throughput against local Dask workers and recording count, and no-op rerun cost.

Scales the demo manifest (hard-linked files) to N recordings and runs one extractor on a local
Dask cluster of worker processes. Prints recordings/s for 1, 2 and 4 workers (ratio against 1
worker, measured in the same run), the cost curve over N = 10, 100, 1000, and a no-op rerun's time
per 1,000 entries.

    python -m bench.scale --extractor eeg --workers 1,2,4 --sizes 10,100,1000 --scaling-size 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.cache_rerun import scale_manifest
from pipeline.manifest import load_manifest
from pipeline.run import RunOptions, extract


def timed_run(src: Path, n: int, extractor: str, workers: int) -> tuple[float, float, int]:
    """(first-run seconds, no-op rerun seconds, failures) for n recordings on ``workers`` processes."""
    with tempfile.TemporaryDirectory() as tmp:
        m = load_manifest(scale_manifest(src, n, Path(tmp)))
        opts = RunOptions(cache=str(m.cache), workers=workers, processes=True)
        t0 = time.perf_counter()
        first = extract(m, extractor, None, opts)
        t1 = time.perf_counter()
        again = extract(m, extractor, None, opts)
        t2 = time.perf_counter()
        assert again.done == 0 and again.skipped == first.done
        return t1 - t0, t2 - t1, first.failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, default=Path("data/demo/data_manifest.yaml"))
    ap.add_argument("--extractor", default="eeg")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--scaling-size", type=int, default=100)
    args = ap.parse_args()
    if not args.manifest.exists():
        sys.exit(f"{args.manifest}: not found. Run `make demo` (or `cli synth demo --out data/demo`) first.")
    print(f"extractor {args.extractor}; local Dask cluster of worker processes; demo recordings hard-linked")
    print(f"\nworkers at {args.scaling_size} recordings:")
    base = None
    for w in [int(x) for x in args.workers.split(",")]:
        first, rerun, failed = timed_run(args.manifest, args.scaling_size, args.extractor, w)
        rate = args.scaling_size / first
        base = base or rate
        print(f"  {w} worker(s): {first:7.2f} s  {rate:6.2f} rec/s  x{rate / base:4.2f} vs 1 worker  (failed {failed})")
    print("\ncost curve (2 workers):")
    for n in [int(x) for x in args.sizes.split(",")]:
        first, rerun, failed = timed_run(args.manifest, n, args.extractor, 2)
        print(f"  {n:5d} recordings: first run {first:7.2f} s ({first / n * 1000:7.1f} ms/rec)   "
              f"no-op rerun {rerun:5.2f} s ({rerun / n * 1000:5.2f} s per 1,000 entries)   first/rerun x{first / rerun:5.1f}")


if __name__ == "__main__":
    main()
