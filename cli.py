"""eegavi command line: parse flags, build a frozen config, call one library function, print.

Stage one (`synth`, `manifest`, `extract`, `cache`) lives in `pipeline/`; stage two (`train`,
`eval`) in `fusion/`. Errors are one sentence and a non-zero exit (`--debug` shows tracebacks).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Optional

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(help="eegavi: cache frozen video/audio/ECG/EEG features once, train EEG fusion models on them.",
                  no_args_is_help=True, add_completion=False)
synth_app = typer.Typer(help="Generate the bundled synthetic demo dataset.", no_args_is_help=True)
manifest_app = typer.Typer(help="Check a manifest or build one from a dataset's own layout.", no_args_is_help=True)
extract_app = typer.Typer(help="Stage one: run frozen extractors once and write the feature cache.", no_args_is_help=True)
cache_app = typer.Typer(help="Inspect, verify and garbage-collect the feature cache.", no_args_is_help=True)
train_app = typer.Typer(help="Stage two: train fusion models on the cached features.", no_args_is_help=True)
app.add_typer(synth_app, name="synth")
app.add_typer(manifest_app, name="manifest")
app.add_typer(extract_app, name="extract")
app.add_typer(cache_app, name="cache")
app.add_typer(train_app, name="train")

console = Console(stderr=True)
out = Console()
STATE = {"debug": False}

ManifestOpt = typer.Option(Path("data_manifest.yaml"), "--manifest", "-m", help="Manifest YAML.")
CacheOpt = typer.Option(None, "--cache", help="Cache store (default: the manifest's 'cache', else cache.zarr beside it).")
JsonOpt = typer.Option(False, "--json", help="Print a machine-readable JSON summary.")
ConfigOpt = typer.Option(None, "--config", help="YAML with a section per extractor/trainer; flags override it.")
SetOpt = typer.Option(None, "--set", help="Override any config field: --set KEY=VALUE (repeatable).")
SchedulerOpt = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://HOST:PORT); 'sync' runs inline; default: a local cluster.")
WorkersOpt = typer.Option(2, "--workers", help="Workers of the local Dask cluster (threads; processes with --processes).")
ProcessesOpt = typer.Option(False, "--processes", help="Local Dask workers are processes (for GIL-bound extractors).")
RecordingsOpt = typer.Option(None, "--recording", help="Only these recording ids (repeatable).")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    STATE["debug"] = debug
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _fail(e: BaseException, code: int = 2) -> None:
    if STATE["debug"]:
        raise e
    msg = str(e).strip() or type(e).__name__
    console.print(f"[bold red]error:[/] {msg}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn: Callable[[], Any]) -> Any:
    """Run a command body; a PipelineError becomes one message and exit code 2."""
    from pipeline.errors import PipelineError

    try:
        return fn()
    except PipelineError as e:
        _fail(e)
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130)


def _load_manifest(path: Path, check_files: bool = True):
    from pipeline.manifest import load_manifest

    return load_manifest(path, check_files=check_files)


def _cache_location(manifest_path: Path, cache: Optional[str]) -> str:
    if cache:
        return cache
    try:
        return str(_load_manifest(manifest_path, check_files=False).cache)
    except Exception:
        return str(manifest_path.parent / "cache.zarr")


def _read_config_file(path: Optional[Path], section: str) -> dict[str, Any]:
    if path is None:
        return {}
    from pipeline.errors import ConfigError

    if not path.exists():
        raise ConfigError(f"{path}: config file not found. Fix --config.")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (eeg:, video:, train:, ...).")
    sec = data.get(section, {}) or {}
    if not isinstance(sec, dict):
        raise ConfigError(f"{path}: section '{section}' must be a mapping of config keys.")
    return sec


def _command_line() -> str:
    return "cli " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ------------------------------------------------------------------------------------ synth
@synth_app.command("demo")
def synth_demo(out_dir: Path = typer.Option(Path("data/demo"), "--out", help="Output folder."),
               subjects: int = typer.Option(6, help="Number of subjects."),
               trials: int = typer.Option(4, help="Trials per subject."),
               duration_s: float = typer.Option(20.0, "--duration-s", help="Seconds per trial."),
               seed: int = typer.Option(0, help="Random seed (same seed, same files).")) -> None:
    """Write the deterministic demo dataset (EDF, MP4, WAV) and its data_manifest.yaml."""
    def body() -> None:
        from pipeline.synth.demo import generate_demo

        t0 = time.perf_counter()
        with console.status(f"writing demo dataset to {out_dir} ..."):
            manifest = generate_demo(out_dir, subjects=subjects, trials=trials, duration_s=duration_s, seed=seed)
        out.print(f"demo dataset: {subjects} subjects x {trials} trials x {duration_s:g} s -> {manifest} "
                  f"({time.perf_counter() - t0:.1f} s)")
    _guard(body)


# ------------------------------------------------------------------------------------ manifest
@manifest_app.command("check")
def manifest_check(manifest: Path = ManifestOpt, as_json: bool = JsonOpt) -> None:
    """Validate a manifest and report every problem at once."""
    from pipeline.errors import ManifestError

    try:
        m = _load_manifest(manifest)
    except ManifestError as e:
        if as_json:
            out.print_json(json.dumps({"ok": False, "problems": e.problems}))
        else:
            console.print(f"[bold red]{e.source}: {len(e.problems)} problem(s)[/]")
            for p in e.problems:
                console.print(f"  - {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    kinds: dict[str, int] = {}
    for r in m.recordings:
        for s in r.streams.values():
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
    summary = {"ok": True, "recordings": len(m.recordings), "subjects": len(m.subjects()), "streams": kinds,
               "cache": str(m.cache)}
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        out.print(f"{manifest}: OK, {summary['recordings']} recordings, {summary['subjects']} subjects, streams {kinds}")


@manifest_app.command("from")
def manifest_from(dataset: str = typer.Argument(..., help="deap | dreamer | amigos | mahnob | bids"),
                  root: Path = typer.Argument(..., help="The dataset's root folder as downloaded."),
                  output: Path = typer.Option(Path("data_manifest.yaml"), "-o", "--output", help="Manifest to write."),
                  trial_type: Optional[list[str]] = typer.Option(None, "--trial-type", help="BIDS: event types that are trials (repeatable)."),
                  label_column: Optional[list[str]] = typer.Option(None, "--label-column", help="BIDS: events.tsv columns that are labels (repeatable)."),
                  label_scale: Optional[list[str]] = typer.Option(None, "--label-scale", help="BIDS: NAME=MIN:MAX[:THRESHOLD] (repeatable)."),
                  as_json: bool = JsonOpt) -> None:
    """Build a manifest from a public dataset's own layout."""
    def body() -> int:
        from pipeline.adapters import build_manifest

        options = _bids_options(trial_type, label_column, label_scale) if dataset == "bids" else {}
        report = build_manifest(dataset, root, output, **options)
        if as_json:
            out.print_json(json.dumps(report.to_dict()))
        else:
            out.print(f"wrote {output}: {report.recordings} recordings; {len(report.skipped)} skipped, "
                      f"{len(report.excluded)} excluded by the dataset's own documentation")
            for s in report.skipped:
                console.print(f"  - skipped: {s}", highlight=False, soft_wrap=True)
            for s in report.excluded:
                console.print(f"  - excluded: {s}", highlight=False, soft_wrap=True)
            for s in report.notes:
                console.print(f"  - note: {s}", highlight=False, soft_wrap=True)
        return 1 if report.skipped else 0
    code = _guard(body)
    if code:
        raise typer.Exit(code)


def _bids_options(trial_types: Optional[list[str]], label_columns: Optional[list[str]],
                  label_scales: Optional[list[str]]) -> dict[str, Any]:
    from pipeline.errors import ConfigError

    options: dict[str, Any] = {}
    if trial_types:
        options["trial_types"] = list(trial_types)
    if label_columns:
        options["label_columns"] = list(label_columns)
    scales: dict[str, dict[str, float]] = {}
    for item in label_scales or []:
        try:
            name, rng = item.split("=", 1)
            parts = [float(x) for x in rng.split(":")]
            scales[name] = {"min": parts[0], "max": parts[1], **({"threshold": parts[2]} if len(parts) > 2 else {})}
        except (ValueError, IndexError):
            raise ConfigError(f"--label-scale '{item}': expected NAME=MIN:MAX[:THRESHOLD], e.g. valence=1:9:5") from None
    if scales:
        options["label_scales"] = scales
    return options


# ------------------------------------------------------------------------------------ extract
def _run_extraction(name: str, manifest_path: Path, cache: Optional[str], config: Any, scheduler: Optional[str],
                    workers: int, recordings: Optional[list[str]], as_json: bool, processes: bool = False) -> int:
    from pipeline.run import RunOptions, extract

    # Structure errors stop everything; a missing file fails only its recording (failure log).
    m = _load_manifest(manifest_path, check_files=False)
    opts = RunOptions(cache=cache or str(m.cache), scheduler=scheduler, workers=workers, processes=processes,
                      recordings=tuple(recordings) if recordings else None, command=_command_line())
    columns = [TextColumn(f"[bold]{name}[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    t0 = time.perf_counter()
    with Progress(*columns, console=console, transient=False, disable=as_json) as bar:
        task = bar.add_task(name, total=None, rate="")

        def progress(done: int, total: int, res: dict) -> None:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:.2f} rec/s")
        summary = extract(m, name, config, opts, progress=progress)
    if as_json:
        out.print_json(json.dumps({k: v for k, v in summary.to_dict().items() if k != "failures"}
                                  | {"failures": [{k: v for k, v in f.items() if k != "traceback"} for f in summary.failures]}))
    else:
        out.print(f"{name}: {summary.done} extracted, {summary.skipped} cached, {summary.failed} failed "
                  f"in {summary.seconds:.1f} s -> {summary.group}")
        for f in summary.failures:
            console.print(f"  [red]failed[/] {f['recording']}/{f['stream']}: {f['message']}", highlight=False, soft_wrap=True)
        if summary.failure_log:
            console.print(f"  failure log: {summary.failure_log}")
    return 1 if summary.failed else 0


def _extract_command(name: str, section: str, manifest: Path, cache: Optional[str], config_file: Optional[Path],
                     flags: dict[str, Any], sets: Optional[list[str]], scheduler: Optional[str], workers: int,
                     recordings: Optional[list[str]], as_json: bool, processes: bool = False) -> None:
    def body() -> int:
        from pipeline.config_layers import layer_config, parse_set_options
        from pipeline.extractors.base import get_extractor

        cls = get_extractor(name)
        cfg = layer_config(cls.config_type, _read_config_file(config_file, section), flags, parse_set_options(sets))
        return _run_extraction(name, manifest, cache, cfg, scheduler, workers, recordings, as_json, processes)
    code = _guard(body)
    if code:
        raise typer.Exit(code)


@extract_app.command("eeg")
def extract_eeg(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                features: str = typer.Option("signal", "--features", help="signal: the preprocessed continuous EEG (stage two's input); bands: band differential entropy per window (extractor eeg-bands, TorchEEG's BandDifferentialEntropy)."),
                sfreq: Optional[float] = typer.Option(None, help="signal: target rate in Hz (default 128)."),
                l_freq: Optional[float] = typer.Option(None, "--l-freq", help="signal: high-pass edge in Hz (default 0.5)."),
                h_freq: Optional[float] = typer.Option(None, "--h-freq", help="signal: low-pass edge in Hz (default 45)."),
                notch: Optional[str] = typer.Option(None, help="signal: notch frequencies, comma-separated (default 50)."),
                reference: Optional[str] = typer.Option(None, help="signal: 'average', 'none' or a channel name."),
                nan_policy: Optional[str] = typer.Option(None, "--nan-policy", help="signal: interpolate | reject"),
                flat_policy: Optional[str] = typer.Option(None, "--flat-policy", help="signal: reject | keep"),
                min_duration_s: Optional[float] = typer.Option(None, "--min-duration-s", help="signal: shortest usable recording."),
                bands: Optional[str] = typer.Option(None, help="bands: NAME:LOW-HIGH,... in Hz (default theta:4-8,alpha:8-14,beta:14-31,gamma:31-49)."),
                window_s: Optional[float] = typer.Option(None, "--window-s", help="bands: window length, s (default 1)."),
                hop_s: Optional[float] = typer.Option(None, "--hop-s", help="bands: window hop, s (default 1: no overlap)."),
                order: Optional[int] = typer.Option(None, help="bands: Butterworth order (default 5)."),
                filter_: Optional[str] = typer.Option(None, "--filter", help="bands: window-lfilter (TorchEEG's) | trial-sosfiltfilt"),
                log: Optional[str] = typer.Option(None, help="bands: log2 (TorchEEG's) | ln"),
                config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> None:
    """Preprocess EEG with MNE (filter, notch, re-reference, resample), or band DE per window, into the cache."""
    signal = {"sfreq": sfreq, "l_freq": l_freq, "h_freq": h_freq, "notch_hz": notch, "reference": reference,
              "nan_policy": nan_policy, "flat_policy": flat_policy, "min_duration_s": min_duration_s}
    band = {"bands": bands, "window_s": window_s, "hop_s": hop_s, "order": order, "filter": filter_, "log": log}
    chosen = {"signal": ("eeg", signal, band), "bands": ("eeg-bands", band, signal)}.get(features)
    if chosen is None:
        _fail(ValueError(f"--features '{features}': choose signal or bands."))
    name, flags, other = chosen
    stray = [k for k, v in other.items() if v is not None]
    if stray:
        _fail(ValueError(f"option(s) {stray} do not apply to --features {features}; drop them or change --features."))
    _extract_command(name, name, manifest, cache, config, flags, set_, scheduler, workers, recording, as_json, processes)


@extract_app.command("ecg")
def extract_ecg(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                method: Optional[str] = typer.Option(None, help="NeuroKit2 R-peak method (default pantompkins1985)."),
                channel: Optional[str] = typer.Option(None, "--channel", help="Lead by name or 0-based index (default: first ECG channel)."),
                pre_s: Optional[float] = typer.Option(None, "--pre-s", help="Window start before the R peak, s (default 0.25)."),
                post_s: Optional[float] = typer.Option(None, "--post-s", help="Window end after the R peak, s (default 0.45)."),
                length: Optional[int] = typer.Option(None, "--length", help="Samples per beat window after resampling (default 128)."),
                min_hr_bpm: Optional[float] = typer.Option(None, "--min-hr-bpm", help="Slowest plausible heart rate."),
                max_hr_bpm: Optional[float] = typer.Option(None, "--max-hr-bpm", help="Fastest plausible heart rate."),
                config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> None:
    """Detect R-peaks (Pan-Tompkins) and cut heartbeat-centred windows into the cache."""
    flags = {"method": method, "channel": channel, "pre_s": pre_s, "post_s": post_s, "length": length,
             "min_hr_bpm": min_hr_bpm, "max_hr_bpm": max_hr_bpm}
    _extract_command("ecg", "ecg", manifest, cache, config, flags, set_, scheduler, workers, recording, as_json, processes)


@extract_app.command("audio")
def extract_audio(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                  extractor: str = typer.Option("audio", "--extractor", help="audio (built-in) | egemaps (needs opensmile)."),
                  hop_s: Optional[float] = typer.Option(None, "--hop-s", help="Frame hop in seconds (default 0.01)."),
                  sr: Optional[int] = typer.Option(None, "--sr", help="Analysis rate in Hz (default 16000)."),
                  f0_floor: Optional[float] = typer.Option(None, "--f0-floor", help="Lowest F0 in Hz (default 60)."),
                  f0_ceiling: Optional[float] = typer.Option(None, "--f0-ceiling", help="Highest F0 in Hz."),
                  voicing_threshold: Optional[float] = typer.Option(None, "--voicing-threshold", help="Praat voicing threshold."),
                  level: Optional[str] = typer.Option(None, "--level", help="frame (F, K) | segment (functionals)."),
                  segment_s: Optional[float] = typer.Option(None, "--segment-s", help="Segment length for --level segment."),
                  min_pause_s: Optional[float] = typer.Option(None, "--min-pause-s", help="Shortest pause in seconds."),
                  config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                  scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                  recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> None:
    """Compute paralinguistic frame features (pitch, energy, prosody) into the cache."""
    flags = {"hop_s": hop_s, "sr": sr, "f0_floor_hz": f0_floor, "f0_ceiling_hz": f0_ceiling,
             "voicing_threshold": voicing_threshold, "level": level, "segment_s": segment_s, "min_pause_s": min_pause_s}
    _extract_command(extractor, "audio", manifest, cache, config, flags, set_, scheduler, workers, recording, as_json, processes)


@extract_app.command("video")
def extract_video(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                  encoder: str = typer.Option("vivit", "--encoder", help="vivit | clip | timesformer"),
                  weights: Optional[str] = typer.Option(None, "--weights", help="Local path or hub id in the local HF cache."),
                  random_init: Optional[bool] = typer.Option(None, "--random-init/--pretrained", help="Random weights (demo, speed tests)."),
                  size: Optional[str] = typer.Option(None, "--size", help="With --random-init: tiny (default) | base."),
                  batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Clips per forward pass."),
                  device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N (default: cuda if present)."),
                  segment_s: Optional[float] = typer.Option(None, "--segment-s", help="Segment length in seconds (default 2)."),
                  frames: Optional[int] = typer.Option(None, "--frames", help="Frames sampled per segment (default: the encoder's)."),
                  keep_tokens: Optional[int] = typer.Option(None, "--keep-tokens", help="Keep K evenly spaced time tokens."),
                  project_dim: Optional[int] = typer.Option(None, "--project-dim", help="Fixed orthogonal projection to this width."),
                  min_coverage: Optional[float] = typer.Option(None, "--min-coverage", help="Keep a partial last segment covering at least this fraction."),
                  seed: Optional[int] = typer.Option(None, "--seed", help="Seed of random init and of the projection."),
                  precision: Optional[str] = typer.Option(None, "--precision", help="auto (fp16 on CUDA, fp32 on CPU) | fp32 | fp16 (CUDA) | bf16 (CUDA, or a CPU with AMX/AVX512-BF16)."),
                  prefetch: Optional[int] = typer.Option(None, "--prefetch", help="Batches decoded ahead of the model."),
                  config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                  scheduler: Optional[str] = SchedulerOpt, workers: int = typer.Option(1, "--workers", help="Local threads (the model is shared)."),
                  processes: bool = ProcessesOpt,
                  recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> None:
    """Encode face video with a frozen transformers encoder and compact its tokens into the cache."""
    flags = {"weights": weights, "random_init": random_init, "size": size, "batch_size": batch_size,
             "device": device, "segment_s": segment_s, "frames": frames, "keep_tokens": keep_tokens,
             "project_dim": project_dim, "min_coverage": min_coverage, "seed": seed, "precision": precision,
             "prefetch": prefetch}
    _extract_command(encoder, "video", manifest, cache, config, flags, set_, scheduler, workers, recording, as_json, processes)


@extract_app.command("all")
def extract_all(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                encoder: str = typer.Option("vivit", "--encoder", help="Video encoder."),
                random_init: bool = typer.Option(False, "--random-init", help="Random video weights (demo)."),
                config: Optional[Path] = ConfigOpt, scheduler: Optional[str] = SchedulerOpt,
                workers: int = WorkersOpt, processes: bool = ProcessesOpt, as_json: bool = JsonOpt) -> None:
    """Run every extractor whose modality the manifest has (eeg, ecg, audio, video)."""
    def body() -> int:
        from pipeline.config_layers import layer_config
        from pipeline.extractors.base import get_extractor

        m = _load_manifest(manifest, check_files=False)
        kinds = {s.kind for r in m.recordings for s in r.streams.values()}
        worst = 0
        for kind, name, flags in (("eeg", "eeg", {}), ("ecg", "ecg", {}), ("audio", "audio", {}),
                                  ("video", encoder, {"random_init": random_init or None})):
            if kind not in kinds:
                continue
            cfg = layer_config(get_extractor(name).config_type, _read_config_file(config, kind), flags)
            worst = max(worst, _run_extraction(name, manifest, cache, cfg, scheduler, workers, None, as_json, processes))
        return worst
    code = _guard(body)
    if code:
        raise typer.Exit(code)


# ------------------------------------------------------------------------------------ cache
def _expected_counts(manifest_path: Path) -> dict[str, int]:
    try:
        m = _load_manifest(manifest_path, check_files=False)
    except Exception:
        return {}
    counts: dict[str, int] = {}
    for r in m.recordings:
        for s in r.streams.values():
            counts[s.kind] = counts.get(s.kind, 0) + 1
    return counts


def _token_counts(describe: dict) -> dict | None:
    """Video token compaction recorded by the extractor: tokens and width per segment, before -> after."""
    if "tokens_before" not in describe:
        return None
    return {k: describe.get(k) for k in ("tokens_before", "tokens_after", "dim_before", "dim_after")}


@cache_app.command("ls")
def cache_ls(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """List cache groups: coverage, size, age, random-init flag, token compaction."""
    def body() -> None:
        from pipeline.cache import FeatureCache
        from pipeline.run import current_groups

        location = _cache_location(manifest, cache)
        fc = FeatureCache(location)
        expected = _expected_counts(manifest)
        current = {p for d in current_groups(fc).values() for p in d.values()}
        rows = []
        for g in fc.groups():
            done = len(fc.complete_entries(g.path))
            rows.append({"group": g.path, "modality": g.modality, "extractor": g.extractor, "fingerprint": g.fingerprint,
                         "config": g.identity.get("config"), "random_init": g.random_init,
                         "complete": done, "expected": expected.get(g.modality, g.attrs.get("expected", 0)),
                         "bytes": fc.size_bytes(g.path), "created": g.attrs.get("created"), "current": g.path in current,
                         "tokens": _token_counts(g.attrs.get("describe") or {})})
        if as_json:
            for r in rows:
                out.print(json.dumps(r), soft_wrap=True, highlight=False)
            return
        if not rows:
            out.print(f"{location}: empty (run `cli extract all`)")
            return
        table = Table(title=str(location))
        for col in ("group", "coverage", "size", "created", "current", "random", "tokens"):
            table.add_column(col, no_wrap=col in ("group", "created"))
        for r in rows:
            tok = r["tokens"]
            table.add_row(r["group"], f"{r['complete']}/{r['expected']}", f"{r['bytes'] / 1e6:.2f} MB", str(r["created"]),
                          "yes" if r["current"] else "no", "yes" if r["random_init"] else "no",
                          f"{tok['tokens_before']}x{tok['dim_before']} -> {tok['tokens_after']}x{tok['dim_after']}"
                          if tok else "")
        out.print(table)
    _guard(body)


@cache_app.command("verify")
def cache_verify(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """Re-read every complete entry and compare its stored checksums."""
    def body() -> int:
        from pipeline.cache import FeatureCache

        fc = FeatureCache(_cache_location(manifest, cache))
        report = {}
        for g in fc.groups():
            report[g.path] = {"entries": len(fc.complete_entries(g.path)), "problems": fc.verify(g.path)}
        bad = sum(len(v["problems"]) for v in report.values())
        if as_json:
            out.print_json(json.dumps({"ok": bad == 0, "groups": report}))
        else:
            for path, v in report.items():
                status = "[green]ok[/]" if not v["problems"] else f"[red]{len(v['problems'])} problem(s)[/]"
                out.print(f"{path}: {v['entries']} entries {status}")
                for p in v["problems"]:
                    console.print(f"  - {p}", highlight=False, soft_wrap=True)
        return 1 if bad else 0
    code = _guard(body)
    if code:
        raise typer.Exit(code)


@cache_app.command("gc")
def cache_gc(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
             dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
             as_json: bool = JsonOpt) -> None:
    """Remove groups that no current configuration uses (superseded by a later extraction)."""
    def body() -> None:
        from pipeline.cache import FeatureCache
        from pipeline.run import current_groups

        fc = FeatureCache(_cache_location(manifest, cache))
        keep = {p for d in current_groups(fc).values() for p in d.values()}
        doomed = [g for g in fc.groups() if g.path not in keep]
        freed = 0
        for g in doomed:
            freed += fc.size_bytes(g.path)
            if not dry_run:
                fc.remove_group(g.path)
        if as_json:
            out.print_json(json.dumps({"removed": [g.path for g in doomed], "dry_run": dry_run, "bytes": freed}))
        else:
            verb = "would remove" if dry_run else "removed"
            for g in doomed:
                out.print(f"{verb} {g.path}")
            out.print(f"{verb} {len(doomed)} group(s), {freed / 1e6:.2f} MB; kept {len(keep)}")
    _guard(body)


# ------------------------------------------------------------------------------------ train / eval
@train_app.command("fusion")
def train_fusion(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                 out: Path = typer.Option(Path("runs/fusion"), "--out", help="Run folder (config, metrics, checkpoints, plots)."),
                 fusion: Optional[str] = typer.Option(None, "--fusion", help="gated-xattn | late | prefix | eeg-only"),
                 modalities: Optional[str] = typer.Option(None, "--modalities", help="Stream names or kinds, e.g. eeg,video,audio,ecg."),
                 extractors: Optional[str] = typer.Option(None, "--extractors", help="Pin cache groups per kind, e.g. video:clip."),
                 teacher: Optional[str] = typer.Option(None, "--teacher", help="Distil the EEG embedding towards e.g. video:vivit."),
                 labels: Optional[str] = typer.Option(None, "--labels", help="Labels to predict, e.g. valence,arousal."),
                 task: Optional[str] = typer.Option(None, "--task", help="binary | regression"),
                 split: Optional[str] = typer.Option(None, "--split", help="loso | subject-kfold | trial"),
                 folds: Optional[int] = typer.Option(None, "--folds", help="k for subject-kfold / trial."),
                 max_folds: Optional[int] = typer.Option(None, "--max-folds", help="Run only the first N folds."),
                 epochs: Optional[int] = typer.Option(None, "--epochs"),
                 max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop each fold after N optimiser steps."),
                 seed: Optional[int] = typer.Option(None, "--seed"),
                 window_s: Optional[float] = typer.Option(None, "--window-s", help="Training window length, s (no cache rebuild)."),
                 hop_s: Optional[float] = typer.Option(None, "--hop-s", help="Window hop, s."),
                 batch_size: Optional[int] = typer.Option(None, "--batch-size"),
                 lr: Optional[float] = typer.Option(None, "--lr"),
                 grad_accum: Optional[int] = typer.Option(None, "--grad-accum"),
                 grad_checkpoint: Optional[bool] = typer.Option(None, "--grad-checkpoint/--no-grad-checkpoint"),
                 amp: Optional[str] = typer.Option(None, "--amp", help="auto | bf16 | fp16 | off"),
                 device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N"),
                 modality_dropout: Optional[float] = typer.Option(None, "--modality-dropout"),
                 ema_weight: Optional[float] = typer.Option(None, "--ema-weight", help="EMA self-distillation weight (0 = off; decay via --set ema_decay=...)."),
                 eeg_tokenizer: Optional[str] = typer.Option(None, "--eeg-tokenizer", help="conv | patch"),
                 checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints."),
                 vram_budget: Optional[float] = typer.Option(None, "--vram-budget", help="Before training, measure the first steps' peak memory (CUDA allocator, or tensor accounting on CPU) and refuse if over this many GB."),
                 resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where it stopped."),
                 config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                 as_json: bool = JsonOpt) -> None:
    """Train the EEG branch + gated cross-attention fusion on cached features (no encoder is loaded)."""
    def body() -> None:
        from fusion.train_config import TrainConfig
        from pipeline.config_layers import layer_config, parse_set_options

        flags = {"manifest_path": str(manifest), "out_dir": str(out), "cache_path": cache, "fusion": fusion,
                 "modalities": modalities, "extractors": extractors, "teacher": teacher, "labels": labels,
                 "task": task, "split": split, "folds": folds, "max_folds": max_folds, "epochs": epochs,
                 "max_steps": max_steps, "seed": seed, "window_s": window_s, "hop_s": hop_s,
                 "batch_size": batch_size, "lr": lr, "grad_accum": grad_accum, "grad_checkpoint": grad_checkpoint,
                 "amp": amp, "device": device, "modality_dropout": modality_dropout, "ema_weight": ema_weight, "eeg_tokenizer": eeg_tokenizer,
                 "checkpoint_every": checkpoint_every, "vram_budget_gb": vram_budget, "resume": resume or None}
        cfg = layer_config(TrainConfig, _read_config_file(config, "train"), flags, parse_set_options(set_))
        from fusion.distributed import DistributedContext
        from fusion.train import train

        ctx = DistributedContext.from_env(os.environ)  # torchrun sets RANK/WORLD_SIZE/LOCAL_RANK
        status = console.status(f"training {cfg.fusion} on {', '.join(cfg.modalities)} ({cfg.split}) ...")
        with status if ctx.is_main else nullcontext():
            summary = train(cfg, ctx)
        if not ctx.is_main:  # rank 0 prints the summary
            return
        if as_json:
            out_console_json({k: v for k, v in summary.items() if k != "table"})
            return
        console_out_summary(summary)
    _guard(body)


@app.command("eval")
def eval_run(run: Path = typer.Argument(..., help="A run folder or one checkpoint (.pt)."),
             device: str = typer.Option("auto", "--device"), as_json: bool = JsonOpt) -> None:
    """Report test metrics of a trained run per subject and overall, mean ± std over folds."""
    def body() -> None:
        from fusion.evaluate import evaluate

        result = evaluate(run, device=device)
        if as_json:
            out_console_json(result)
        else:
            console_out_summary(result)
    _guard(body)


def out_console_json(data: dict) -> None:
    out.print(json.dumps(data, default=float), soft_wrap=True, highlight=False)


def console_out_summary(summary: dict) -> None:
    """The short table printed at the end of training and by `cli eval`."""
    from fusion.metrics import format_table

    table = summary.get("table") or format_table(summary.get("summary", {}))
    out.print(f"run: {summary.get('run_dir', '')}  device: {summary.get('device', '')}  "
              f"peak memory: {summary.get('peak_memory_gb', float('nan')):.2f} GB ({summary.get('peak_memory_kind', '')})")
    if "probe_peak_gb" in summary:
        out.print(f"first training steps (--vram-budget probe): {summary['probe_peak_gb']:.3f} GB "
                  f"({summary['probe_peak_kind']})")
    out.print("test metrics, mean ± std over folds:")
    out.print(table, highlight=False, soft_wrap=True)


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point; tests call ``main([...])``."""
    app(args=argv, prog_name="cli")


if __name__ == "__main__":
    main()
