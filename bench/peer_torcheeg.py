"""eegavi side by side with TorchEEG 1.1.3 on a DEAP-sized dataset: same files, same features, one run.

    make bench-peers                                  # TorchEEG in .venv-peers (once)
    python -m bench.peer_torcheeg --subjects 32 --record

Both tools turn ``data_preprocessed_python/sNN.dat`` into band differential entropy (theta, alpha,
beta, gamma per EEG channel) of 1 s windows without overlap after the 3 s baseline, cached, with 2
local workers: TorchEEG through ``DEAPDataset(offline_transform=BandDifferentialEntropy(),
io_path=..., num_worker=2)`` in its own venv, eegavi through ``cli manifest from deap`` and
``cli extract eeg --features bands --workers 2`` in this one. Measured: (a) first build time and peak RSS,
(b) no-op rebuild, (c) one band edge changed (alpha 8-14 -> 8-13 Hz): rebuild? stale windows?,
(d) bytes on disk, (e) SIGKILL at a random moment, rerun, windows missing/duplicated/differing
from the clean build, (f) agreement of the two tools' features, and the interop check (TorchEEG's
CCNN trains one epoch from eegavi's cache). Prints one table; ``--record`` writes it into
BENCHMARKS.md. Data is generated once into bench/.data/deap and reused.
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # run by its file path: run it as the module it is
    import os
    import sys
    from pathlib import Path

    if Path.cwd().resolve() != Path(__file__).resolve().parents[1]:
        raise SystemExit(f"run it from the repository root ({Path(__file__).resolve().parents[1]}): "
                         "python -m bench.peer_torcheeg --subjects 32")
    os.execv(sys.executable, [sys.executable, "-m", "bench.peer_torcheeg", *sys.argv[1:]])

import argparse
import json
import logging
import pickle
import random
import shutil
import sys
from pathlib import Path

import numpy as np

from bench import deap_synth
from bench.band_windows import BandWindows
from bench.proc_measure import Measured, disk_bytes, run
from pipeline.eeg_bands import band_de

REPO = Path(__file__).resolve().parents[1]

_log = logging.getLogger("peer_torcheeg")
BANDS = {"theta": [4, 8], "alpha": [8, 14], "beta": [14, 31], "gamma": [31, 49]}
CHANGED = {**BANDS, "alpha": [8, 13]}                  # one band edge moved
ALPHA = 1
SAME = 1e-6                                             # |diff| below this: the same number
# The kill moment, as a fraction of the side's clean build time: inside the first half, so that the
# killed build has a partial output whatever the machine's load does to its pace (a later moment
# let TorchEEG's faster killed build finish writing before the signal, which tested nothing).
KILL_FRACTIONS = (0.15, 0.5)


def _bands_flag(bands: dict) -> str:
    return ",".join(f"{n}:{lo}-{hi}" for n, (lo, hi) in bands.items())


class Sides:
    """Commands of both tools on one dataset and work folder."""

    def __init__(self, data: Path, work: Path, peer_python: Path, workers: int) -> None:
        self.data, self.work, self.peer, self.workers = data, work, peer_python, workers
        self.manifest = work / "data_manifest.yaml"

    def manifest_from_deap(self) -> Measured:
        return run([sys.executable, "cli.py", "manifest", "from", "deap", str(self.data), "-o", str(self.manifest)],
                   cwd=REPO)

    def eegavi(self, cache: str, bands: dict = BANDS, kill_after_s: float | None = None) -> Measured:
        return run([sys.executable, "cli.py", "extract", "eeg", "--features", "bands", "-m", str(self.manifest), "--cache",
                    str(self.work / cache), "--workers", str(self.workers), "--bands",
                    _bands_flag(bands), "--json"], cwd=REPO, kill_after_s=kill_after_s)

    def torcheeg(self, command: str, io_path: str, bands: dict = BANDS, kill_after_s: float | None = None,
                 out: Path | None = None) -> Measured:
        cmd = [str(self.peer), "-m", "bench.torcheeg_side", command, "--root", str(self.data), "--io-path",
               str(self.work / io_path), "--bands", json.dumps(bands), "--workers", str(self.workers)]
        return run(cmd + (["--out", str(out)] if out else []), cwd=REPO, kill_after_s=kill_after_s)

    def torcheeg_windows(self, io_path: str, bands: dict = BANDS) -> tuple[np.ndarray, np.ndarray]:
        """(keys (W, 3) subject/trial/k, de (W, 32, 4)) as TorchEEG returns them from ``io_path``."""
        out = self.work / f"{io_path}.npz"
        res = self.torcheeg("dump", io_path, bands, out=out)
        if res.rc != 0:
            raise RuntimeError(f"TorchEEG dump of {io_path} failed: {res.stderr[-2000:]}")
        z = np.load(out)
        return np.stack([z["subject"], z["trial"], z["k"]], axis=1), z["de"]

    def eegavi_windows(self, cache: str, group: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        w = BandWindows(self.work / cache, self.manifest, group=group)
        return w.keys, w.de, w.group_path


def _checked(res: Measured, what: str) -> Measured:
    if res.rc != 0:
        raise RuntimeError(f"{what} failed (exit {res.rc}): {res.stderr[-3000:]}")
    return res


def compare(clean_keys: np.ndarray, clean: np.ndarray, keys: np.ndarray, got: np.ndarray) -> dict:
    """Windows of a rerun against a clean build: missing, duplicated, differing (beyond SAME)."""
    code = lambda k: k[:, 0] * 1_000_000 + k[:, 1] * 1_000 + k[:, 2]  # noqa: E731
    clean_code, got_code = code(clean_keys), code(keys)
    uniq, counts = np.unique(got_code, return_counts=True)
    index = {c: i for i, c in enumerate(clean_code)}
    first = {c: i for i, c in reversed(list(enumerate(got_code)))}
    differing = sum(1 for c, j in first.items() if c in index and np.abs(got[j] - clean[index[c]]).max() > SAME)
    return {"missing": int(len(set(clean_code) - set(got_code))), "duplicated": int((counts - 1).sum()),
            "differing": int(differing), "extra": int(len(set(uniq) - set(clean_code)))}


def joined(keys_a: np.ndarray, a: np.ndarray, keys_b: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``a`` and ``b`` with equal keys, aligned."""
    code = lambda k: k[:, 0] * 1_000_000 + k[:, 1] * 1_000 + k[:, 2]  # noqa: E731
    ca, cb = code(keys_a), code(keys_b)
    common, ia, ib = np.intersect1d(ca, cb, return_indices=True)
    return a[ia], b[ib]


def stale_windows(keys_old, old, keys_new, new) -> int:
    """Windows whose changed-band value after the change equals the value of the old setting."""
    o, n = joined(keys_old, old, keys_new, new)
    return int((np.abs(o[..., ALPHA] - n[..., ALPHA]) <= SAME).all(axis=-1).sum())   # every channel old


def truth_error(data: Path, keys: np.ndarray, de: np.ndarray, bands: dict) -> float:
    """Max |returned - recomputed| on subject 1's first two trials, for the given setting."""
    content = pickle.loads((data / "data_preprocessed_python" / "s01.dat").read_bytes(), encoding="latin1")
    worst = 0.0
    spec = tuple((n, float(lo), float(hi)) for n, (lo, hi) in bands.items())
    for trial in (0, 1):
        expect = band_de(content["data"][trial, :32, 384:], 128.0, spec)       # (60, 32, 4)
        rows = np.flatnonzero((keys[:, 0] == 1) & (keys[:, 1] == trial))
        if rows.size:
            worst = max(worst, float(np.abs(de[rows] - expect[keys[rows, 2]]).max()))
    return worst


def measure(sides: Sides, seed: int) -> dict:
    r: dict = {"eegavi": {}, "torcheeg": {}}
    _log.info("partial results are saved to %s after each stage", sides.work / "results.json")
    e, t = r["eegavi"], r["torcheeg"]
    e["manifest_s"] = _checked(sides.manifest_from_deap(), "cli manifest from deap").wall_s
    _log.info("(a) first builds")
    first = _checked(sides.eegavi("clean.zarr"), "eegavi build")
    e["build"] = {"wall_s": first.wall_s + e["manifest_s"], "peak_rss": first.peak_rss, **_summary(first)}
    tfirst = _checked(sides.torcheeg("build", "clean-io"), "TorchEEG build")
    t["build"] = {"wall_s": tfirst.wall_s, "peak_rss": tfirst.peak_rss, **tfirst.json()}
    _save(sides, r)
    _log.info("(b) no-op rebuilds")
    noop = _checked(sides.eegavi("clean.zarr"), "eegavi no-op")
    e["noop"] = {"wall_s": noop.wall_s, **_summary(noop)}
    tnoop = _checked(sides.torcheeg("build", "clean-io"), "TorchEEG no-op")
    t["noop"] = {"wall_s": tnoop.wall_s, **tnoop.json()}
    _save(sides, r)
    _log.info("(f) agreement")
    ekeys, ede, clean_group = sides.eegavi_windows("clean.zarr", first.json()["group"])
    tkeys, tde = sides.torcheeg_windows("clean-io")
    a, b = joined(ekeys, ede, tkeys, tde)
    r["agreement"] = {"windows_eegavi": len(ekeys), "windows_torcheeg": len(tkeys), "joined": len(a),
                      "max_abs": float(np.abs(a - b).max()), "max_rel": float((np.abs(a - b) / np.abs(b)).max()),
                      "truth_eegavi": truth_error(sides.data, ekeys, ede, BANDS),
                      "truth_torcheeg": truth_error(sides.data, tkeys, tde, BANDS)}
    _log.info("(d) bytes on disk")
    e["bytes"] = disk_bytes(sides.work / "clean.zarr" / clean_group)
    t["bytes"] = disk_bytes(sides.work / "clean-io")
    _save(sides, r)
    _log.info("(c) one band edge changed")
    changed = _checked(sides.eegavi("clean.zarr", CHANGED), "eegavi after band change")
    ckeys, cde, new_group = sides.eegavi_windows("clean.zarr", changed.json()["group"])
    e["changed"] = {"wall_s": changed.wall_s, **_summary(changed), "rebuilt": new_group != clean_group,
                    "stale": stale_windows(ekeys, ede, ckeys, cde), "windows": len(ckeys),
                    "truth": truth_error(sides.data, ckeys, cde, CHANGED)}
    tchanged = _checked(sides.torcheeg("build", "clean-io", CHANGED), "TorchEEG after band change")
    tckeys, tcde = sides.torcheeg_windows("clean-io", CHANGED)
    t["changed"] = {"wall_s": tchanged.wall_s, **tchanged.json(), "rebuilt": tchanged.json()["processed"],
                    "stale": stale_windows(tkeys, tde, tckeys, tcde), "windows": len(tckeys),
                    "truth": truth_error(sides.data, tckeys, tcde, CHANGED)}
    _save(sides, r)
    _log.info("(e) kill and rerun")
    rng = random.Random(seed)
    for side, res in ((e, first), (t, tfirst)):
        frac = rng.uniform(*KILL_FRACTIONS)
        side["kill"] = {"at_fraction": frac, "at_s": frac * res.wall_s}
    killed = sides.eegavi("kill.zarr", kill_after_s=e["kill"]["at_s"])
    e["kill"]["killed"] = killed.rc < 0
    rerun = _checked(sides.eegavi("kill.zarr"), "eegavi rerun after kill")
    e["kill"]["rerun_s"] = rerun.wall_s
    e["kill"].update(_summary(rerun))
    kkeys, kde, _ = sides.eegavi_windows("kill.zarr", rerun.json()["group"])
    e["kill"].update(compare(ekeys, ede, kkeys, kde))
    tkill = sides.torcheeg("build", "kill-io", kill_after_s=t["kill"]["at_s"])
    t["kill"]["killed"] = tkill.rc < 0
    trerun = sides.torcheeg("build", "kill-io")
    t["kill"]["rerun_s"] = trerun.wall_s
    if trerun.rc == 0:
        t["kill"].update(trerun.json())
        tkkeys, tkde = sides.torcheeg_windows("kill-io")
        t["kill"].update(compare(tkeys, tde, tkkeys, tkde))
    else:
        t["kill"].update({"error": trerun.stderr.strip().splitlines()[-1][:300], "missing": len(tkeys),
                          "duplicated": 0, "differing": 0})
    _save(sides, r)
    _log.info("interop: TorchEEG CCNN on eegavi's cache")
    r["interop"] = sides_interop(sides, clean_group)
    return r


def noop_again(sides: Sides, times: int) -> dict:
    """Both no-op rebuilds of a finished run's work folder, ``times`` each, alternating; medians."""
    walls: dict[str, list[float]] = {"eegavi": [], "torcheeg": []}
    calls: dict[str, list[float]] = {"eegavi": [], "torcheeg": []}
    for _ in range(times):
        e = _checked(sides.eegavi("clean.zarr"), "eegavi no-op")
        if e.json()["done"]:
            raise RuntimeError(f"eegavi's 'no-op' rebuilt {e.json()['done']} entries: not a no-op")
        t = _checked(sides.torcheeg("build", "clean-io"), "TorchEEG no-op")
        walls["eegavi"].append(e.wall_s)
        calls["eegavi"].append(e.json()["seconds"])
        walls["torcheeg"].append(t.wall_s)
        calls["torcheeg"].append(t.json()["seconds"])
    med = lambda xs: float(np.median(xs))  # noqa: E731
    return {"times": times, **{f"{side}_wall_s": med(walls[side]) for side in walls},
            **{f"{side}_call_s": med(calls[side]) for side in calls}}


def _save(sides: Sides, r: dict) -> None:
    (sides.work / "results.json").write_text(json.dumps(r, indent=1))


def sides_interop(sides: Sides, group: str) -> dict:
    res = run([str(sides.peer), "-m", "bench.torcheeg_side", "interop", "--cache", str(sides.work / "clean.zarr"),
               "--manifest", str(sides.manifest), "--group", group, "--subjects", "1"], cwd=REPO)
    return res.json() if res.rc == 0 else {"error": res.stderr.strip()[-500:]}


def _summary(res: Measured) -> dict:
    s = res.json()
    return {k: s[k] for k in ("done", "skipped", "failed", "seconds")}


# ------------------------------------------------------------------------------------ report
def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


def table(r: dict) -> str:
    """The markdown table of one run (ratios are TorchEEG / eegavi: above 1 means eegavi is better)."""
    e, t, ag = r["eegavi"], r["torcheeg"], r["agreement"]
    rows = [
        ("(a) first build, wall", f"{e['build']['wall_s']:.1f} s", f"{t['build']['wall_s']:.1f} s",
         _ratio(t["build"]["wall_s"], e["build"]["wall_s"])),
        ("(a) first build, peak RSS (process tree)", _mb(e["build"]["peak_rss"]), _mb(t["build"]["peak_rss"]),
         _ratio(t["build"]["peak_rss"], e["build"]["peak_rss"])),
        ("(b) no-op rebuild, wall (process start included)", f"{e['noop']['wall_s']:.2f} s",
         f"{t['noop']['wall_s']:.2f} s", _ratio(t["noop"]["wall_s"], e["noop"]["wall_s"])),
        ("(b) no-op rebuild, in the call (imports excluded)", f"{e['noop']['seconds']:.2f} s",
         f"{t['noop']['seconds']:.2f} s", _ratio(t["noop"]["seconds"], e["noop"]["seconds"])),
        ("(c) alpha 8-14 -> 8-13 Hz: rebuilds?", "yes (new group)" if e["changed"]["rebuilt"] else "no",
         "yes" if t["changed"]["rebuilt"] else "no (same io_path is read back)", ""),
        ("(c) stale windows returned (old alpha)", f"{e['changed']['stale']} / {e['changed']['windows']}",
         f"{t['changed']['stale']} / {t['changed']['windows']}", ""),
        ("(c) wall after the change", f"{e['changed']['wall_s']:.1f} s", f"{t['changed']['wall_s']:.1f} s", ""),
        ("(d) bytes on disk (allocated)", _mb(e["bytes"]), _mb(t["bytes"]), _ratio(t["bytes"], e["bytes"])),
        ("(e) SIGKILL at", f"{e['kill']['at_s']:.1f} s ({e['kill']['at_fraction']:.0%} of build)",
         f"{t['kill']['at_s']:.1f} s ({t['kill']['at_fraction']:.0%} of build)", ""),
        ("(e) rerun after kill, wall", _rerun_cell(e["kill"]), _rerun_cell(t["kill"]), ""),
        ("(e) windows missing / duplicated / differing", _kill_cell(e["kill"]), _kill_cell(t["kill"]), ""),
    ]
    lines = ["| measure | eegavi | TorchEEG 1.1.3 | TorchEEG / eegavi |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append("")
    lines.append(f"(f) agreement on {ag['joined']:,} common windows (eegavi {ag['windows_eegavi']:,}, TorchEEG "
                 f"{ag['windows_torcheeg']:,}): max |difference| {ag['max_abs']:.2e} (max relative "
                 f"{ag['max_rel']:.2e}); against a direct recomputation: eegavi {ag['truth_eegavi']:.1e}, "
                 f"TorchEEG {ag['truth_torcheeg']:.1e}. After the band change: eegavi {r['eegavi']['changed']['truth']:.1e}, "
                 f"TorchEEG {r['torcheeg']['changed']['truth']:.1e} from the new setting's values.")
    again = r.get("noop_again")
    if again:
        lines.append(f"(b) measured again after the run on its work folder (`--from-results ... --noop-again "
                     f"{again['times']}`: both no-ops {again['times']} times, alternating, medians), with the eegavi "
                     f"of the commit that recorded this table: eegavi {again['eegavi_wall_s']:.2f} s whole process "
                     f"({again['eegavi_call_s']:.2f} s in the call), TorchEEG {again['torcheeg_wall_s']:.2f} s "
                     f"({again['torcheeg_call_s']:.2f} s): "
                     f"{_ratio(again['torcheeg_wall_s'], again['eegavi_wall_s'])} as a process, "
                     f"{_ratio(again['torcheeg_call_s'], again['eegavi_call_s'])} in the call.")
    it = r.get("interop", {})
    if "error" in it:
        lines.append(f"Interop (TorchEEG CCNN from eegavi's cache): FAILED: {it['error']}")
    else:
        lines.append(f"Interop: TorchEEG's `CCNN` trained one epoch ({it['batches']} batches, {it['windows']:,} "
                     f"windows of {_first_subjects(it['subjects'])}) from eegavi's cache in the TorchEEG venv: loss {it['first_loss']:.3f} -> "
                     f"{it['last_loss']:.3f}, train accuracy {it['train_accuracy']:.2f}, {it['seconds']:.1f} s.")
    return "\n".join(lines)


def targets(r: dict) -> str:
    """The issue's targets, each met or missed, from this run's numbers."""
    e, t = r["eegavi"], r["torcheeg"]
    checks = [
        ("first build at least as fast as TorchEEG", e["build"]["wall_s"] <= t["build"]["wall_s"]),
        ("no-op rebuild at least 10x faster (in the call)", t["noop"]["seconds"] >= 10 * e["noop"]["seconds"]),
        ("no-op rebuild at least 10x faster (whole process)", t["noop"]["wall_s"] >= 10 * e["noop"]["wall_s"]),
        ("zero stale windows after a band change", e["changed"]["stale"] == 0),
        ("zero missing/differing windows after a kill", e["kill"]["missing"] == 0 and e["kill"]["differing"] == 0
         and e["kill"]["duplicated"] == 0),
        ("bytes on disk no more than TorchEEG's", e["bytes"] <= t["bytes"]),
    ]
    again = r.get("noop_again")
    if again:
        checks[1:3] = [
            ("no-op rebuild at least 10x faster (in the call, measured again)",
             again["torcheeg_call_s"] >= 10 * again["eegavi_call_s"]),
            ("no-op rebuild at least 10x faster (whole process, measured again)",
             again["torcheeg_wall_s"] >= 10 * again["eegavi_wall_s"])]
    return "Targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks) + "."


READING = """How to read it. TorchEEG keys its cache by the `io_path` folder alone: when the folder exists it
reads it back without looking at the transform, so after the band change it returns the old alpha
values (its "after the change" time is a read, not a rebuild), and after a kill the partial folder
is read back as if complete (the rerun neither errors nor fills the gap). eegavi's group key hashes
the config (so the change builds a new group, a full rebuild of the band features) and each entry
has a completion mark written last (so the rerun finishes exactly the missing recordings). The
no-op wall time of both tools is mostly interpreter start and imports; "in the call" times the
library call alone (eegavi's `extract()`; TorchEEG's `DEAPDataset(...)` constructor). Features
agree to float32 precision: eegavi stores float32, TorchEEG pickles float64 per window; TorchEEG's
folder also holds one raw 3 s baseline average per trial and an info.csv per subject."""


def _first_subjects(n: int | None) -> str:
    return "every subject" if not n else "subject 1" if n == 1 else f"subjects 1-{n}"


def _rerun_cell(k: dict) -> str:
    """The rerun's time and what it did: eegavi's counts of rebuilt/kept entries, TorchEEG's windows."""
    what = (f" ({k['done']} recordings rebuilt, {k['skipped']} kept)" if "done" in k else
            f" (read back: {k['windows']:,} windows)" if k.get("processed") is False else "")
    return f"{k['rerun_s']:.1f} s{what}"


def _kill_cell(k: dict) -> str:
    cell = f"{k['missing']} / {k['duplicated']} / {k['differing']}"
    if not k.get("killed", True):
        cell += " (the build finished before the kill: nothing tested)"
    return cell + (f" (rerun failed: {k['error']})" if "error" in k else "")


SECTION = "## Side by side with TorchEEG on a DEAP-sized dataset (`bench/peer_torcheeg.py`)"


def record(md: str, benchmarks: Path) -> None:
    """Replace (or append) this benchmark's section of BENCHMARKS.md."""
    text = benchmarks.read_text()
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        nxt = rest.find("\n## ")
        text = head + md + (rest[nxt:] if nxt >= 0 else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + md + "\n"
    benchmarks.write_text(text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--data", type=Path, default=REPO / "bench/.data/deap")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default bench/.data/run-N, wiped)")
    ap.add_argument("--peer-python", type=Path, default=REPO / ".venv-peers/bin/python")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    ap.add_argument("--record", action="store_true", help="write the table into BENCHMARKS.md")
    ap.add_argument("--from-results", type=Path, default=None, help="render this results.json instead of running")
    ap.add_argument("--noop-again", type=int, default=0, metavar="K",
                    help="with --from-results: measure both no-op rebuilds again, K times each, alternating, on the "
                         "run's work folder (for a change to eegavi's start-up after the run), and add them")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.peer_python.exists():
        raise SystemExit(f"{args.peer_python}: TorchEEG's venv is missing. Run `make bench-peers` first.")
    work = args.work or REPO / f"bench/.data/run-{args.subjects}"
    if args.from_results:  # re-render a finished run's table
        result = json.loads(args.from_results.read_text())
        if args.noop_again:
            data = args.data / f"subjects-{args.subjects}"
            result["noop_again"] = noop_again(Sides(data, args.from_results.parent, args.peer_python, args.workers),
                                              args.noop_again)
            args.from_results.write_text(json.dumps(result, indent=1))
    else:
        deap_synth.generate(args.data, args.subjects)
        data = args.data / f"subjects-{args.subjects}"
        _link_subjects(args.data, data, args.subjects)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        result = measure(Sides(data, work, args.peer_python, args.workers), args.seed)
        (work / "results.json").write_text(json.dumps(result, indent=1))
    md = (f"{SECTION}\n\n```\nmake bench-peers\npython -m bench.peer_torcheeg --subjects {args.subjects} "
          f"--record\n```\n\n{_setting(args)}\n\n{table(result)}\n\n{targets(result)}\n\n{READING}\n")
    print(md)
    if args.record:
        record(md, REPO / "BENCHMARKS.md")


def _setting(args: argparse.Namespace) -> str:
    return (f"{args.subjects} subjects x 40 trials of the preprocessed-DEAP layout (`bench/deap_synth.py`: "
            f"40 channels x 8,064 samples, float64, Python-2-style protocol-2 pickles), 1 s windows without overlap "
            f"after the 3 s baseline ({args.subjects * 40 * 60:,} windows), band DE of theta/alpha/beta/gamma on "
            f"the 32 EEG channels, {args.workers} local workers on each side (eegavi: threads of its Dask local cluster; TorchEEG: joblib processes), "
            f"on the 2 shared CPU cores of the development machine: absolute times are noisy, "
            f"ratios come from the same run.")


def _link_subjects(root: Path, folder: Path, n: int) -> None:
    """A dataset root with only the first ``n`` subjects (hard links), so both tools see the same files."""
    target = folder / "data_preprocessed_python"
    if target.exists():
        shutil.rmtree(folder)
    target.mkdir(parents=True)
    for s in range(1, n + 1):
        name = f"s{s:02d}.dat"
        (target / name).hardlink_to(root / "data_preprocessed_python" / name)


if __name__ == "__main__":
    main()
